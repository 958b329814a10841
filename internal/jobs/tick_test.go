package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// ticks records the ticks every replica handled.
type ticks struct {
	mu   sync.Mutex
	seen map[time.Time][]string // tick → the replicas that handled it
}

// replica is one process's Ticker.
type replica struct {
	name string
	all  *ticks
}

func (r replica) Tick(_ context.Context, at time.Time) error {
	r.all.mu.Lock()
	defer r.all.mu.Unlock()
	r.all.seen[at] = append(r.all.seen[at], r.name)
	return nil
}

// snapshot returns how many ticks were handled, and the first one handled
// more than once ("" when none was).
func (tk *ticks) snapshot() (int, string) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	for at, by := range tk.seen {
		if len(by) > 1 {
			return len(tk.seen), fmt.Sprintf("tick %s handled by %v", at.Format(time.RFC3339Nano), by)
		}
	}
	return len(tk.seen), ""
}

func (tk *ticks) waitMore(t *testing.T, n int, within time.Duration) {
	t.Helper()
	start, _ := tk.snapshot()
	deadline := time.Now().Add(within)
	for {
		got, dup := tk.snapshot()
		if dup != "" {
			t.Fatal(dup)
		}
		if got >= start+n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ticks handled in %v, want %d more than %d", got, within, n, start)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startReplica(t *testing.T, db *store.DB, name string, all *ticks) *jobs.Queue {
	t.Helper()
	ctx := context.Background()
	q, err := jobs.Open(ctx, db, nil, quiet(), jobs.Options{PollInterval: 20 * time.Millisecond, Cron: replica{name, all}, Tick: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return q
}

// Two replicas on one database (PostgreSQL in CI) handle each tick once:
// only River's leader inserts ticks, each tick is a unique job, and when
// the leader stops the other takes over. Each replica is stopped in turn
// while the other goes on, so leadership changes hands at least once.
func TestTwoReplicasHandleEachTickOnce(t *testing.T) {
	ctx := context.Background()
	dbs := storetest.OpenProcesses(t, 3)
	all := &ticks{seen: map[time.Time][]string{}}
	a := startReplica(t, dbs[0], "a", all)
	b := startReplica(t, dbs[1], "b", all)
	all.waitMore(t, 4, 30*time.Second)

	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	all.waitMore(t, 3, 60*time.Second)
	a2 := startReplica(t, dbs[2], "a2", all)
	defer a2.Stop(ctx)
	all.waitMore(t, 2, 30*time.Second)
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	all.waitMore(t, 3, 60*time.Second)

	// The ticks are the seconds they stand for.
	all.mu.Lock()
	defer all.mu.Unlock()
	for at := range all.seen {
		if !at.Equal(at.Truncate(time.Second)) || at.Location() != time.UTC {
			t.Errorf("tick %s is not a whole second in UTC", at.Format(time.RFC3339Nano))
		}
	}
}

// A tick is one job, whoever inserts it: a second insert of the same tick,
// as from a replica that believes it still leads, adds nothing.
func TestATickIsStoredOnce(t *testing.T) {
	ctx := context.Background()
	all := &ticks{seen: map[time.Time][]string{}}
	db := openDB(t, storetest.URL(t))
	q, err := jobs.Open(ctx, db, nil, quiet(), jobs.Options{Cron: replica{"a", all}, Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	at := time.Date(2025, 3, 4, 10, 17, 0, 0, time.UTC)
	for i, want := range []bool{false, true} {
		dup, err := q.EnqueueTick(ctx, at)
		if err != nil || dup != want {
			t.Fatalf("insert %d of the tick: duplicate %v (%v), want %v", i+1, dup, err, want)
		}
	}
	if dup, err := q.EnqueueTick(ctx, at.Add(time.Minute)); err != nil || dup {
		t.Fatalf("the next tick: duplicate %v (%v)", dup, err)
	}
}
