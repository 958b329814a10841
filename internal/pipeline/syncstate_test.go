package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

func TestSyncStateSaveAll(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	s := pipeline.NewSyncState(db, "default/p/sync")
	a := spec.Key{Kind: "Namespace", Project: "default", Name: "a"}
	b := spec.Key{Kind: "Namespace", Project: "default", Name: "b"}
	c := spec.Key{Kind: "Namespace", Project: "default", Name: "c"}
	if err := s.Save(ctx, c, reconcile.State{Path: "c.yaml", GitHash: "1", SystemHash: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAll(ctx, []pipeline.StateChange{
		{Key: a, State: reconcile.State{Path: "a.yaml", GitHash: "2", SystemHash: "2"}},
		{Key: b, State: reconcile.State{Path: "b.yaml", GitHash: "3", SystemHash: "3"}},
		{Key: c, Remove: true},
		{Key: b, State: reconcile.State{Path: "b.yaml", GitHash: "4", SystemHash: "4"}}, // the last one counts
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[spec.Key]reconcile.State{
		a: {Path: "a.yaml", GitHash: "2", SystemHash: "2"},
		b: {Path: "b.yaml", GitHash: "4", SystemHash: "4"},
	}
	if len(got) != len(want) || got[a] != want[a] || got[b] != want[b] {
		t.Fatalf("state after SaveAll: %v, want %v", got, want)
	}
	if err := s.SaveAll(ctx, nil); err != nil {
		t.Fatalf("nothing to save: %v", err)
	}

	// Many keys take several statements; the stage's other keys stay.
	var many []pipeline.StateChange
	for i := range 450 {
		k := spec.Key{Kind: "Cluster", Project: "default", Name: fmt.Sprintf("c%03d", i)}
		many = append(many, pipeline.StateChange{Key: k, State: reconcile.State{Path: k.Name + ".yaml", GitHash: "g", SystemHash: "s"}})
	}
	if err := s.SaveAll(ctx, many); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Load(ctx); err != nil || len(got) != 452 || got[many[449].Key] != many[449].State || got[a] != want[a] {
		t.Fatalf("after saving 450 more keys: %d keys, %v", len(got), err)
	}
}
