package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// nsDescribed is ns with a metadata.description when description is set:
// a change far from the labels, that merges with a change of them.
func nsDescribed(name, value, description string) string {
	meta := ""
	if description != "" {
		meta = "  description: " + description + "\n"
	}
	return "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: " + name + "\n  project: default\n" + meta +
		"spec:\n  placement:\n    labels:\n    - key: env\n      value: " + value + "\n"
}

func planCheck(b *bot, head string, after int64) *github.CheckRun {
	var last *github.CheckRun
	for _, cr := range b.gh.CheckRuns(owner, repoName) {
		if cr.GetName() == "systemsync/plan" && cr.GetHeadSHA() == head && cr.GetStatus() == "completed" && cr.GetID() > after {
			last = cr
		}
	}
	return last
}

// TestStalePlanIsMadeAgainAndItsMergeIsAConflict: a console change to a
// resource an open pull request touches makes its plan again within
// seconds, the comment and the check run saying what moved; merging the
// pull request then is a conflict, not an overwrite of the console's
// change.
func TestStalePlanIsMadeAgainAndItsMergeIsAConflict(t *testing.T) {
	ctx := context.Background()
	b := exportingBot(t)
	gitDir := b.gh.GitDir(owner, repoName)
	// The export of the pipeline's own change lands first.
	eventually(t, "the export of the pipeline", func() bool {
		return strings.Contains(gittest.Git(t, gitDir, "ls-tree", "-r", "--name-only", "main"), folder+"/projects/default/pipelines/system-sync.yaml")
	})
	b.work.Run("pull", "-q", "origin", "main")
	before := b.work.Run("rev-parse", "HEAD")
	b.work.Write(map[string]string{p2("x"): nsDescribed("x", "dev", "")})
	base := b.work.Commit("x")
	b.work.Push("main")
	n := len(b.runs(t))
	b.push(t, before, base, "main")
	b.waitRuns(t, n+1)

	// A pull request describes x.
	b.work.Run("checkout", "-q", "-b", "describe-x")
	b.work.Write(map[string]string{p2("x"): nsDescribed("x", "dev", "team x")})
	head := b.work.Commit("describe x")
	b.work.Push("describe-x")
	pr := githubtest.Pull{Number: 12, HeadRef: "describe-x", BaseRef: "main", Title: "Describe x"}
	b.gh.AddPull(owner, repoName, pr)
	if code, resp, _ := b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) }); code != http.StatusAccepted {
		t.Fatalf("pull_request delivery: %d %s", code, resp)
	}
	// The comment and the completed check run are posted one after the
	// other: wait for both.
	var first *github.CheckRun
	eventually(t, "the plan comment and check run", func() bool {
		first = planCheck(b, head, 0)
		return len(b.gh.Comments(owner, repoName, 12)) == 1 && first != nil
	})
	if first == nil || first.GetConclusion() != "success" || !strings.Contains(b.gh.Comments(owner, repoName, 12)[0].GetBody(), "update | Namespace `default/x`") {
		t.Fatalf("the first plan: %v\n%s", first, b.gh.Comments(owner, repoName, 12)[0].GetBody())
	}

	// alice changes x's label in the console: the plan is made again,
	// within seconds, saying what moved.
	changed := time.Now()
	if _, err := consoleUser(t, b, "alice@example.com").Apply(ctx, namespaceObj("x", "staging")); err != nil {
		t.Fatal(err)
	}
	var again *github.CheckRun
	eventually(t, "the plan made again", func() bool {
		again = planCheck(b, head, first.GetID())
		return again != nil
	})
	if took := time.Since(changed); took > 10*time.Second {
		t.Fatalf("the plan was made again %v after the change", took)
	}
	body := b.gh.Comments(owner, repoName, 12)[0].GetBody()
	if n := len(b.gh.Comments(owner, repoName, 12)); n != 1 {
		t.Fatalf("%d plan comments", n)
	}
	for _, want := range []string{"Planned again: 1 resource(s)", "| Update | Namespace `default/x` | alice@example.com |", "conflict | Namespace `default/x`"} {
		if !strings.Contains(body, want) {
			t.Fatalf("the plan comment made again lacks %q:\n%s", want, body)
		}
	}
	if again.GetConclusion() != "failure" || !strings.Contains(again.GetOutput().GetSummary(), "Planned again: 1 resource(s) changed in the system") ||
		!strings.Contains(again.GetOutput().GetSummary(), "Namespace/default/x") {
		t.Fatalf("the check run made again: %s %q", again.GetConclusion(), again.GetOutput().GetSummary())
	}

	// The console's change is exported to main; the pull request is merged
	// over it, cleanly in Git: the merge is a conflict, and the system
	// keeps the console's version.
	eventually(t, "the console's change on main", func() bool {
		return strings.Contains(gittest.Git(t, gitDir, "show", "main:"+p2("x")), "staging")
	})
	b.work.Run("checkout", "-q", "main")
	b.work.Run("pull", "-q", "origin", "main")
	mainBefore := b.work.Run("rev-parse", "HEAD")
	b.work.Run("merge", "-q", "--no-ff", "-m", "Merge pull request #12", "describe-x")
	merge := b.work.Run("rev-parse", "HEAD")
	b.work.Push("main")
	if got := b.work.Run("show", "HEAD:"+p2("x")); !strings.Contains(got, "team x") || !strings.Contains(got, "staging") {
		t.Fatalf("the merge did not merge cleanly:\n%s", got)
	}
	pr.Merged, pr.MergeCommitSHA, pr.HeadSHA = true, merge, head
	b.gh.AddPull(owner, repoName, pr)
	runs := len(b.runs(t))
	b.push(t, mainBefore, merge, "main")
	got := b.waitRuns(t, runs+1)
	run, err := b.s.Runner.Runs.Get(ctx, got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var row *pipeline.Row
	for i := range run.Rows {
		if run.Rows[i].Name == "x" {
			row = &run.Rows[i]
		}
	}
	if row == nil || row.Action != "conflict" || !strings.Contains(row.Message, "changed in the system after the plan of pull request #12") ||
		!strings.Contains(row.Message, "alice@example.com") {
		t.Fatalf("the merge's run: %s %+v", run.Status, run.Rows)
	}
	obj, err := b.sys.Get(ctx, "Namespace", "default", "x")
	if err != nil {
		t.Fatal(err)
	}
	if md := fmt.Sprint(obj["metadata"]); strings.Contains(md, "team x") {
		t.Fatalf("the merge overwrote the system: %v", obj["metadata"])
	}
	if len(run.Conflicts) != 1 || run.Conflicts[0].Name != "x" || run.Conflicts[0].Branch == "" {
		t.Fatalf("the merge's conflict: %+v", run.Conflicts)
	}
}
