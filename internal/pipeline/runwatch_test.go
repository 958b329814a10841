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

// A run's rows are read a page at a time, in order, with their count;
// the newest run about a resource is found with its row.
func TestRunPagesAndLastRunOfAResource(t *testing.T) {
	ctx := context.Background()
	runs := pipeline.NewRuns(storetest.Open(t))
	var started []int64
	sctx := pipeline.WithRunStarted(ctx, func(id int64) { started = append(started, id) })
	changed := runs.Changed()
	first, err := runs.Start(sctx, "default/p", pipeline.TriggerManual, "abc", []byte(`{"manual":true}`))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Start did not tell the watchers")
	}
	if len(started) != 1 || started[0] != first {
		t.Fatalf("WithRunStarted was told %v, want [%d]", started, first)
	}
	var rows []pipeline.Row
	for i := range 250 {
		rows = append(rows, pipeline.Row{Kind: "Namespace", Project: "default", Name: fmt.Sprintf("ns-%03d", i), Action: "update", Outcome: "applied"})
	}
	changed = runs.Changed()
	if err := runs.Finish(ctx, first, pipeline.StatusSuccess, "", "", rows); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Finish did not tell the watchers")
	}
	run, total, err := runs.Page(ctx, first, 200, 100)
	if err != nil {
		t.Fatal(err)
	}
	if total != 250 || len(run.Rows) != 50 || run.Rows[0].Name != "ns-200" || run.Rows[49].Name != "ns-249" || string(run.Payload) != `{"manual":true}` {
		t.Fatalf("page from 200: total %d, %d rows (%+v … ), payload %s", total, len(run.Rows), run.Rows[0], run.Payload)
	}
	if run, total, err := runs.Page(ctx, first, 300, 100); err != nil || total != 250 || len(run.Rows) != 0 {
		t.Fatalf("page past the end: %v rows, total %d, %v", run, total, err)
	}
	second, err := runs.Start(ctx, "default/p", pipeline.TriggerInternal, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := runs.Finish(ctx, second, pipeline.StatusFailed, "", "", []pipeline.Row{{Kind: "Namespace", Project: "default", Name: "ns-007", Action: "update", Outcome: "failed", Message: "boom"}}); err != nil {
		t.Fatal(err)
	}
	k := spec.Key{Kind: "Namespace", Project: "default", Name: "ns-007"}
	last, row, err := runs.LastFor(ctx, k)
	if err != nil || last == nil || last.ID != second || row.Message != "boom" || last.Status != pipeline.StatusFailed {
		t.Fatalf("LastFor(ns-007) = %+v, %+v, %v; want run %d failed", last, row, err, second)
	}
	last, _, err = runs.LastFor(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "ns-008"})
	if err != nil || last == nil || last.ID != first {
		t.Fatalf("LastFor(ns-008) = %+v, %v; want run %d", last, err, first)
	}
	if last, row, err := runs.LastFor(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "never"}); err != nil || last != nil || row != nil {
		t.Fatalf("LastFor(never) = %+v, %+v, %v; want none", last, row, err)
	}
}

// SyncState.Get tells a key's file and when it was synced.
func TestSyncStateGet(t *testing.T) {
	ctx := context.Background()
	st := pipeline.NewSyncState(storetest.Open(t), "default/p/s")
	k := spec.Key{Kind: "Namespace", Project: "default", Name: "a"}
	if _, ok, err := st.Get(ctx, k); err != nil || ok {
		t.Fatalf("Get before a sync: %v, %v", ok, err)
	}
	if err := st.Save(ctx, k, reconcile.State{Path: "projects/default/namespaces/a.yaml", GitHash: "g", SystemHash: "s"}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.Get(ctx, k)
	if err != nil || !ok || got.Path != "projects/default/namespaces/a.yaml" || got.At.IsZero() {
		t.Fatalf("Get after a sync: %+v, %v, %v", got, ok, err)
	}
}
