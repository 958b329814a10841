package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
)

// userClient is a person working in the console: their own key and email.
func userClient(t *testing.T, c *controllertest.Controller, email string) *controllerapi.Client {
	t.Helper()
	key := "key-of-" + email
	if err := c.Keys.Ensure(context.Background(), key, email); err != nil {
		t.Fatal(err)
	}
	return controllerapi.New(c.URL, key)
}

func nsObj(name, value string) map[string]any {
	r, _ := spec.Parse("", []byte(ns("default", name, value)))
	return r[0].Object
}

// runFollower runs the follower until the test ends.
func runFollower(t *testing.T, e *env) {
	t.Helper()
	f := &pipeline.Follower{Runner: e.runner, Window: 300 * time.Millisecond, Log: e.runner.Log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestConsoleChangeBecomesOneCommitByItsAuthor(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": "# kept comment\n" + ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	// A manual run syncs both ways: a.yaml into the system, the system's
	// Project, Repository and Pipeline into Git.
	ids, err := e.runner.SyncNow(ctx, "default", "system-sync")
	if err != nil || len(ids) != 1 {
		t.Fatalf("manual run: %v %v", ids, err)
	}
	run, _ := e.runner.Runs.Get(ctx, ids[0])
	if run.Trigger != pipeline.TriggerManual || run.Status != pipeline.StatusSuccess {
		t.Fatalf("manual run %+v", run)
	}
	e.work.Run("pull", "-q", "origin", "main")
	if got := e.work.Run("log", "-1", "--format=%s"); got != "Manually Triggered System Sync" {
		t.Fatalf("manual run commit: %s", got)
	}
	for _, f := range []string{"projects/default.yaml", "projects/default/.gitkeep", "projects/default/repositories/specs.yaml", "projects/default/pipelines/system-sync.yaml"} {
		if !strings.Contains(e.work.Run("ls-files"), f) {
			t.Fatalf("%s not exported by the manual run", f)
		}
	}
	if got := e.work.Run("show", "HEAD:projects/default/namespaces/a.yaml"); !strings.HasPrefix(got, "# kept comment") {
		t.Fatalf("a.yaml was rewritten: %s", got)
	}
	// A deleted .gitkeep comes back on the next run.
	e.work.Remove("projects/default/.gitkeep").Commit("drop gitkeep")
	e.work.Push("main")
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	e.work.Run("pull", "-q", "origin", "main")
	if !strings.Contains(e.work.Run("ls-files"), "projects/default/.gitkeep") {
		t.Fatal("the deleted .gitkeep did not come back")
	}
	runFollower(t, e)
	time.Sleep(200 * time.Millisecond) // the follower takes its starting position

	alice := userClient(t, c, "alice@example.com")
	if _, err := alice.Apply(ctx, nsObj("b", "dev")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the commit of b", func() bool {
		e.work.Run("pull", "-q", "origin", "main")
		return strings.Contains(e.work.Run("log", "--format=%s", "-1"), "Namespace/b")
	})
	if got := e.work.Run("log", "-1", "--format=%an <%ae>|%cn <%ce>|%s"); got != "alice@example.com <alice@example.com>|System Sync <admin@example.com>|Resource Namespace/b, Create" {
		t.Fatalf("commit: %s", got)
	}
	if body := e.work.Run("log", "-1", "--format=%b"); !strings.Contains(body, "Systemsync-Run: ") {
		t.Fatalf("no run trailer: %s", body)
	}
	if got := e.work.Run("show", "HEAD:projects/default/namespaces/b.yaml"); !strings.Contains(got, "name: b") {
		t.Fatalf("b.yaml: %s", got)
	}
	if out := e.work.Run("show", "--stat", "--format=", "HEAD"); strings.Contains(out, "a.yaml") {
		t.Fatalf("an unchanged file was rewritten: %s", out)
	}

	// A burst from two people in one window: one commit.
	bob := userClient(t, c, "bob@example.com")
	before := e.work.Run("rev-parse", "HEAD")
	alice.Apply(ctx, nsObj("c", "dev"))
	bob.Apply(ctx, nsObj("d", "dev"))
	alice.Delete(ctx, "Namespace", "default", "b")
	waitFor(t, "the burst's commit", func() bool {
		e.work.Run("pull", "-q", "origin", "main")
		return e.work.Run("rev-parse", "HEAD") != before
	})
	time.Sleep(time.Second) // nothing else may follow
	e.work.Run("pull", "-q", "origin", "main")
	if n := e.work.Run("rev-list", "--count", before+"..HEAD"); n != "1" {
		t.Fatalf("%s commits for one burst", n)
	}
	msg := e.work.Run("log", "-1", "--format=%B")
	if !strings.Contains(msg, "3 resources changed") || !strings.Contains(msg, "Co-authored-by: bob@example.com") {
		t.Fatalf("burst message:\n%s", msg)
	}
	files := e.work.Run("ls-files")
	if strings.Contains(files, "b.yaml") || !strings.Contains(files, "c.yaml") || !strings.Contains(files, "d.yaml") ||
		!strings.Contains(files, "projects/default/.gitkeep") {
		t.Fatalf("files after the burst:\n%s", files)
	}

	// The bot's own commits are not applied back: the poller finds nothing to do.
	runsBefore, _ := e.runner.Runs.List(ctx, "default/system-sync", 100)
	e.poller.PollOnce(ctx)
	runsAfter, _ := e.runner.Runs.List(ctx, "default/system-sync", 100)
	if len(runsAfter) != len(runsBefore) {
		t.Fatalf("the bot's own commit started a run: %d → %d runs", len(runsBefore), len(runsAfter))
	}
}

func TestSecretIsNotExportedOthersAre(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"README.md": "x\n"}).Commit("init")
	e.work.Push("main")
	runFollower(t, e)
	time.Sleep(200 * time.Millisecond)
	alice := userClient(t, c, "alice@example.com")
	withPassword := map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "creds", "project": "default"},
		"spec":     map[string]any{"type": "Git", "endpoint": "https://example.com/r.git", "credentials": map[string]any{"username": "u", "password": "hunter2"}}}
	if _, err := alice.Apply(ctx, withPassword); err != nil {
		t.Fatal(err)
	}
	alice.Apply(ctx, nsObj("ok", "dev"))
	waitFor(t, "the export", func() bool {
		e.work.Run("pull", "-q", "origin", "main")
		return strings.Contains(e.work.Run("ls-files"), "namespaces/ok.yaml")
	})
	if strings.Contains(e.work.Run("ls-files"), "creds.yaml") {
		t.Fatal("a clear-text password was written to Git")
	}
	// The export's run gets its rows when it ends, after the push.
	waitFor(t, "a failed run row pointing at the Secret Sealer", func() bool {
		runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
		for _, r := range runs {
			run, _ := e.runner.Runs.Get(ctx, r.ID)
			for _, row := range run.Rows {
				if row.Name == "creds" && row.Outcome == "failed" && strings.Contains(row.Message, "SecretSealer") {
					return true
				}
			}
		}
		return false
	})
}

func TestProtectedBranchGoesToAReviewBranch(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"README.md": "x\n"}).Commit("init")
	e.work.Push("main")
	gittest.Git(t, e.bareDir, "config", "receive.denyCurrentBranch", "ignore")
	hook := e.bareDir + "/hooks/pre-receive"
	writeHook(t, hook, "#!/bin/sh\nwhile read old new ref; do [ \"$ref\" = refs/heads/main ] && { echo 'protected branch hook declined'; exit 1; }; done\nexit 0\n")
	runFollower(t, e)
	time.Sleep(200 * time.Millisecond)
	userClient(t, c, "alice@example.com").Apply(ctx, nsObj("p", "dev"))
	waitFor(t, "a systemsync/ branch", func() bool {
		return strings.Contains(gittest.Git(t, e.bareDir, "branch", "--list", "systemsync/*"), "systemsync/")
	})
	if got := gittest.Git(t, e.bareDir, "log", "-1", "--format=%s", "main"); got != "init" {
		t.Fatalf("main moved: %s", got)
	}
}

func TestConflictGoesToABranchAndOverwritesNothing(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"projects/default/namespaces/x.yaml": ns("default", "x", "v1")}).Commit("x")
	e.work.Push("main")
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	e.work.Run("pull", "-q", "origin", "main")
	// Git changes x...
	e.work.Write(map[string]string{"projects/default/namespaces/x.yaml": ns("default", "x", "from-git")}).Commit("git side")
	e.work.Push("main")
	gitHead := e.work.Run("rev-parse", "HEAD")
	// ...and so does a person in the console, differently, before the bot sees the push.
	runFollower(t, e)
	time.Sleep(200 * time.Millisecond)
	userClient(t, c, "alice@example.com").Apply(ctx, nsObj("x", "from-console"))
	waitFor(t, "a conflict branch", func() bool {
		return strings.Contains(gittest.Git(t, e.bareDir, "branch", "--list", "systemsync/conflict-*"), "systemsync/conflict-")
	})
	branch := strings.TrimSpace(strings.TrimPrefix(gittest.Git(t, e.bareDir, "branch", "--list", "systemsync/conflict-*"), "*"))
	if got := gittest.Git(t, e.bareDir, "show", branch+":projects/default/namespaces/x.yaml"); !strings.Contains(got, "from-console") {
		t.Fatalf("the conflict branch does not carry the system's version:\n%s", got)
	}
	if got := gittest.Git(t, e.bareDir, "rev-parse", "main"); got != gitHead {
		t.Fatal("main was overwritten")
	}
	// The Git side does not overwrite the system either.
	e.poller.PollOnce(ctx)
	obj, _ := e.sys.Get(ctx, "Namespace", "default", "x")
	if !strings.Contains(fmt.Sprint(obj["spec"]), "from-console") {
		t.Fatalf("the system was overwritten: %v", obj["spec"])
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	run, _ := e.runner.Runs.Get(ctx, runs[0].ID)
	if len(run.Rows) == 0 || run.Rows[0].Action != "conflict" {
		t.Fatalf("the latest run does not show the conflict: %+v", run.Rows)
	}
}

func TestKilledBeforeTheCommitCommitsOnceAfterRestart(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"README.md": "x\n"}).Commit("init")
	e.work.Push("main")
	e.runner.SyncNow(ctx, "default", "system-sync")
	before := gittest.Git(t, e.bareDir, "rev-parse", "main")

	// A follower with a long window is killed while it gathers the change.
	f := &pipeline.Follower{Runner: e.runner, Window: 5 * time.Second, Log: e.runner.Log}
	fctx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(fctx) }()
	time.Sleep(200 * time.Millisecond)
	userClient(t, c, "alice@example.com").Apply(ctx, nsObj("late", "dev"))
	time.Sleep(500 * time.Millisecond)
	kill()
	<-done
	if got := gittest.Git(t, e.bareDir, "rev-parse", "main"); got != before {
		t.Fatal("a commit happened before the window closed")
	}

	// Restarted, it resumes from the stored revision and commits once.
	runFollower(t, e)
	waitFor(t, "the commit after the restart", func() bool {
		return gittest.Git(t, e.bareDir, "rev-parse", "main") != before
	})
	time.Sleep(time.Second)
	if n := gittest.Git(t, e.bareDir, "rev-list", "--count", before+"..main"); n != "1" {
		t.Fatalf("%s commits after the restart, want 1", n)
	}
	if got := gittest.Git(t, e.bareDir, "log", "-1", "--format=%s", "main"); got != "Resource Namespace/late, Create" {
		t.Fatalf("commit: %s", got)
	}
}

// TestAlternatingChangesSettleWithoutLoops makes 100 changes, alternating a
// push to Git and a change in the console, with the poller and the follower
// both running: each change gives exactly one run, and nothing more follows.
func TestAlternatingChangesSettleWithoutLoops(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"README.md": "x\n"}).Commit("init")
	e.work.Push("main")
	e.runner.SyncNow(ctx, "default", "system-sync")
	e.poller.PollOnce(ctx)
	f := &pipeline.Follower{Runner: e.runner, Window: 20 * time.Millisecond, Log: e.runner.Log}
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(fctx) }()
	defer func() { stop(); <-done }()
	time.Sleep(200 * time.Millisecond)

	runsBefore, _ := e.runner.Runs.List(ctx, "default/system-sync", 1000)
	alice := userClient(t, c, "alice@example.com")
	n := 100
	if testing.Short() {
		n = 20 // the race detector's run (.ci/run passes -short there) is 5-10x slower
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("ns-%03d", i)
		if i%2 == 0 {
			e.work.Run("pull", "-q", "origin", "main")
			e.work.Write(map[string]string{"projects/default/namespaces/" + name + ".yaml": ns("default", name, "git")}).Commit("add " + name)
			e.work.Push("main")
			if err := e.poller.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			head := gittest.Git(t, e.bareDir, "rev-parse", "main")
			if _, err := alice.Apply(ctx, nsObj(name, "console")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the export of "+name, func() bool { return gittest.Git(t, e.bareDir, "rev-parse", "main") != head })
			e.poller.PollOnce(ctx) // the bot's own commit: nothing to do
		}
	}
	time.Sleep(500 * time.Millisecond)
	e.poller.PollOnce(ctx)
	head := gittest.Git(t, e.bareDir, "rev-parse", "main")
	time.Sleep(time.Second)
	e.poller.PollOnce(ctx)
	if got := gittest.Git(t, e.bareDir, "rev-parse", "main"); got != head {
		t.Fatal("commits kept coming after the changes stopped")
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 1000)
	if got := len(runs) - len(runsBefore); got != n {
		t.Fatalf("%d runs for %d changes", got, n)
	}
	list, _ := e.sys.ListAll(ctx, "Namespace", "default")
	if len(list) != n {
		t.Fatalf("%d namespaces in the system, want %d", len(list), n)
	}
	if files := strings.Count(e.work.Run("ls-tree", "-r", "--name-only", "origin/main"), "namespaces/"); files != n {
		e.work.Run("fetch", "-q")
		if files = strings.Count(e.work.Run("ls-tree", "-r", "--name-only", "origin/main"), "namespaces/"); files != n {
			t.Fatalf("%d namespace files in Git, want %d", files, n)
		}
	}
}

// TestRealExportsRoundTripAndEditInPlace puts Rafay's own exports in Git,
// syncs them into the system and back, then changes one field in the
// console: the commit changes that line only.
func TestRealExportsRoundTripAndEditInPlace(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	files := map[string]string{
		"projects/default/namespaces/argocd.yaml":       "../../testdata/rafay-specs/namespace/syncrepo-argocd-namespace.yaml",
		"projects/default/namespaces/autoscaler.yaml":   "../../testdata/rafay-specs/namespace/syncrepo-autoscaler-namespace.yaml",
		"projects/default/addons/argocd.yaml":           "../../testdata/rafay-specs/addon/syncrepo-argocd-helm-catalog-addon.yaml",
		"projects/default/blueprints/eks-presales.yaml": "../../testdata/rafay-specs/blueprint/syncrepo-eks-presales-blueprint.yaml",
	}
	content := map[string]string{}
	for path, src := range files {
		data := strings.ReplaceAll(string(mustRead(t, src)), "project: shared-infra-team", "project: default")
		content[path] = data
	}
	e.work.Write(content).Commit("real exports")
	e.work.Push("main")
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	e.work.Run("pull", "-q", "origin", "main")
	for path, want := range content {
		if got := e.work.Run("show", "HEAD:"+path) + "\n"; got != want {
			t.Fatalf("%s changed on the round trip:\n%s", path, got)
		}
	}
	runFollower(t, e)
	time.Sleep(200 * time.Millisecond)
	obj, err := e.sys.Get(ctx, "Addon", "default", "argocd")
	if err != nil {
		t.Fatal(err)
	}
	delete(obj["metadata"].(map[string]any), "resourceVersion")
	obj["spec"].(map[string]any)["version"] = "v9"
	before := e.work.Run("rev-parse", "HEAD")
	if _, err := userClient(t, c, "erin@example.com").Apply(ctx, obj); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the commit", func() bool {
		e.work.Run("pull", "-q", "origin", "main")
		return e.work.Run("rev-parse", "HEAD") != before
	})
	diff := e.work.Run("diff", "-U0", before, "HEAD", "--", "projects/default/addons/argocd.yaml")
	var changed []string
	for _, l := range strings.Split(diff, "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			changed = append(changed, l)
		}
	}
	if len(changed) != 2 || !strings.HasSuffix(changed[1], "version: v9") {
		t.Fatalf("the commit changed more than the version line:\n%s", diff)
	}
}

// TestFailingStageDoesNotHoldUpTheOthers has two pipelines export the same
// change: one to a repository that cannot be reached. The other commits at
// once; the failing one keeps the change and commits it, by its author,
// once its repository answers.
func TestFailingStageDoesNotHoldUpTheOthers(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.work.Write(map[string]string{"README.md": "x\n"}).Commit("init")
	e.work.Push("main")
	srv := gittest.Serve(t)
	mirrorURL := srv.NewBare(t, "mirror")
	mirror := gittest.Clone(t, mirrorURL)
	mirror.Write(map[string]string{"README.md": "mirror\n"}).Commit("init")
	mirror.Push("main")
	mirrorBare := srv.Root + "/mirror.git"
	second := syncPipeline("mirror", "")
	second["metadata"].(map[string]any)["name"] = "mirror-sync"
	stage := second["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)["config"].(map[string]any)
	stage["gitToSystemSync"] = false
	stage["includedResources"] = []any{map[string]any{"name": "Namespace"}}
	// The mirror's Repository points nowhere for now.
	if _, err := e.sys.Apply(ctx, repository("mirror", "http://127.0.0.1:1/mirror.git")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Apply(ctx, second); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	f := &pipeline.Follower{Runner: e.runner, Window: 100 * time.Millisecond, Retry: 300 * time.Millisecond, Log: e.runner.Log}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(fctx) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(200 * time.Millisecond)

	before := gittest.Git(t, e.bareDir, "rev-parse", "main")
	mirrorBefore := gittest.Git(t, mirrorBare, "rev-parse", "main")
	if _, err := userClient(t, c, "alice@example.com").Apply(ctx, nsObj("b", "dev")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reachable stage's commit", func() bool {
		return gittest.Git(t, e.bareDir, "rev-parse", "main") != before
	})
	if got := gittest.Git(t, e.bareDir, "log", "-1", "--format=%ae|%s", "main"); got != "alice@example.com|Resource Namespace/b, Create" {
		t.Fatalf("specs commit: %s", got)
	}
	time.Sleep(time.Second) // the mirror's export fails meanwhile, three times
	if got := gittest.Git(t, mirrorBare, "rev-parse", "main"); got != mirrorBefore {
		t.Fatal("the unreachable mirror changed")
	}

	// The repository comes back (the bot's own change: not a console change to export).
	if _, err := e.sys.Apply(ctx, repository("mirror", mirrorURL)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mirror's commit once it answers", func() bool {
		return gittest.Git(t, mirrorBare, "rev-parse", "main") != mirrorBefore
	})
	time.Sleep(time.Second)
	if n := gittest.Git(t, mirrorBare, "rev-list", "--count", mirrorBefore+"..main"); n != "1" {
		t.Fatalf("%s mirror commits, want 1", n)
	}
	if got := gittest.Git(t, mirrorBare, "log", "-1", "--format=%ae|%s", "main"); got != "alice@example.com|Resource Namespace/b, Create" {
		t.Fatalf("mirror commit: %s", got)
	}
	if got := gittest.Git(t, mirrorBare, "show", "main:projects/default/namespaces/b.yaml"); !strings.Contains(got, "name: b") {
		t.Fatalf("mirror b.yaml: %s", got)
	}
}

// TestSeparateDestinationGetsTheSystem syncs Git → system from one
// repository and system → Git into another (destinationRepo with its own
// revision and path): the destination gets what the system holds, the
// artifacts its specs reference verbatim, console changes and the bot's own
// applies; the source is never written, and nothing the console made is
// deleted by the next push to the source.
func TestSeparateDestinationGetsTheSystem(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	srv := gittest.Serve(t)
	destURL := srv.NewBare(t, "mirror")
	dest := gittest.Clone(t, destURL)
	dest.Write(map[string]string{"README.md": "mirror\n"}).Commit("init")
	dest.Push("main")
	destBare := srv.Root + "/mirror.git"
	if _, err := e.sys.Apply(ctx, repository("mirror", destURL)); err != nil {
		t.Fatal(err)
	}
	p := syncPipeline("specs", "")
	cfg := p["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)["config"].(map[string]any)
	cfg["sourceAsDestination"] = false
	cfg["destinationRepo"] = map[string]any{"repository": "mirror", "revision": "main", "path": map[string]any{"name": "out"}}
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	override := strings.ReplaceAll(string(mustRead(t, "../../testdata/rafay-specs/override/syncrepo-ingress-nginx-lb-ip-override.yaml")),
		"project: shared-infra-team", "project: default")
	values := "# kept as it is\ncontroller:\n    service:   {loadBalancerIP: 10.0.0.7}\n"
	e.work.Write(map[string]string{
		"projects/default/namespaces/a.yaml":                                      ns("default", "a", "dev"),
		"projects/default/overrides/ingress-nginx-lb-ip.yaml":                     override,
		"projects/default/overrides/ingress-nginx-lb-ip/ingress-nginx-lb-ip.yaml": values,
	}).Commit("a and an override")
	e.work.Push("main")
	sourceHead := gittest.Git(t, e.bareDir, "rev-parse", "main")
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	files := gittest.Git(t, destBare, "ls-tree", "-r", "--name-only", "main")
	for _, f := range []string{"out/projects/default.yaml", "out/projects/default/.gitkeep", "out/projects/default/namespaces/a.yaml",
		"out/projects/default/overrides/ingress-nginx-lb-ip.yaml", "out/projects/default/pipelines/system-sync.yaml"} {
		if !strings.Contains(files, f) {
			t.Fatalf("%s not in the destination:\n%s", f, files)
		}
	}
	if got := gittest.Git(t, destBare, "show", "main:out/projects/default/overrides/ingress-nginx-lb-ip/ingress-nginx-lb-ip.yaml"); got+"\n" != values {
		t.Fatalf("the artifact was not copied verbatim:\n%q\nwant\n%q", got, values)
	}
	if got := gittest.Git(t, e.bareDir, "rev-parse", "main"); got != sourceHead {
		t.Fatal("the manual run wrote to the source")
	}

	runFollower(t, e)
	time.Sleep(200 * time.Millisecond)
	destHead := gittest.Git(t, destBare, "rev-parse", "main")
	if _, err := userClient(t, c, "alice@example.com").Apply(ctx, nsObj("b", "dev")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the console change in the destination", func() bool {
		return gittest.Git(t, destBare, "rev-parse", "main") != destHead
	})
	if got := gittest.Git(t, destBare, "log", "-1", "--format=%ae|%s", "main"); got != "alice@example.com|Resource Namespace/b, Create" {
		t.Fatalf("destination commit: %s", got)
	}

	// A push to the source applies c, leaves b (which the source never had)
	// alone, and the bot's apply of c reaches the destination too.
	e.work.Write(map[string]string{"projects/default/namespaces/c.yaml": ns("default", "c", "dev")}).Commit("c")
	e.work.Push("main")
	sourceHead = gittest.Git(t, e.bareDir, "rev-parse", "main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "c"); err != nil {
		t.Fatalf("c was not applied: %v", err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "b"); err != nil {
		t.Fatalf("the push to the source deleted b, made in the console: %v", err)
	}
	waitFor(t, "the bot's apply in the destination", func() bool {
		return strings.Contains(gittest.Git(t, destBare, "ls-tree", "-r", "--name-only", "main"), "out/projects/default/namespaces/c.yaml")
	})
	time.Sleep(time.Second)
	if got := gittest.Git(t, e.bareDir, "rev-parse", "main"); got != sourceHead {
		t.Fatalf("the source was written: %s", gittest.Git(t, e.bareDir, "log", "-1", "--format=%s", "main"))
	}
}

// TestApplyOfACommitAnExportOvertookDeletesNothing: a person pushes a
// commit, and before its apply runs, a change made in the system is
// exported on top of it (as when the poller fetched the push just before
// the follower's export landed). The apply of the older commit must not
// read the exported resource's absence from that commit as a deletion in
// Git: it applies the branch's tip, which holds both.
func TestApplyOfACommitAnExportOvertookDeletesNothing(t *testing.T) {
	ctx := context.Background()
	e, _ := setupWithController(t, "")
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	e.work.Run("pull", "-q", "origin", "main")
	pushed := e.work.Write(map[string]string{"projects/default/namespaces/g.yaml": ns("default", "g", "dev")}).Commit("g")
	e.work.Push("main")

	// The system's change is exported on top of the push, not yet applied.
	if _, err := e.sys.Apply(ctx, nsObj("b", "dev")); err != nil {
		t.Fatal(err)
	}
	stages, _, err := e.runner.LoadStages(ctx)
	if err != nil || len(stages) != 1 {
		t.Fatalf("stages %v, %v", stages, err)
	}
	k := spec.Key{Kind: "Namespace", Project: "default", Name: "b"}
	out, err := e.runner.Export(ctx, stages[0], pipeline.TriggerInternal, []pipeline.Change{{Key: k, Type: "Create", User: "alice@example.com"}}, pipeline.ExportOptions{})
	if err != nil || out.Commit == "" || out.Review {
		t.Fatalf("export: %+v, %v", out, err)
	}
	if parent := e.work.Run("ls-remote", "origin", "refs/heads/main"); !strings.HasPrefix(parent, out.Commit) {
		t.Fatalf("main is %s, want the export %s", parent, out.Commit)
	}

	// Now the push's apply runs, with the push's commit.
	applied, err := e.runner.Apply(ctx, stages[0], pushed, pipeline.TriggerWebhook, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "b"); err != nil {
		t.Fatalf("the exported b was deleted from the system by the older commit's apply: %v", err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "g"); err != nil {
		t.Fatalf("the pushed g was not applied: %v", err)
	}
	if applied.Run == nil || applied.Run.Commit != out.Commit {
		t.Fatalf("applied run %+v, want it at the branch's tip %s", applied.Run, out.Commit)
	}
}

// TestManualSyncEndsItsRunOnlyAfterItsExport: the Run button's run of a
// stage syncing both ways stays In Progress from its apply until its
// export has pushed, then ends once, with the rows of both halves.
func TestManualSyncEndsItsRunOnlyAfterItsExport(t *testing.T) {
	ctx := context.Background()
	e, _ := setupWithController(t, "")
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	// The export's push waits, in the remote's pre-receive hook, until the
	// test has looked at the run.
	dir := t.TempDir()
	pushing, goOn := filepath.Join(dir, "pushing"), filepath.Join(dir, "go-on")
	writeHook(t, filepath.Join(e.bareDir, "hooks", "pre-receive"), fmt.Sprintf(
		"#!/bin/sh\ncat >/dev/null\ntouch %q\nwhile [ ! -e %q ]; do sleep 0.05; done\n", pushing, goOn))
	t.Cleanup(func() { _ = os.WriteFile(goOn, nil, 0o644) }) // a failing test lets the push end
	type result struct {
		ids []int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		ids, err := e.runner.SyncNow(ctx, "default", "system-sync")
		done <- result{ids, err}
	}()
	waitFor(t, "the export's push", func() bool { _, err := os.Stat(pushing); return err == nil })
	runs, err := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs while the export pushes: %+v, %v", runs, err)
	}
	if runs[0].Status != pipeline.StatusInProgress || runs[0].EndedAt != nil {
		t.Fatalf("the run ended before its export: %s, ended %v", runs[0].Status, runs[0].EndedAt)
	}
	if err := os.WriteFile(goOn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil || len(res.ids) != 1 {
		t.Fatalf("manual sync: %v, %v", res.ids, res.err)
	}
	run, err := e.runner.Runs.Get(ctx, res.ids[0])
	if err != nil || run.Status != pipeline.StatusSuccess || run.EndedAt == nil {
		t.Fatalf("the run after its export: %+v, %v", run, err)
	}
	var applied, exported bool
	for _, row := range run.Rows {
		applied = applied || row.Name == "a" && row.Outcome == "applied" && row.Action != "export"
		exported = exported || row.Action == "export" && row.Outcome == "applied"
	}
	if !applied || !exported {
		t.Fatalf("rows of one half missing (apply %v, export %v): %+v", applied, exported, run.Rows)
	}
}
