package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/metrics/metricstest"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

type recorder struct {
	mu       sync.Mutex
	calls    map[string]int
	failOnce map[string]bool
	done     chan string
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, failOnce: map[string]bool{}, done: make(chan string, 100)}
}

func (r *recorder) Work(_ context.Context, args jobs.EventArgs) error {
	delivery := args.DeliveryID
	r.mu.Lock()
	r.calls[delivery]++
	fail := r.failOnce[delivery] && r.calls[delivery] == 1
	r.mu.Unlock()
	if fail {
		return errors.New("transient failure")
	}
	var job bytes.Buffer // PostgreSQL keeps the job as jsonb, which respaces it
	if err := json.Compact(&job, args.Job); err != nil {
		return err
	}
	r.done <- delivery + ":" + args.Event + ":" + job.String()
	return nil
}

// openDB opens the database at url as a process of the bot would.
func openDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitFor(t *testing.T, r *recorder, want string, within time.Duration) {
	t.Helper()
	select {
	case got := <-r.done:
		if got != want {
			t.Fatalf("handled %q, want %q", got, want)
		}
	case <-time.After(within):
		t.Fatalf("%q not handled within %v", want, within)
	}
}

func TestDeliveriesAreDurableAndDeduplicated(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	rec := newRecorder()

	// Stored while no worker runs, as when the bot dies right after the 202.
	q, err := jobs.Open(ctx, openDB(t, url), rec, quiet(), jobs.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	args := jobs.EventArgs{DeliveryID: "d-1", Event: "push", Job: []byte(`{"ref":"refs/heads/main"}`)}
	if dup, err := q.Enqueue(ctx, args); err != nil || dup {
		t.Fatalf("first enqueue: dup %v err %v", dup, err)
	}
	if dup, err := q.Enqueue(ctx, args); err != nil || !dup {
		t.Fatalf("second enqueue of the same delivery: dup %v err %v", dup, err)
	}
	q.Close()

	// A new process picks it up.
	q, err = jobs.Open(ctx, openDB(t, url), rec, quiet(), jobs.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	waitFor(t, rec, `d-1:push:{"ref":"refs/heads/main"}`, 10*time.Second)

	// Redelivered after it ran: still once.
	if dup, err := q.Enqueue(ctx, args); err != nil || !dup {
		t.Fatalf("enqueue after completion: dup %v err %v", dup, err)
	}
	time.Sleep(200 * time.Millisecond)
	rec.mu.Lock()
	n := rec.calls["d-1"]
	rec.mu.Unlock()
	if n != 1 {
		t.Fatalf("delivery handled %d times", n)
	}
}

func TestFailedJobIsRetried(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	rec.failOnce["d-2"] = true
	q, err := jobs.Open(ctx, openDB(t, storetest.URL(t)), rec, quiet(), jobs.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	if _, err := q.Enqueue(ctx, jobs.EventArgs{DeliveryID: "d-2", Event: "pull_request", Job: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rec, "d-2:pull_request:{}", 15*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.calls["d-2"] != 2 {
		t.Fatalf("handled %d times, want a failure then a success", rec.calls["d-2"])
	}
}

type permanent struct {
	mu    sync.Mutex
	calls int
}

func (p *permanent) Work(context.Context, jobs.EventArgs) error {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	return fmt.Errorf("decode push: %w: bad payload", jobs.ErrPermanent)
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	ctx := context.Background()
	h := &permanent{}
	db := openDB(t, storetest.URL(t))
	q, err := jobs.Open(ctx, db, h, quiet(), jobs.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	if _, err := q.Enqueue(ctx, jobs.EventArgs{DeliveryID: "bad", Event: "push", Job: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// River's own record says it: cancelled (a final state) after one attempt.
	var state string
	var attempt int
	deadline := time.Now().Add(10 * time.Second)
	for state != "cancelled" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if err := db.QueryRow(ctx, `SELECT state, attempt FROM river_job`).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
	}
	if state != "cancelled" || attempt != 1 {
		t.Fatalf("job %s after %d attempt(s), want cancelled after 1", state, attempt)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls != 1 {
		t.Fatalf("worked %d times, want 1", h.calls)
	}
}

// TestJobMetrics works a job that fails once then succeeds and one that
// fails for good, and reads what the metrics say of them.
func TestJobMetrics(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	rec.failOnce["d-m"] = true
	m := metrics.New()
	q, err := jobs.Open(ctx, openDB(t, storetest.URL(t)), handlers{"d-m": rec, "bad": &permanent{}}, quiet(),
		jobs.Options{PollInterval: 20 * time.Millisecond, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	for _, id := range []string{"d-m", "bad"} {
		if _, err := q.Enqueue(ctx, jobs.EventArgs{DeliveryID: id, Event: "push", Job: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, rec, "d-m:push:{}", 15*time.Second)
	wantJobs := map[string]float64{metrics.JobRetry: 1, metrics.JobSuccess: 1, metrics.JobCancelled: 1}
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := metricstest.Gather(t, m.Registry())
		ok := true
		for outcome, n := range wantJobs {
			labels := map[string]string{"kind": "github_event", "outcome": outcome}
			got, _ := f.Value("systemsync_jobs_total", labels)
			timed, _ := f.Value("systemsync_job_duration_seconds", labels)
			ok = ok && got == n && timed == n
		}
		if ok {
			if _, extra := f.Value("systemsync_jobs_total", map[string]string{"kind": "github_event", "outcome": metrics.JobDiscarded}); extra {
				t.Fatal("a job was counted as discarded")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job metrics never reached %v: %v", wantJobs, f["systemsync_jobs_total"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// handlers sends each delivery to its own handler.
type handlers map[string]jobs.Handler

func (h handlers) Work(ctx context.Context, args jobs.EventArgs) error {
	return h[args.DeliveryID].Work(ctx, args)
}
