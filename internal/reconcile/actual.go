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
	objs   map[spec.Key]*SystemObject
}

// SystemObject is one of the system's objects as a Snapshot keeps it: its
// content hash, and the object. A listed object is kept as the text the
// controller sent (a fraction of its size, and nothing for the garbage
// collector to scan) and decoded when first asked for: a plan reads only
// the objects of the keys that changed. It is safe for concurrent use.
type SystemObject struct {
	hash   string
	listed controllerapi.Listed
	once   sync.Once
	obj    map[string]any
}

// newSystemObject keeps obj, decoded.
func newSystemObject(obj map[string]any) *SystemObject {
	return &SystemObject{hash: Hash(obj), obj: obj}
}

// Hash returns the object's content hash (see Hash).
func (o *SystemObject) Hash() string { return o.hash }

// Object returns the object. Callers share it: it must not be changed.
func (o *SystemObject) Object() map[string]any {
	o.once.Do(func() {
		if o.obj != nil {
			return
		}
		obj, err := o.listed.Object()
		if err != nil || obj == nil {
			obj = map[string]any{} // not reached: the same text was read when it was listed
		}
		o.obj, o.listed = obj, controllerapi.Listed{}
	})
	return o.obj
}

// refetchLimit is how many changed keys are fetched one by one before a
// full list is cheaper.
const refetchLimit = 500

// NewSnapshot returns an empty snapshot; its first use lists everything.
func NewSnapshot() *Snapshot { return &Snapshot{} }

// Objects returns the system's objects in scope, brought up to date
// through the event log.
func (s *Snapshot) Objects(ctx context.Context, sys System, ev Events, scope Scope) (map[spec.Key]*SystemObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(ctx, sys, ev); err != nil {
		return nil, err
	}
	out := make(map[spec.Key]*SystemObject, len(s.objs))
	for k, o := range s.objs {
		if scope.Owns(k) {
			out[k] = o
		}
	}
	return out, nil
}

// Actual is Objects, decoded: the system's objects in scope and their
// hashes.
func (s *Snapshot) Actual(ctx context.Context, sys System, ev Events, scope Scope) (map[spec.Key]map[string]any, map[spec.Key]string, error) {
	objs, err := s.Objects(ctx, sys, ev, scope)
	if err != nil {
		return nil, nil, err
	}
	actual := make(map[spec.Key]map[string]any, len(objs))
	hashes := make(map[spec.Key]string, len(objs))
	for k, o := range objs {
		actual[k], hashes[k] = o.Object(), o.Hash()
	}
	return actual, hashes, nil
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
		s.objs[k] = newSystemObject(obj)
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
	objs, err := listSystem(ctx, sys, Scope{}, true)
	if err != nil {
		return err
	}
	s.objs = objs
	s.rev, s.loaded = head.Revision, true
	return nil
}
