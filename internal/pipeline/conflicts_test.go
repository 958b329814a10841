package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// An open conflict is the resource's until it ends: a later run carries it
// over (an unchanged row; the run's status is its own), and when Git comes
// to hold the system's version it ends by itself, its branch deleted.
func TestOpenConflictIsCarriedUntilBothSidesAgree(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"projects/default/namespaces/x.yaml": ns("default", "x", "v1")}).Commit("x")
	e.work.Push("main")
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	e.work.Run("pull", "-q", "origin", "main")
	e.work.Write(map[string]string{"projects/default/namespaces/x.yaml": ns("default", "x", "from-git")}).Commit("git side")
	e.work.Push("main")
	runFollower(t, e)
	waitFor(t, "the follower's start", func() bool { p, _ := e.runner.DB.Position(ctx, "follow:events"); return p != "" })
	if _, err := userClient(t, c, "alice@example.com").Apply(ctx, nsObj("x", "from-console")); err != nil {
		t.Fatal(err)
	}
	var conflictRun *pipeline.Run
	waitFor(t, "the conflict's run", func() bool {
		runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
		for _, r := range runs {
			if run, _ := e.runner.Runs.Get(ctx, r.ID); run != nil && len(run.Conflicts) == 1 {
				conflictRun = run
				return true
			}
		}
		return false
	})
	branch := conflictRun.Conflicts[0].Branch
	if branch != pipeline.ConflictBranch(conflictRun.ID) || conflictRun.Conflicts[0].Resolution != nil {
		t.Fatalf("the conflict: %+v", conflictRun.Conflicts[0])
	}

	// Another resource is pushed: that run is a Success, x's conflict an
	// unchanged row of it, and no second branch is made.
	e.work.Write(map[string]string{"projects/default/namespaces/y.yaml": ns("default", "y", "dev")}).Commit("y")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 1)
	run, _ := e.runner.Runs.Get(ctx, runs[0].ID)
	var rows []string
	for _, r := range run.Rows {
		rows = append(rows, r.Name+":"+r.Action+":"+r.Outcome)
	}
	if run.Status != pipeline.StatusSuccess || strings.Join(rows, ",") != "y:create:applied,x:conflict:unchanged" {
		t.Fatalf("the run after the conflict: %s %v", run.Status, rows)
	}
	if len(run.Conflicts) != 0 {
		t.Fatalf("the run made a conflict again: %+v", run.Conflicts)
	}
	if got := gittest.Git(t, e.bareDir, "branch", "--list", "systemsync/conflict-*"); strings.Count(got, "conflict-") != 1 {
		t.Fatalf("conflict branches: %s", got)
	}

	// Git takes the system's version by hand: the conflict ends.
	e.work.Run("pull", "-q", "origin", "main")
	e.work.Write(map[string]string{"projects/default/namespaces/x.yaml": ns("default", "x", "from-console")}).Commit("take the console's x")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := e.runner.Runs.Get(ctx, conflictRun.ID)
	if res := got.Conflicts[0].Resolution; res == nil || res.Keep != pipeline.KeepAgreed {
		t.Fatalf("the conflict after both sides agree: %+v", got.Conflicts[0])
	}
	if got := gittest.Git(t, e.bareDir, "branch", "--list", branch); got != "" {
		t.Fatalf("the ended conflict's branch is still there: %s", got)
	}
}
