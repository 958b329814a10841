package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/spec"
)

// Events is a controller's event log; controllerapi.Client is one.
type Events interface {
	Events(ctx context.Context, since int64, wait time.Duration) (*controllerapi.EventList, error)
	Get(ctx context.Context, kind, project, name string) (map[string]any, error)
}

// Snapshot keeps the system's objects and their content hashes between
// runs, so that a plan does not list the whole controller and re-hash
// every object each time: after one full list it follows the event log
// and fetches only the keys that changed. It is safe for concurrent use.
type Snapshot struct {
	mu     sync.Mutex
	loaded bool
	rev    int64
	objs   map[spec.Key]snapshotEntry
}

type snapshotEntry struct {
	obj  map[string]any
	hash string
}

// refetchLimit is how many changed keys are fetched one by one before a
// full list is cheaper.
const refetchLimit = 500

// NewSnapshot returns an empty snapshot; its first use lists everything.
func NewSnapshot() *Snapshot { return &Snapshot{} }

// Actual returns the system's objects in scope and their hashes, brought
// up to date through the event log.
func (s *Snapshot) Actual(ctx context.Context, sys System, ev Events, scope Scope) (map[spec.Key]map[string]any, map[spec.Key]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(ctx, sys, ev); err != nil {
		return nil, nil, err
	}
	objs := make(map[spec.Key]map[string]any, len(s.objs))
	hashes := make(map[spec.Key]string, len(s.objs))
	for k, e := range s.objs {
		if scope.Owns(k) {
			objs[k] = e.obj
			hashes[k] = e.hash
		}
	}
	return objs, hashes, nil
}

func (s *Snapshot) refresh(ctx context.Context, sys System, ev Events) error {
	if !s.loaded {
		return s.reload(ctx, sys, ev)
	}
	changed := map[spec.Key]string{} // key → last event type
	rev := s.rev
	for {
		list, err := ev.Events(ctx, rev, 0)
		if err != nil {
			return fmt.Errorf("follow the event log: %w", err)
		}
		for _, e := range list.Items {
			changed[spec.Key{Kind: e.Kind, Project: e.Project, Name: e.Name}] = e.Type
			rev = e.Revision
		}
		if len(list.Items) == 0 || rev >= list.Revision {
			break
		}
		if len(changed) > refetchLimit {
			return s.reload(ctx, sys, ev)
		}
	}
	for k, typ := range changed {
		if typ == "Delete" {
			delete(s.objs, k)
			continue
		}
		obj, err := ev.Get(ctx, k.Kind, k.Project, k.Name)
		if controllerapi.IsNotFound(err) {
			delete(s.objs, k)
			continue
		}
		if err != nil {
			return fmt.Errorf("refresh %s: %w", k, err)
		}
		s.objs[k] = snapshotEntry{obj: obj, hash: Hash(obj)}
	}
	s.rev = rev
	return nil
}

// reload lists everything. The log position is read first, so a change
// made during the list is fetched again next time rather than missed.
func (s *Snapshot) reload(ctx context.Context, sys System, ev Events) error {
	head, err := ev.Events(ctx, 1<<62, 0)
	if err != nil {
		return fmt.Errorf("read the event log head: %w", err)
	}
	all, err := LoadActual(ctx, sys, Scope{})
	if err != nil {
		return err
	}
	s.objs = make(map[spec.Key]snapshotEntry, len(all))
	for k, obj := range all {
		s.objs[k] = snapshotEntry{obj: obj, hash: Hash(obj)}
	}
	s.rev, s.loaded = head.Revision, true
	return nil
}
