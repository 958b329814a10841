package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// failingChange passes its checks, then hands back a statement the
// database refuses.
type failingChange struct{ k spec.Key }

func (f failingChange) key() spec.Key            { return f.k }
func (f failingChange) readsKey(k spec.Key) bool { return k == f.k }
func (f failingChange) read() store.Stmt {
	return store.Stmt{Query: `SELECT 1`, Scan: func(r store.Row) error { var one int; return r.Scan(&one) }}
}
func (f failingChange) decide(int64, time.Time) ([]store.Stmt, error) {
	return []store.Stmt{{Query: `INSERT INTO no_such_table (x) VALUES (1)`}}, nil
}

func namespace(name string) (spec.Key, map[string]any) {
	return spec.Key{Kind: "Namespace", Project: "p", Name: name}, map[string]any{
		"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "project": "p"},
	}
}

// A write whose statement fails once its checks have passed takes its
// batch's transaction down: the others must still be made, each with
// consecutive revisions, and only it fails.
func TestFailingStatementDoesNotUndoItsBatch(t *testing.T) {
	ctx := context.Background()
	s := NewStore(storetest.Open(t))
	if _, _, err := s.Apply(ctx, spec.Key{Kind: "Project", Name: "p"}, map[string]any{
		"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"},
	}, "u", ""); err != nil {
		t.Fatal(err)
	}
	var batch []*write
	var applies []*applyChange
	for i := range 5 {
		if i == 2 {
			batch = append(batch, &write{change: failingChange{k: spec.Key{Kind: "Namespace", Project: "p", Name: "bad"}}})
			continue
		}
		k, obj := namespace(fmt.Sprintf("ns-%d", i))
		body, err := appendJSON(nil, obj)
		if err != nil {
			t.Fatal(err)
		}
		a := &applyChange{k: k, obj: obj, body: string(body), user: "u"}
		applies = append(applies, a)
		batch = append(batch, &write{change: a})
	}
	if !s.commitBatch(ctx, batch) {
		t.Fatal("the batch changed nothing")
	}
	for i, w := range batch {
		if i == 2 {
			if w.err == nil || errors.Is(w.err, errUnchanged) {
				t.Errorf("the failing write got %v", w.err)
			}
		} else if w.err != nil {
			t.Errorf("write %d: %v", i, w.err)
		}
	}
	evs, err := s.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 { // the project and 4 namespaces
		t.Fatalf("%d events, want 5: %+v", len(evs), evs)
	}
	for i, e := range evs {
		if e.Revision != int64(i+1) {
			t.Fatalf("event %d has revision %d", i, e.Revision)
		}
	}
	for _, a := range applies {
		got, err := s.Get(ctx, a.k)
		if err != nil {
			t.Fatal(err)
		}
		if a.outcome != Created || got.ResourceVersion != a.result.ResourceVersion {
			t.Errorf("%s: outcome %s, stored version %d, answered %d", a.k, a.outcome, got.ResourceVersion, a.result.ResourceVersion)
		}
	}
	if head, _ := s.Head(ctx); head != 5 {
		t.Fatalf("head %d, want 5", head)
	}
	// The counter gave back nothing it should not have: the next write takes 6.
	k, obj := namespace("after")
	st, _, err := s.Apply(ctx, k, obj, "u", "")
	if err != nil || st.ResourceVersion != 6 {
		t.Fatalf("next apply: version %d, %v", st.ResourceVersion, err)
	}
}

// Writes that depend on each other in one batch read what the earlier ones
// wrote: a project then a namespace in it, an update after a create, a
// delete of what was just created, a project deleted once emptied.
func TestDependentWritesInOneBatch(t *testing.T) {
	ctx := context.Background()
	s := NewStore(storetest.Open(t))
	project := map[string]any{"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"}}
	pk := spec.Key{Kind: "Project", Name: "p"}
	k, obj := namespace("a")
	obj2 := map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": "a", "project": "p", "description": "second"}}
	apply := func(k spec.Key, obj map[string]any) *applyChange {
		body, err := appendJSON(nil, obj)
		if err != nil {
			t.Fatal(err)
		}
		return &applyChange{k: k, obj: obj, body: string(body), user: "u"}
	}
	changes := []change{
		apply(pk, project),
		apply(k, obj),
		apply(k, obj2),
		apply(k, obj2), // unchanged
		&deleteChange{k: pk, user: "u"},
		&deleteChange{k: k, user: "u"},
		&deleteChange{k: k, user: "u"},
		&deleteChange{k: pk, user: "u"},
	}
	var batch []*write
	for _, c := range changes {
		batch = append(batch, &write{change: c})
	}
	s.commitBatch(ctx, batch)
	want := []string{"", "", "", "unchanged", "409", "", "404", ""}
	for i, w := range batch {
		got := ""
		var apiErr *Error
		switch {
		case errors.Is(w.err, errUnchanged):
			got = "unchanged"
		case errors.As(w.err, &apiErr):
			got = fmt.Sprint(apiErr.Code)
		case w.err != nil:
			got = w.err.Error()
		}
		if got != want[i] {
			t.Errorf("write %d: %q, want %q", i, got, want[i])
		}
	}
	if a := changes[2].(*applyChange); a.outcome != Updated || a.result.ResourceVersion != 3 {
		t.Errorf("update: %s at %d", a.outcome, a.result.ResourceVersion)
	}
	evs, err := s.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, e := range evs {
		types = append(types, e.Type+" "+e.Kind)
		if e.Revision != int64(i+1) {
			t.Errorf("event %d has revision %d", i, e.Revision)
		}
	}
	if fmt.Sprint(types) != "[Create Project Create Namespace Update Namespace Delete Namespace Delete Project]" {
		t.Errorf("events %v", types)
	}
	if head, _ := s.Head(ctx); head != 5 {
		t.Errorf("head %d, want 5", head)
	}
}

// An apply equal to what is stored is unchanged whether its bytes are the
// same (no decoding needed) or only its meaning is (an empty labels map).
func TestUnchangedByBytesAndByMeaning(t *testing.T) {
	ctx := context.Background()
	s := NewStore(storetest.Open(t))
	if _, _, err := s.Apply(ctx, spec.Key{Kind: "Project", Name: "p"}, map[string]any{
		"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"},
	}, "u", ""); err != nil {
		t.Fatal(err)
	}
	k, obj := namespace("a")
	first, out, err := s.Apply(ctx, k, obj, "u", "")
	if err != nil || out != Created {
		t.Fatalf("create: %s %v", out, err)
	}
	same, out, err := s.Apply(ctx, k, obj, "u", "")
	if err != nil || out != Unchanged || same.ResourceVersion != first.ResourceVersion || !same.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("same bytes: %s %v, version %d (was %d)", out, err, same.ResourceVersion, first.ResourceVersion)
	}
	_, withLabels := namespace("a")
	withLabels["metadata"].(map[string]any)["labels"] = map[string]any{}
	alike, out, err := s.Apply(ctx, k, withLabels, "u", "")
	if err != nil || out != Unchanged || alike.ResourceVersion != first.ResourceVersion {
		t.Fatalf("same meaning: %s %v, version %d (was %d)", out, err, alike.ResourceVersion, first.ResourceVersion)
	}
	if head, _ := s.Head(ctx); head != 2 {
		t.Fatalf("head %d, want 2: an unchanged apply recorded an event", head)
	}
}
