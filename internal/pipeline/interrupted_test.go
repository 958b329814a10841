package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/metrics/metricstest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// replica is one process of the bot on a shared database: its process row
// and the run store that records its runs as its own.
type replica struct {
	proc *store.Process
	runs *pipeline.Runs
}

func startReplica(t *testing.T, db *store.DB, lockDir string, heartbeat time.Duration, m *metrics.Metrics) replica {
	t.Helper()
	p, err := db.StartProcess(context.Background(), lockDir, heartbeat)
	if err != nil {
		t.Fatal(err)
	}
	runs := pipeline.NewRuns(db)
	runs.Owner, runs.Metrics = p.ID, m
	return replica{proc: p, runs: runs}
}

func statusOf(t *testing.T, runs *pipeline.Runs, id int64) *pipeline.Run {
	t.Helper()
	run, err := runs.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// TestReplicasFailOnlyTheRunsOfGoneProcesses runs three processes on one
// database: A is alive and keeps its lease; D started a run and died
// (its lease is never renewed); B starts afterwards. B must fail D's run
// once D's lease is over, never A's, which A then finishes as usual.
func TestReplicasFailOnlyTheRunsOfGoneProcesses(t *testing.T) {
	ctx := context.Background()
	dbs := storetest.OpenProcesses(t, 3)
	const beat = time.Second // a lease of 3 s: A stays live with a 2 s margin

	a := startReplica(t, dbs[0], t.TempDir(), beat, nil)
	actx, stopA := context.WithCancel(ctx)
	defer stopA()
	go a.proc.Run(actx, nil, func(err error) { t.Errorf("A's heartbeat: %v", err) })
	aRun, err := a.runs.Start(ctx, "default/a", pipeline.TriggerWebhook, "abc", nil)
	if err != nil {
		t.Fatal(err)
	}

	d := startReplica(t, dbs[1], t.TempDir(), beat, nil)
	dRun, err := d.runs.Start(ctx, "default/d", pipeline.TriggerInternal, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// D dies here: it never beats again.

	m := metrics.New()
	b := startReplica(t, dbs[2], t.TempDir(), beat, m)
	if n, err := b.runs.FailInterrupted(ctx); err != nil || n != 0 {
		t.Fatalf("B's start-up sweep failed %d runs (err %v) while every owner's lease was fresh", n, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for statusOf(t, b.runs, dRun).Status == pipeline.StatusInProgress {
		if time.Now().After(deadline) {
			t.Fatal("the dead process's run was still In Progress 15 s after its lease began")
		}
		time.Sleep(100 * time.Millisecond)
		if err := b.proc.Beat(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.runs.FailInterrupted(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := statusOf(t, b.runs, dRun)
	if got.Status != pipeline.StatusFailed || got.Message != pipeline.InterruptedMessage || got.EndedAt == nil {
		t.Fatalf("dead process's run: %s %q ended %v, want Failed %q", got.Status, got.Message, got.EndedAt, pipeline.InterruptedMessage)
	}
	if got := statusOf(t, b.runs, aRun); got.Status != pipeline.StatusInProgress {
		t.Fatalf("the live replica's run became %s %q", got.Status, got.Message)
	}
	if err := a.runs.Finish(ctx, aRun, pipeline.StatusSuccess, "abc", "", nil); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t, b.runs, aRun); got.Status != pipeline.StatusSuccess {
		t.Fatalf("the live replica's run finished as %s", got.Status)
	}
	f := metricstest.Gather(t, m.Registry())
	if n, _ := f.Value("systemsync_runs_total", map[string]string{"trigger": pipeline.TriggerInternal, "status": pipeline.StatusFailed}); n != 1 {
		t.Fatalf("interrupted runs counted %v, want 1", n)
	}
	// A gives its lease back on a graceful stop: no one waits for it.
	stopA()
	if err := a.proc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRunsCountedWhenTheyEnd checks runs_total by trigger and status.
func TestRunsCountedWhenTheyEnd(t *testing.T) {
	ctx := context.Background()
	m := metrics.New()
	runs := pipeline.NewRuns(storetest.Open(t))
	runs.Metrics = m
	for _, status := range []string{pipeline.StatusSuccess, pipeline.StatusSuccess, pipeline.StatusPartial} {
		id, err := runs.Start(ctx, "default/p", pipeline.TriggerManual, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := runs.Finish(ctx, id, status, "", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	f := metricstest.Gather(t, m.Registry())
	for status, want := range map[string]float64{pipeline.StatusSuccess: 2, pipeline.StatusPartial: 1} {
		if n, _ := f.Value("systemsync_runs_total", map[string]string{"trigger": pipeline.TriggerManual, "status": status}); n != want {
			t.Errorf("runs_total{%s} = %v, want %v", status, n, want)
		}
	}
}

// TestCrashedProcessIsKnownAtOnceByItsLock starts a real process (this
// test binary) that records a run and is killed with SIGKILL; the process
// that starts after it on the same folder finds the lock free and fails
// the run at once, without waiting for the lease (an hour here).
func TestCrashedProcessIsKnownAtOnceByItsLock(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashingProcess$")
	cmd.Env = append(os.Environ(), "CRASHING_PROCESS_DB="+url, "CRASHING_PROCESS_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var runID int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "run %d in progress", &runID); err == nil {
			break
		}
		t.Log("helper: " + sc.Text())
	}
	if runID == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the helper process did not start its run")
	}

	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// While it lives, a process starting on the same folder neither gets its
	// lock nor fails its run.
	live := startReplica(t, db, dir, time.Hour, nil)
	if live.proc.Previous != "" {
		t.Fatalf("took the lock of a live process (previous %s)", live.proc.Previous)
	}
	if n, err := live.runs.FailInterrupted(ctx); err != nil || n != 0 {
		t.Fatalf("failed %d runs (err %v) of a live process", n, err)
	}
	if err := live.proc.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	next := startReplica(t, db, dir, time.Hour, nil)
	defer next.proc.Stop(ctx)
	if next.proc.Previous == "" {
		t.Fatal("the lock of the killed process was not taken over")
	}
	if n, err := next.runs.FailInterrupted(ctx); err != nil || n != 1 {
		t.Fatalf("failed %d runs (err %v), want the killed process's one", n, err)
	}
	if got := statusOf(t, next.runs, runID); got.Status != pipeline.StatusFailed || got.Message != pipeline.InterruptedMessage {
		t.Fatalf("killed process's run: %s %q", got.Status, got.Message)
	}
}

// TestHelperCrashingProcess is the process TestCrashedProcessIsKnownAtOnceByItsLock
// kills: it records a run with an hour's lease and waits.
func TestHelperCrashingProcess(t *testing.T) {
	url := os.Getenv("CRASHING_PROCESS_DB")
	if url == "" {
		return // run only as the helper
	}
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := startReplica(t, db, os.Getenv("CRASHING_PROCESS_DIR"), time.Hour, nil)
	id, err := r.runs.Start(ctx, "default/crash", pipeline.TriggerWebhook, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("run " + strconv.FormatInt(id, 10) + " in progress")
	select {} // until killed
}
