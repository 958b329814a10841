package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// startListFollower runs a follower that lists the system every 200ms
// until the returned stop is called (or the test ends).
func startListFollower(t *testing.T, e *env) (stop func()) {
	t.Helper()
	f := &pipeline.Follower{Runner: e.runner, Mode: pipeline.FollowList, ListInterval: 200 * time.Millisecond, Log: e.runner.Log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestListFollowerWithoutEventLog follows a controller that has no event
// log (it answers 404 there, as Rafay's does) by listing it: a console
// change becomes one commit, a change made while the bot was down is
// committed once when it comes back, a deletion removes the file, and the
// bot's own applies from Git are not committed back.
func TestListFollowerWithoutEventLog(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	// The bot reaches the controller only through the URL without events,
	// and keeps no snapshot (the snapshot follows the event log).
	e.sys = controllerapi.New(c.WithoutEventLog(t), controllertest.AdminKey)
	e.runner.System, e.runner.Snapshot = e.sys, nil
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	head := func() string { return gittest.Git(t, e.bareDir, "rev-parse", "main") }
	waitCommit := func(what, after string) {
		t.Helper()
		waitFor(t, what, func() bool { return head() != after })
		time.Sleep(600 * time.Millisecond) // three more lists: nothing else may follow
		if n := gittest.Git(t, e.bareDir, "rev-list", "--count", after+"..main"); n != "1" {
			t.Fatalf("%s: %s commits, want 1", what, n)
		}
	}
	stop := startListFollower(t, e)
	waitFor(t, "the first list", func() bool {
		v, _ := e.runner.DB.Position(ctx, "follow:listed")
		return v != ""
	})
	alice := userClient(t, c, "alice@example.com")

	before := head()
	if _, err := alice.Apply(ctx, nsObj("b", "dev")); err != nil {
		t.Fatal(err)
	}
	waitCommit("the commit of b", before)
	// A list does not say who changed what: the bot is the author.
	if got := gittest.Git(t, e.bareDir, "log", "-1", "--format=%an <%ae>|%s", "main"); got != "System Sync <admin@example.com>|Resource Namespace/b, Create" {
		t.Fatalf("commit: %s", got)
	}
	if got := gittest.Git(t, e.bareDir, "show", "main:projects/default/namespaces/b.yaml"); !strings.Contains(got, "value: dev") {
		t.Fatalf("b.yaml: %s", got)
	}

	// Down while b changes: exported once when the follower is back.
	stop()
	before = head()
	if _, err := alice.Apply(ctx, nsObj("b", "prod")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if head() != before {
		t.Fatal("a commit happened while the follower was down")
	}
	startListFollower(t, e)
	waitCommit("the commit of the change made while down", before)
	if got := gittest.Git(t, e.bareDir, "log", "-1", "--format=%s", "main"); got != "Resource Namespace/b, Update" {
		t.Fatalf("commit: %s", got)
	}
	if got := gittest.Git(t, e.bareDir, "show", "main:projects/default/namespaces/b.yaml"); !strings.Contains(got, "value: prod") {
		t.Fatalf("b.yaml: %s", got)
	}

	// A push applied by the bot is in the next list, and is not committed back.
	e.work.Run("pull", "-q", "origin", "main")
	e.work.Write(map[string]string{"projects/default/namespaces/c.yaml": ns("default", "c", "dev")}).Commit("c")
	e.work.Push("main")
	before = head()
	runsBefore, _ := e.runner.Runs.List(ctx, "default/system-sync", 100)
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "c"); err != nil {
		t.Fatalf("the push was not applied: %v", err)
	}
	time.Sleep(time.Second) // five lists
	if head() != before {
		t.Fatalf("the bot's own apply was committed back: %s", gittest.Git(t, e.bareDir, "log", "-1", "--format=%s", "main"))
	}
	if runsAfter, _ := e.runner.Runs.List(ctx, "default/system-sync", 100); len(runsAfter) != len(runsBefore)+1 {
		t.Fatalf("%d runs after one push, want %d", len(runsAfter), len(runsBefore)+1)
	}

	// A deletion in the console removes the file.
	if err := alice.Delete(ctx, "Namespace", "default", "b"); err != nil {
		t.Fatal(err)
	}
	waitCommit("the commit of the deletion", before)
	if got := gittest.Git(t, e.bareDir, "log", "-1", "--format=%s", "main"); got != "Resource Namespace/b, Delete" {
		t.Fatalf("commit: %s", got)
	}
	if files := gittest.Git(t, e.bareDir, "ls-tree", "-r", "--name-only", "main"); strings.Contains(files, "namespaces/b.yaml") || !strings.Contains(files, "namespaces/c.yaml") {
		t.Fatalf("files after the deletion:\n%s", files)
	}
}
