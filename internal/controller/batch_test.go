package controller_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestConcurrentWritesKeepTheirOwnOutcomes runs creates, updates,
// unchanged applies, refused applies and deletes at once: batched into
// shared transactions, each must still get its own outcome, and the event
// log must hold exactly one event per change, in revision order.
func TestConcurrentWritesKeepTheirOwnOutcomes(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	st := c.Store
	nsObj := func(project, name, v string) (spec.Key, map[string]any) {
		return spec.Key{Kind: "Namespace", Project: project, Name: name}, map[string]any{
			"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
			"metadata": map[string]any{"name": name, "project": project},
			"spec":     map[string]any{"v": v},
		}
	}
	for i := 0; i < 12; i++ {
		k, o := nsObj("default", fmt.Sprintf("old-%d", i), "1")
		if _, _, err := st.Apply(ctx, k, o, "u", ""); err != nil {
			t.Fatal(err)
		}
	}
	head0, _ := st.Head(ctx)
	type result struct {
		what    string
		outcome controller.Outcome
		err     error
	}
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	run := func(what string, f func() (controller.Outcome, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := f()
			mu.Lock()
			results = append(results, result{what, o, err})
			mu.Unlock()
		}()
	}
	for i := 0; i < 8; i++ {
		run("create", func() (controller.Outcome, error) {
			k, o := nsObj("default", fmt.Sprintf("new-%d", i), "1")
			_, out, err := st.Apply(ctx, k, o, "u", "")
			return out, err
		})
		run("unchanged", func() (controller.Outcome, error) {
			k, o := nsObj("default", fmt.Sprintf("old-%d", 8+i%4), "1")
			_, out, err := st.Apply(ctx, k, o, "u", "")
			return out, err
		})
		run("refused", func() (controller.Outcome, error) {
			k, o := nsObj("missing-project", fmt.Sprintf("x-%d", i), "1")
			_, out, err := st.Apply(ctx, k, o, "u", "")
			return out, err
		})
		if i < 4 {
			run("update", func() (controller.Outcome, error) {
				k, o := nsObj("default", fmt.Sprintf("old-%d", i), "2")
				_, out, err := st.Apply(ctx, k, o, "u", "")
				return out, err
			})
		} else {
			run("delete", func() (controller.Outcome, error) {
				return "deleted", st.Delete(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: fmt.Sprintf("old-%d", i)}, "u")
			})
		}
	}
	wg.Wait()
	for _, r := range results {
		switch r.what {
		case "create":
			if r.err != nil || r.outcome != controller.Created {
				t.Errorf("create: %v %v", r.outcome, r.err)
			}
		case "update":
			if r.err != nil || r.outcome != controller.Updated {
				t.Errorf("update: %v %v", r.outcome, r.err)
			}
		case "unchanged":
			if r.err != nil || r.outcome != controller.Unchanged {
				t.Errorf("unchanged: %v %v", r.outcome, r.err)
			}
		case "refused":
			if e, ok := r.err.(*controller.Error); !ok || e.Code != 404 {
				t.Errorf("apply to a missing project: %v", r.err)
			}
		case "delete":
			if r.err != nil {
				t.Errorf("delete: %v", r.err)
			}
		}
	}
	evs, err := st.Events(ctx, head0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, r := range results {
		if r.err == nil && r.outcome != controller.Unchanged {
			changes++
		}
	}
	if len(evs) != changes {
		t.Fatalf("%d events for %d changes", len(evs), changes)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Revision != evs[i-1].Revision+1 {
			t.Fatalf("revisions not consecutive: %d then %d", evs[i-1].Revision, evs[i].Revision)
		}
	}
	list, total, _ := st.List(ctx, "Namespace", "default", 100, 0)
	if total != 16 || len(list) != 16 { // 8 new + 12 old - 4 deleted
		t.Fatalf("%d namespaces, want 16", total)
	}
}

// TestTwoProcessesCommitRevisionsInOrder runs two stores on one database,
// as two bot processes would, writing at once while a follower reads the
// event log: the follower must see revisions one after another with no
// gap (a gap would be a lower revision committing after a higher one, which
// a follower that moved on would miss), and every write must get its event.
func TestTwoProcessesCommitRevisionsInOrder(t *testing.T) {
	ctx := context.Background()
	var stores []*controller.Store
	for _, db := range storetest.OpenProcesses(t, 2) {
		stores = append(stores, controller.NewStore(db))
	}
	if _, _, err := stores[0].Apply(ctx, spec.Key{Kind: "Project", Name: "p"}, map[string]any{
		"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"},
	}, "u", ""); err != nil {
		t.Fatal(err)
	}
	perWriter := 40
	if testing.Short() {
		perWriter = 15
	}
	const writersPerStore = 4
	total := 1 + 2*writersPerStore*perWriter
	followErr := make(chan error, 1)
	go func() {
		var since int64
		for since < int64(total) {
			evs, err := stores[1].Events(ctx, since, 1000)
			if err != nil {
				followErr <- err
				return
			}
			for _, e := range evs {
				if e.Revision != since+1 {
					followErr <- fmt.Errorf("after revision %d the log showed %d", since, e.Revision)
					return
				}
				since = e.Revision
			}
		}
		followErr <- nil
	}()
	var wg sync.WaitGroup
	for si, st := range stores {
		for w := 0; w < writersPerStore; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					name := fmt.Sprintf("s%d-w%d-%d", si, w, i)
					if _, _, err := st.Apply(ctx, spec.Key{Kind: "Namespace", Project: "p", Name: name}, map[string]any{
						"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
						"metadata": map[string]any{"name": name, "project": "p"},
					}, "u", ""); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if err := <-followErr; err != nil {
		t.Fatal(err)
	}
	if head, _ := stores[0].Head(ctx); head != int64(total) {
		t.Fatalf("head %d, want %d", head, total)
	}
}
