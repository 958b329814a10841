package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// writePaths returns the ways a store can make its writes on db: in two
// rounds (read, decide in Go, write), and on PostgreSQL also as checked
// statements, one round trip a batch. Each test runs on both.
func writePaths(db *store.DB) map[string]bool {
	paths := map[string]bool{"two rounds": false}
	if db.Dialect == store.Postgres {
		paths["checked statements"] = true
	}
	return paths
}

func outcomeOf(err error) string {
	var apiErr *Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, errUnchanged):
		return "unchanged"
	case errors.As(err, &apiErr):
		return fmt.Sprint(apiErr.Code)
	}
	return err.Error()
}

// Every outcome of an apply and of a delete, one write at a time (the
// batch of one a single client makes): what is answered, what is stored,
// and that refused and unchanged writes leave no event and no revision
// behind, so revisions stay consecutive.
func TestSingleWriteOutcomes(t *testing.T) {
	ctx := context.Background()
	for path, checked := range writePaths(storetest.Open(t)) {
		t.Run(path, func(t *testing.T) {
			s := NewStore(storetest.Open(t))
			s.checkedWrites = checked
			project := map[string]any{"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"}}
			pk := spec.Key{Kind: "Project", Name: "p"}
			k, obj := namespace("a")
			_, obj2 := namespace("a")
			obj2["spec"] = map[string]any{"v": int64(2)}
			type step struct {
				what    string
				do      func() (Stored, Outcome, error)
				want    string // outcome, or error code
				version int64  // resourceVersion answered (0: not checked)
			}
			apply := func(k spec.Key, o map[string]any, expect string) func() (Stored, Outcome, error) {
				return func() (Stored, Outcome, error) { return s.Apply(ctx, k, o, "u", expect) }
			}
			del := func(k spec.Key) func() (Stored, Outcome, error) {
				return func() (Stored, Outcome, error) { return Stored{}, "deleted", s.Delete(ctx, k, "u") }
			}
			steps := []step{
				{"namespace in a missing project", apply(k, obj, ""), "404", 0},
				{"stale version of a missing resource", apply(pk, project, "7"), "409", 0},
				{"create project", apply(pk, project, ""), "created", 1},
				{"create namespace", apply(k, obj, ""), "created", 2},
				{"same again", apply(k, obj, ""), "unchanged", 2},
				{"same with its version", apply(k, obj, "2"), "unchanged", 2},
				{"update with a stale version", apply(k, obj2, "1"), "409", 0},
				{"update with a version that is no number", apply(k, obj2, "two"), "409", 0},
				{"update with the current version", apply(k, obj2, "2"), "updated", 3},
				{"update back, no version", apply(k, obj, ""), "updated", 4},
				{"delete a project that holds a namespace", del(pk), "409", 0},
				{"delete a missing namespace", del(spec.Key{Kind: "Namespace", Project: "p", Name: "nope"}), "404", 0},
				{"delete the namespace", del(k), "deleted", 0},
				{"delete it again", del(k), "404", 0},
				{"create it anew", apply(k, obj2, ""), "created", 6},
			}
			for _, st := range steps {
				got, out, err := st.do()
				res := string(out)
				if err != nil {
					res = outcomeOf(err)
				}
				if res != st.want {
					t.Fatalf("%s: %s, want %s", st.what, res, st.want)
				}
				if st.version != 0 && got.ResourceVersion != st.version {
					t.Fatalf("%s: resourceVersion %d, want %d", st.what, got.ResourceVersion, st.version)
				}
			}
			stored, err := s.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if stored.ResourceVersion != 6 || !spec.Equal(stored.Object, obj2) {
				t.Fatalf("stored %d %v", stored.ResourceVersion, stored.Object)
			}
			evs, err := s.Events(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for i, e := range evs {
				types = append(types, e.Type)
				if e.Revision != int64(i+1) {
					t.Fatalf("event %d has revision %d", i, e.Revision)
				}
			}
			if fmt.Sprint(types) != "[Create Create Update Update Delete Create]" {
				t.Fatalf("events %v", types)
			}
			// The counter holds what the log holds: the next write takes 7.
			_, out, err := s.Apply(ctx, spec.Key{Kind: "Namespace", Project: "p", Name: "b"}, map[string]any{
				"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace", "metadata": map[string]any{"name": "b", "project": "p"},
			}, "u", "")
			if head, _ := s.Head(ctx); err != nil || out != Created || head != 7 {
				t.Fatalf("next apply: %s %v, head %d", out, err, head)
			}
		})
	}
}

// Objects equal in meaning are stored as the same bytes, so an apply that
// differs from the stored object only in form is unchanged on every path,
// whichever form came first.
func TestUnchangedInMeaningOnEveryPath(t *testing.T) {
	ctx := context.Background()
	forms := []func(map[string]any){
		func(map[string]any) {},
		func(o map[string]any) { o["metadata"].(map[string]any)["labels"] = map[string]any{} },
		func(o map[string]any) { o["metadata"].(map[string]any)["annotations"] = nil },
		func(o map[string]any) { o["metadata"].(map[string]any)["resourceVersion"] = "12" },
		func(o map[string]any) { o["status"] = map[string]any{"phase": "Ready"} },
		func(o map[string]any) { o["spec"].(map[string]any)["replicas"] = float64(2) },
		func(o map[string]any) { o["spec"].(map[string]any)["ratio"] = 0.5 },
	}
	base := func() map[string]any {
		_, o := namespace("a")
		o["spec"] = map[string]any{"replicas": int64(2), "ratio": 0.5}
		return o
	}
	for path, checked := range writePaths(storetest.Open(t)) {
		t.Run(path, func(t *testing.T) {
			s := NewStore(storetest.Open(t))
			s.checkedWrites = checked
			if _, _, err := s.Apply(ctx, spec.Key{Kind: "Project", Name: "p"}, map[string]any{
				"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"},
			}, "u", ""); err != nil {
				t.Fatal(err)
			}
			for i, first := range forms {
				k, _ := namespace(fmt.Sprintf("a%d", i))
				o := base()
				o["metadata"].(map[string]any)["name"] = k.Name
				first(o)
				if _, out, err := s.Apply(ctx, k, o, "u", ""); err != nil || out != Created {
					t.Fatalf("form %d: %s %v", i, out, err)
				}
				for j, again := range forms {
					o := base()
					o["metadata"].(map[string]any)["name"] = k.Name
					again(o)
					if _, out, err := s.Apply(ctx, k, o, "u", ""); err != nil || out != Unchanged {
						t.Fatalf("form %d over form %d: %s %v", j, i, out, err)
					}
				}
			}
			if head, _ := s.Head(ctx); head != int64(1+len(forms)) {
				t.Fatalf("head %d, want %d: an unchanged apply recorded an event", head, 1+len(forms))
			}
		})
	}
}

// Two processes write the same resources at once, on PostgreSQL one with
// checked statements and one in two rounds. Both take the writers' lock
// first, so each reads what the other committed: no write fails (a create
// the other made first would fail on the primary key), and the log holds
// one event per change, with consecutive revisions.
func TestCheckedAndTwoRoundWritersShareResources(t *testing.T) {
	ctx := context.Background()
	var stores []*Store
	for i, db := range storetest.OpenProcesses(t, 2) {
		s := NewStore(db)
		s.checkedWrites = i == 0 && db.Dialect == store.Postgres
		stores = append(stores, s)
	}
	if _, _, err := stores[0].Apply(ctx, spec.Key{Kind: "Project", Name: "p"}, map[string]any{
		"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"},
	}, "u", ""); err != nil {
		t.Fatal(err)
	}
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	var mu sync.Mutex
	changes := 1 // the project
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					k, o := namespace(fmt.Sprintf("ns-%d", i%5))
					o["spec"] = map[string]any{"v": int64((i + w + si) % 3)}
					var err error
					var out Outcome
					if i%7 == 6 {
						err = s.Delete(ctx, k, "u")
						if outcomeOf(err) == "404" {
							err = nil
						} else if err == nil {
							out = "deleted"
						}
					} else {
						_, out, err = s.Apply(ctx, k, o, "u", "")
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if out != Unchanged && out != "" {
						changes++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	evs, err := stores[1].Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != changes {
		t.Fatalf("%d events for %d changes", len(evs), changes)
	}
	for i, e := range evs {
		if e.Revision != int64(i+1) {
			t.Fatalf("event %d has revision %d", i, e.Revision)
		}
	}
}

// A checked statement the database refuses (here a name PostgreSQL's text
// cannot hold) takes its batch's transaction down: the others are then
// made one by one, with consecutive revisions, and only it fails. (SQLite
// has no checked statements; TestFailingStatementDoesNotUndoItsBatch covers
// its path.)
func TestFailingCheckedStatementDoesNotUndoItsBatch(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	if db.Dialect != store.Postgres {
		t.Log("no checked statements on SQLite")
		return
	}
	s := NewStore(db)
	if _, _, err := s.Apply(ctx, spec.Key{Kind: "Project", Name: "p"}, map[string]any{
		"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"},
	}, "u", ""); err != nil {
		t.Fatal(err)
	}
	var batch []*write
	for i := range 5 {
		name := fmt.Sprintf("ns-%d", i)
		if i == 2 {
			name = "bad\x00name"
		}
		k, obj := namespace(name)
		body, err := appendJSON(nil, obj)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &write{change: &applyChange{k: k, obj: obj, body: string(body), user: "u"}})
	}
	if !s.commitBatch(ctx, batch) {
		t.Fatal("the batch changed nothing")
	}
	for i, w := range batch {
		if (w.err != nil) != (i == 2) || errors.Is(w.err, errUnchanged) {
			t.Errorf("write %d: %v", i, w.err)
		}
	}
	evs, err := s.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	for i, e := range evs {
		if e.Revision != int64(i+1) {
			t.Fatalf("event %d has revision %d", i, e.Revision)
		}
	}
}
