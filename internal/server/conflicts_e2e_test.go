package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// conflictOnGitHub syncs name, then changes it in Git (pushed, not yet
// delivered) and in the console, differently: the export finds the
// conflict and opens a pull request from its branch. It returns the
// export's run, its conflict, the pull request and the Git commit.
func conflictOnGitHub(t *testing.T, b *bot, name string) (*pipeline.Run, pipeline.Conflict, *github.PullRequest, string) {
	t.Helper()
	ctx := context.Background()
	b.work.Run("pull", "-q", "origin", "main")
	before := b.work.Run("rev-parse", "HEAD")
	b.work.Write(map[string]string{p2(name): ns(name, "v1")})
	synced := b.work.Commit(name + " v1")
	b.work.Push("main")
	n := len(b.runs(t))
	b.push(t, before, synced, "main")
	b.waitRuns(t, n+1)
	b.work.Write(map[string]string{p2(name): ns(name, "from-git")})
	fromGit := b.work.Commit(name + " from Git")
	b.work.Push("main")
	if _, err := consoleUser(t, b, "carol@example.com").Apply(ctx, namespaceObj(name, "from-console")); err != nil {
		t.Fatal(err)
	}
	var pr *github.PullRequest
	eventually(t, "a pull request from a conflict branch", func() bool {
		for _, p := range b.gh.Pulls(owner, repoName) {
			if strings.HasPrefix(p.GetHead().GetRef(), "systemsync/conflict-") && p.GetState() == "open" {
				pr = p
				return true
			}
		}
		return false
	})
	id, ok := pipeline.ConflictRun(pr.GetHead().GetRef())
	if !ok {
		t.Fatalf("conflict branch %s", pr.GetHead().GetRef())
	}
	run, err := b.s.Runner.Runs.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Conflicts) != 1 || run.Conflicts[0].Name != name || run.Conflicts[0].Branch != pr.GetHead().GetRef() || run.Conflicts[0].Resolution != nil {
		t.Fatalf("run %d's conflicts: %+v", id, run.Conflicts)
	}
	if got := gittest.Git(t, b.gh.GitDir(owner, repoName), "show", pr.GetHead().GetRef()+":"+p2(name)); !strings.Contains(got, "from-console") {
		t.Fatalf("the conflict branch does not hold the system's version:\n%s", got)
	}
	return run, run.Conflicts[0], pr, fromGit
}

// closePull delivers pull_request closed for pr, by sender.
func closePull(t *testing.T, b *bot, pr *github.PullRequest, merged bool, mergeSHA, sender string) string {
	t.Helper()
	pull := githubtest.Pull{Number: pr.GetNumber(), HeadRef: pr.GetHead().GetRef(), HeadSHA: pr.GetHead().GetSHA(), BaseRef: "main",
		Merged: merged, Closed: !merged, MergeCommitSHA: mergeSHA, User: pr.GetUser().GetLogin(), Title: pr.GetTitle()}
	b.gh.AddPull(owner, repoName, pull)
	code, resp, id := b.deliver(t, "pull_request", "closed.payload.json", func(m map[string]any) {
		githubtest.SetPull(m, b.gh, owner, repoName, pull)
		m["sender"] = map[string]any{"login": sender, "type": "User"}
	})
	if code != http.StatusAccepted {
		t.Fatalf("pull_request closed: %d %s", code, resp)
	}
	return id
}

func branchGone(t *testing.T, b *bot, branch string) bool {
	return gittest.Git(t, b.gh.GitDir(owner, repoName), "branch", "--list", branch) == ""
}

// TestConflictPullRequestClosedUnmergedKeepsGit: closing a conflict's pull
// request unmerged applies Git's version to the system and ends the
// conflict: its branch is deleted, its run says how and by whom, and the
// next run finds none. Merging another keeps the system's version.
func TestConflictPullRequestClosedUnmergedKeepsGit(t *testing.T) {
	ctx := context.Background()
	b := exportingBot(t)
	run, c, pr, fromGit := conflictOnGitHub(t, b, "x")

	jobDone(t, b, closePull(t, b, pr, false, "", "octo-maintainer"))
	obj, err := b.sys.Get(ctx, "Namespace", "default", "x")
	if err != nil || !strings.Contains(fmt.Sprint(obj["spec"]), "from-git") {
		t.Fatalf("the system after closing unmerged: %v %v", obj["spec"], err)
	}
	got, err := b.s.Runner.Runs.Get(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	res := got.Conflicts[0].Resolution
	want := fmt.Sprintf("pull request #%d closed unmerged", pr.GetNumber())
	if res == nil || res.Keep != pipeline.KeepGit || res.By != "octo-maintainer" || res.Via != want || res.Run == 0 {
		t.Fatalf("the conflict's resolution: %+v", res)
	}
	resolving, err := b.s.Runner.Runs.Get(ctx, res.Run)
	if err != nil || resolving.Trigger != pipeline.TriggerWebhook || resolving.Status != pipeline.StatusSuccess ||
		len(resolving.Rows) != 1 || resolving.Rows[0].Name != "x" || resolving.Rows[0].Outcome != "applied" {
		t.Fatalf("the resolving run: %+v %v", resolving, err)
	}
	var by struct{ User string }
	if err := json.Unmarshal(resolving.Payload, &by); err != nil || by.User != "octo-maintainer" {
		t.Fatalf("the resolving run's payload: %s", resolving.Payload)
	}
	if !branchGone(t, b, c.Branch) {
		t.Fatalf("branch %s is still there", c.Branch)
	}

	// The push of Git's change is delivered at last: nothing left to do,
	// and no new conflict.
	runs := len(b.runs(t))
	jobDone(t, b, b.push(t, b.work.Run("rev-parse", "HEAD~1"), fromGit, "main"))
	if n := len(b.runs(t)); n != runs {
		r, _ := b.s.Runner.Runs.Get(ctx, b.runs(t)[0].ID)
		t.Fatalf("the push after the resolution started %d run(s): %+v", n-runs, r)
	}
	ids, err := b.s.Runner.SyncNow(ctx, "default", "system-sync")
	if err != nil || len(ids) != 1 {
		t.Fatalf("manual run: %v %v", ids, err)
	}
	manual, _ := b.s.Runner.Runs.Get(ctx, ids[0])
	for _, row := range manual.Rows {
		if row.Action == "conflict" {
			t.Fatalf("the next run finds a conflict: %+v", manual.Rows)
		}
	}
	for _, p := range b.gh.Pulls(owner, repoName) {
		if p.GetState() == "open" {
			t.Fatalf("a pull request is open after the resolution: %s", p.GetHead().GetRef())
		}
	}

	// Merging another conflict's pull request keeps the system's version.
	run2, c2, pr2, _ := conflictOnGitHub(t, b, "y")
	b.work.Run("fetch", "-q", "origin")
	b.work.Run("checkout", "-q", "main")
	b.work.Run("pull", "-q", "origin", "main")
	before := b.work.Run("rev-parse", "HEAD")
	b.work.Run("merge", "-q", "--no-ff", "-X", "theirs", "-m", "Merge the system's version", "origin/"+c2.Branch)
	merge := b.work.Run("rev-parse", "HEAD")
	b.work.Push("main")
	jobDone(t, b, closePull(t, b, pr2, true, merge, "octo-maintainer"))
	jobDone(t, b, b.push(t, before, merge, "main"))
	got, _ = b.s.Runner.Runs.Get(ctx, run2.ID)
	res = got.Conflicts[0].Resolution
	if res == nil || res.Keep != pipeline.KeepSystem || res.By != "octo-maintainer" || res.Via != fmt.Sprintf("pull request #%d merged", pr2.GetNumber()) {
		t.Fatalf("the merged conflict's resolution: %+v", res)
	}
	obj, _ = b.sys.Get(ctx, "Namespace", "default", "y")
	if !strings.Contains(fmt.Sprint(obj["spec"]), "from-console") {
		t.Fatalf("the system after the merge: %v", obj["spec"])
	}
	if !branchGone(t, b, c2.Branch) {
		t.Fatalf("branch %s is still there", c2.Branch)
	}
	ids, err = b.s.Runner.SyncNow(ctx, "default", "system-sync")
	if err != nil {
		t.Fatal(err)
	}
	manual, _ = b.s.Runner.Runs.Get(ctx, ids[0])
	for _, row := range manual.Rows {
		if row.Action == "conflict" {
			t.Fatalf("the run after the merge finds a conflict: %+v", manual.Rows)
		}
	}
}
