package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// logs is a logger's output, for counting lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count is how many lines hold s.
func (l *logs) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// hits is an HTTP server that counts its requests and answers them with
// next (nil: 500, a remote that fails).
type hits struct {
	*httptest.Server
	n    atomic.Int64
	next atomic.Pointer[http.Handler]
	mu   sync.Mutex
	at   []time.Time // when each request came
}

func newHits(t *testing.T) *hits {
	h := &hits{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.at = append(h.at, time.Now())
		h.mu.Unlock()
		h.n.Add(1)
		if next := h.next.Load(); next != nil {
			(*next).ServeHTTP(w, r)
			return
		}
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hits) serve(next http.Handler) { h.next.Store(&next) }

// times is when the requests came.
func (h *hits) times() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.at...)
}

// strictRunner gives e's runner a Manager outside local mode that allows
// only the prefixes allow.
func strictRunner(t *testing.T, e *env, allow ...string) {
	t.Helper()
	p, err := gitrepo.NewPolicy("https://github.com/", allow)
	if err != nil {
		t.Fatal(err)
	}
	m := gitrepo.NewManager(filepath.Join(t.TempDir(), "git"), e.runner.Log, p)
	t.Cleanup(func() { _ = m.Close() })
	e.runner.Git = m
}

// A polled stage whose remote the boundary refuses is never fetched: its
// first poll records one Failed run with the refusal, logged once; the
// polls after it add neither. Back on an allowed remote it syncs, and a
// refused one again is one more Failed run.
func TestRefusedSourceFailsOneRunPerChangeOfState(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	allowed := e.work.Run("remote", "get-url", "origin")
	refused := newHits(t)
	refusedURL := refused.URL + "/specs.git"
	strictRunner(t, e, allowed)
	var out logs
	e.poller.Log, e.poller.Interval = out.logger(), time.Millisecond
	if _, err := e.sys.Apply(ctx, repository("specs", refusedURL)); err != nil {
		t.Fatal(err)
	}
	const notAllowed = "polled stage's remote is not allowed"
	tries := func() int { return out.count(`msg="poll stage failed"`) }
	for tries() < 4 {
		if err := e.poller.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	want := "remote " + refusedURL + " is not allowed: add it to remotes.allow"
	if len(runs) != 1 || runs[0].Status != pipeline.StatusFailed || runs[0].Message != want || runs[0].Trigger != pipeline.TriggerWebhook {
		t.Fatalf("after %d refused polls, runs %+v; want one Failed run saying %q", tries(), runs, want)
	}
	if n := out.count(notAllowed); n != 1 {
		t.Fatalf("%q logged %d times over %d polls, want once", notAllowed, n, tries())
	}
	if n := refused.n.Load(); n != 0 {
		t.Fatalf("the refused remote received %d requests", n)
	}

	// An allowed remote: it syncs.
	if _, err := e.sys.Apply(ctx, repository("specs", allowed)); err != nil {
		t.Fatal(err)
	}
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "a"); err != nil {
		t.Fatalf("a not applied from the allowed remote: %v", err)
	}
	// Refused again: one more Failed run.
	if _, err := e.sys.Apply(ctx, repository("specs", refusedURL)); err != nil {
		t.Fatal(err)
	}
	for start := tries(); tries() < start+3; {
		if err := e.poller.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runs, _ = e.runner.Runs.List(ctx, "default/system-sync", 10)
	failed := 0
	for _, r := range runs {
		if r.Status == pipeline.StatusFailed && r.Message == want {
			failed++
		}
	}
	if failed != 2 || out.count(notAllowed) != 2 {
		t.Fatalf("refused twice: %d Failed runs, %d log lines; want 2 of each (runs %+v)", failed, out.count(notAllowed), runs)
	}
}

// A polled stage whose remote fails backs off: with a 10ms interval its
// tries come 20, 40, 80, 160 ms apart, not every 10ms; it is logged once
// when it starts failing and once when it recovers, and once it works
// again it is polled every interval.
func TestFailingRemoteBacksOffAndLogsChangesOnly(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	root := filepath.Dir(e.bareDir)
	remote := newHits(t)
	if _, err := e.sys.Apply(ctx, repository("specs", remote.URL+"/specs.git")); err != nil {
		t.Fatal(err)
	}
	var out logs
	e.poller.Log, e.poller.Interval = out.logger(), 10*time.Millisecond
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.poller.Run(pctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "five tries", func() bool { return remote.n.Load() >= 5 })
	at := remote.times()
	for i, least := range []time.Duration{20, 40, 80, 160} {
		if gap := at[i+1].Sub(at[i]); gap < least*time.Millisecond {
			t.Fatalf("try %d came %v after the one before; with back-off, at least %vms", i+2, gap, least)
		}
	}
	const fails, recovered = "polled stage fails", "polled stage recovered"
	if n := out.count(fails); n != 1 {
		t.Fatalf("%q logged %d times over %d tries, want once", fails, n, remote.n.Load())
	}

	// It answers again: applied, logged once.
	remote.serve(gittest.Handler(t, root))
	waitFor(t, "the recovered remote's commit applied", func() bool {
		_, err := e.sys.Get(ctx, "Namespace", "default", "a")
		return err == nil
	})
	waitFor(t, "the recovery logged", func() bool { return out.count(recovered) == 1 })
	// Polled every interval again: many requests in a short time.
	before := remote.n.Load()
	waitFor(t, "polls at the interval", func() bool { return remote.n.Load() >= before+10 })
	if n := out.count(fails); n != 1 || out.count(recovered) != 1 {
		t.Fatalf("logged %d failures and %d recoveries, want 1 and 1", n, out.count(recovered))
	}
}

// An export to a destination the boundary refuses keeps its changes, and
// fails one run (Internally Triggered, with the refusal), logged once,
// however often it is retried; the refused host receives nothing.
func TestRefusedDestinationFailsOneRunAndKeepsItsChanges(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"README.md": "x\n"}).Commit("init")
	e.work.Push("main")
	strictRunner(t, e, e.work.Run("remote", "get-url", "origin"))
	refused := newHits(t)
	refusedURL := refused.URL + "/mirror.git"
	mirror := syncPipeline("mirror", "")
	mirror["metadata"].(map[string]any)["name"] = "mirror-sync"
	stage := mirror["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)["config"].(map[string]any)
	stage["gitToSystemSync"] = false
	for _, obj := range []map[string]any{repository("mirror", refusedURL), mirror} {
		if _, err := e.sys.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	var out logs
	f := &pipeline.Follower{Runner: e.runner, Window: 50 * time.Millisecond, Retry: 20 * time.Millisecond, Log: out.logger()}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(fctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// It exports the changes made after it first read the event log.
	waitFor(t, "the follower's start", func() bool {
		pos, err := e.runner.DB.Position(ctx, "follow:events")
		return err == nil && pos != ""
	})

	before := gittest.Git(t, e.bareDir, "rev-parse", "main")
	if _, err := userClient(t, c, "alice@example.com").Apply(ctx, nsObj("b", "dev")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the allowed stage's commit", func() bool { return gittest.Git(t, e.bareDir, "rev-parse", "main") != before })
	waitFor(t, "three retries of the refused export", func() bool { return out.count(`msg="export failed again`) >= 3 })
	runs, _ := e.runner.Runs.List(ctx, "default/mirror-sync", 10)
	want := "remote " + refusedURL + " is not allowed: add it to remotes.allow"
	if len(runs) != 1 || runs[0].Status != pipeline.StatusFailed || runs[0].Message != want || runs[0].Trigger != pipeline.TriggerInternal {
		t.Fatalf("runs of the refused export %+v; want one Failed run saying %q", runs, want)
	}
	if n := out.count("export's remote is not allowed"); n != 1 {
		t.Fatalf("the refusal logged %d times, want once", n)
	}
	if n := refused.n.Load(); n != 0 {
		t.Fatalf("the refused remote received %d requests", n)
	}
	if pending, err := e.runner.DB.Position(ctx, "follow:pending:default/mirror-sync/sync"); err != nil || !strings.Contains(pending, `"b"`) {
		t.Fatalf("the refused stage's changes are not kept: %q, %v", pending, err)
	}
}
