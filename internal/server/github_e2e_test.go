package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

const (
	owner    = "acme"
	repoName = "specs"
	inst     = int64(4242)
	apiKey   = "e2e-admin-key"
	folder   = "infra"
	// botVersion is the version the bot under test reports (config.Version).
	botVersion = "e2e-test"
)

func ns(name, value string) string {
	return "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: " + name + "\n  project: default\nspec:\n  placement:\n    labels:\n    - key: env\n      value: " + value + "\n"
}

const gitRepoWithPassword = `apiVersion: integrations.k8smgmt.io/v3
kind: Repository
metadata:
  name: git-creds
  project: default
spec:
  type: Git
  endpoint: https://example.com/r.git
  credentials:
    username: deploy
    password: hunter2
`

func p(name string) string { return folder + "/projects/default/namespaces/" + name + ".yaml" }

// bot is a running System Sync server wired to the GitHub stand-in.
type bot struct {
	gh   *githubtest.Server
	s    *server.Server
	sys  *controllerapi.Client
	work *gittest.Work
	hook string
}

// startBot runs the bot in GitHub mode, with change applied to its configuration.
func startBot(t *testing.T, change ...func(*config.Config)) *bot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	gh := githubtest.New(t)
	cloneURL := gh.AddRepo(t, owner, repoName, inst)
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = storetest.URL(t)
	cfg.APIKey = apiKey
	cfg.Version = botVersion
	cfg.PollInterval = time.Hour
	cfg.Github.V3APIURL = gh.APIURL()
	cfg.Github.WebURL = gh.WebURL()
	cfg.Github.App.IntegrationID = gh.AppID()
	cfg.Github.App.WebhookSecret = gh.WebhookSecret()
	cfg.Github.App.PrivateKey = gh.PrivateKeyPEM()
	for _, c := range change {
		c(&cfg)
	}
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = &testWriter{t}
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	sys := controllerapi.New(s.BaseURL, apiKey)
	for _, obj := range []map[string]any{
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "specs", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": cloneURL}},
		{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "system-sync", "project": "default"},
			"spec": map[string]any{"stages": []any{map[string]any{"name": "sync", "type": "SystemSync", "config": map[string]any{
				"gitToSystemSync": true, "systemToGitSync": false, "sourceAsDestination": true,
				"excludedResources": []any{map[string]any{"name": "Agent"}},
				"sourceRepo":        map[string]any{"repository": "specs", "revision": "main", "path": map[string]any{"name": folder}}}}}}},
	} {
		if _, err := sys.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	authURL := strings.Replace(cloneURL, "http://", "http://x-access-token:"+gh.Token(t, inst)+"@", 1)
	return &bot{gh: gh, s: s, sys: sys, work: gittest.Clone(t, authURL), hook: s.BaseURL + "/api/github/hook"}
}

var deliveries int

func (b *bot) deliver(t *testing.T, event, file string, edit func(map[string]any)) (int, string, string) {
	t.Helper()
	deliveries++
	id := fmt.Sprintf("delivery-%d-%d", time.Now().UnixNano(), deliveries)
	body := githubtest.Payload(t, event, file, func(p map[string]any) {
		githubtest.SetRepo(p, b.gh, owner, repoName, inst)
		if edit != nil {
			edit(p)
		}
	})
	code, resp := b.gh.Deliver(t, b.hook, event, id, body)
	return code, resp, id
}

func (b *bot) push(t *testing.T, before, after, branch string) string {
	t.Helper()
	code, resp, id := b.deliver(t, "push", "payload.json", func(p map[string]any) {
		p["ref"], p["before"], p["after"], p["deleted"], p["created"] = "refs/heads/"+branch, before, after, false, false
	})
	if code != http.StatusAccepted {
		t.Fatalf("push delivery: %d %s", code, resp)
	}
	return id
}

func (b *bot) runs(t *testing.T) []*pipeline.Run {
	t.Helper()
	runs, err := b.s.Runner.Runs.List(context.Background(), "default/system-sync", 100)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (b *bot) waitRuns(t *testing.T, n int) []*pipeline.Run {
	t.Helper()
	var runs []*pipeline.Run
	eventually(t, fmt.Sprintf("%d finished runs", n), func() bool {
		runs = b.runs(t)
		return len(runs) == n && runs[0].EndedAt != nil
	})
	return runs
}

var rowRE = regexp.MustCompile(`(?m)^\| \S+ (create|update|delete|invalid|blocked|ignored|conflict) \| (\w+) ` + "`([^`]+)`")

func TestPullRequestPlanAndMergeToApply(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)

	// main holds three namespaces; the first push applies them.
	b.work.Write(map[string]string{p("keep"): ns("keep", "dev"), p("change"): ns("change", "dev"), p("remove"): ns("remove", "dev"),
		"README.md": "specs\n"})
	base := b.work.Commit("three namespaces")
	b.work.Push("main")
	b.push(t, "0000000000000000000000000000000000000000", base, "main")
	runs := b.waitRuns(t, 1)
	if runs[0].Status != pipeline.StatusSuccess || runs[0].Trigger != pipeline.TriggerWebhook {
		t.Fatalf("first run %+v", runs[0])
	}

	// A pull request: two new, one changed, one deleted, one malformed, one secret, one excluded kind.
	b.work.Run("checkout", "-q", "-b", "feature")
	b.work.Write(map[string]string{
		p("new-a"): ns("new-a", "dev"), p("new-b"): ns("new-b", "dev"), p("change"): ns("change", "prod"),
		p("broken"): "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: [broken\n",
		folder + "/projects/default/repositories/git-creds.yaml": gitRepoWithPassword,
		folder + "/projects/default/agents/a1.yaml":              "apiVersion: gitops.k8smgmt.io/v3\nkind: Agent\nmetadata:\n  name: a1\n  project: default\nspec:\n  type: Docker\n",
	}).Remove(p("remove"))
	head := b.work.Commit("feature")
	b.work.Push("feature")
	pr := githubtest.Pull{Number: 7, HeadRef: "feature", BaseRef: "main", Title: "Add namespaces"}
	b.gh.AddPull(owner, repoName, pr)
	code, resp, _ := b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })
	if code != http.StatusAccepted {
		t.Fatalf("pull_request delivery: %d %s", code, resp)
	}
	eventually(t, "the plan comment", func() bool { return len(b.gh.Comments(owner, repoName, 7)) == 1 })
	body := b.gh.Comments(owner, repoName, 7)[0].GetBody()
	rows := rowRE.FindAllStringSubmatch(body, -1)
	var got []string
	for _, r := range rows {
		got = append(got, r[1]+" "+r[3])
	}
	want := "ignored default/a1,invalid default/broken,update default/change,create default/new-a,create default/new-b,delete default/remove,blocked default/git-creds"
	if strings.Join(got, ",") != want {
		t.Fatalf("plan rows\n got %s\nwant %s\n%s", strings.Join(got, ","), want, body)
	}
	if !strings.Contains(body, head[:7]) {
		t.Fatalf("comment does not name the head commit %s", head[:7])
	}

	// The check run: failure, with one annotation per problem, on its line.
	var planRun int64
	eventually(t, "a completed systemsync/plan check", func() bool {
		for _, cr := range b.gh.CheckRuns(owner, repoName) {
			if cr.GetName() == "systemsync/plan" && cr.GetStatus() == "completed" && cr.GetHeadSHA() == head {
				planRun = cr.GetID()
				return true
			}
		}
		return false
	})
	for _, cr := range b.gh.CheckRuns(owner, repoName) {
		if cr.GetID() == planRun && cr.GetConclusion() != "failure" {
			t.Fatalf("plan conclusion %s", cr.GetConclusion())
		}
	}
	anns := b.gh.Annotations(planRun)
	var lines []string
	for _, a := range anns {
		lines = append(lines, fmt.Sprintf("%s:%d", a.GetPath(), a.GetStartLine()))
	}
	if strings.Join(lines, ",") != p("broken")+":4,"+folder+"/projects/default/repositories/git-creds.yaml:11" {
		t.Fatalf("annotations %v", lines)
	}

	// A new push to the pull request edits the same comment.
	b.work.Write(map[string]string{p("new-b"): ns("new-b", "staging")})
	head2 := b.work.Commit("tweak")
	b.work.Push("feature")
	b.gh.AddPull(owner, repoName, pr) // GitHub moves refs/pull/7/head with the branch
	b.deliver(t, "pull_request", "synchronize.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })
	eventually(t, "the edited plan comment", func() bool {
		cs := b.gh.Comments(owner, repoName, 7)
		return len(cs) == 1 && strings.Contains(cs[0].GetBody(), head2[:7])
	})
	if n := len(b.gh.Comments(owner, repoName, 7)); n != 1 {
		t.Fatalf("%d plan comments after a second push", n)
	}
	if _, err := b.sys.Get(ctx, "Namespace", "default", "new-a"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a plan applied something: %v", err)
	}

	// Merge (fast-forward) → apply.
	b.work.Run("checkout", "-q", "main")
	b.work.Run("merge", "-q", "--ff-only", "feature")
	b.work.Push("main")
	pr.Merged, pr.MergeCommitSHA, pr.HeadSHA = true, head2, head2
	b.gh.AddPull(owner, repoName, pr)
	delivery := b.push(t, base, head2, "main")
	runs = b.waitRuns(t, 2)
	if runs[0].Status != pipeline.StatusPartial {
		t.Fatalf("merge run status %s", runs[0].Status)
	}
	for name, want := range map[string]string{"keep": "dev", "change": "prod", "new-a": "dev", "new-b": "staging"} {
		obj, err := b.sys.Get(ctx, "Namespace", "default", name)
		if err != nil || !strings.Contains(fmt.Sprint(obj["spec"]), want) {
			t.Fatalf("namespace %s after merge: %v %v", name, obj["spec"], err)
		}
	}
	for _, gone := range []struct{ kind, name string }{{"Namespace", "remove"}, {"Namespace", "broken"}, {"Repository", "git-creds"}, {"Agent", "a1"}} {
		if _, err := b.sys.Get(ctx, gone.kind, "default", gone.name); !controllerapi.IsNotFound(err) {
			t.Fatalf("%s %s in the system after merge: %v", gone.kind, gone.name, err)
		}
	}
	eventually(t, "the apply comment on the merged PR", func() bool {
		cs := b.gh.Comments(owner, repoName, 7)
		return len(cs) == 2 && strings.Contains(cs[1].GetBody(), "System Sync applied") && strings.Contains(cs[1].GetBody(), "Partial")
	})
	var applyCheck bool
	for _, cr := range b.gh.CheckRuns(owner, repoName) {
		if cr.GetName() == "systemsync/apply" && cr.GetHeadSHA() == head2 && cr.GetStatus() == "completed" {
			applyCheck = true
		}
	}
	if !applyCheck {
		t.Fatal("no completed systemsync/apply check run on the merge commit")
	}

	// The same delivery again: acknowledged, one run.
	body2 := githubtest.Payload(t, "push", "payload.json", func(m map[string]any) {
		githubtest.SetRepo(m, b.gh, owner, repoName, inst)
		m["ref"], m["before"], m["after"] = "refs/heads/main", base, head2
	})
	if code, _ := b.gh.Deliver(t, b.hook, "push", delivery, body2); code != http.StatusOK {
		t.Fatalf("duplicate delivery answered %d", code)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(b.runs(t)); n != 2 {
		t.Fatalf("%d runs after a duplicate delivery", n)
	}

	// A push that changes nothing under the folder: no run, no comment.
	b.work.Write(map[string]string{"docs/notes.md": "notes\n"})
	outside := b.work.Commit("docs only")
	b.work.Push("main")
	b.push(t, head2, outside, "main")
	time.Sleep(time.Second)
	if n := len(b.runs(t)); n != 2 {
		t.Fatalf("%d runs after a push outside the folder", n)
	}
	if n := len(b.gh.Comments(owner, repoName, 7)); n != 2 {
		t.Fatalf("%d comments after a push outside the folder", n)
	}
}

func TestForgedOrMissingSignatureIsRefused(t *testing.T) {
	b := startBot(t)
	body := githubtest.Payload(t, "push", "payload.json", func(m map[string]any) { githubtest.SetRepo(m, b.gh, owner, repoName, inst) })
	for name, sig := range map[string]string{"missing": "", "forged": githubtest.Sign("not-the-secret", body)} {
		req, _ := http.NewRequest("POST", b.hook, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "forged-"+name)
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s signature: %d, want 401", name, resp.StatusCode)
		}
	}
	var jobs int
	if err := b.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM river_job WHERE kind = 'github_event'`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 0 {
		t.Fatalf("%d jobs stored for refused deliveries", jobs)
	}
}

func TestForkPullRequestIsPlannedNeverApplied(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	b.work.Write(map[string]string{p("keep"): ns("keep", "dev")})
	base := b.work.Commit("base")
	b.work.Push("main")
	b.push(t, "0000000000000000000000000000000000000000", base, "main")
	b.waitRuns(t, 1)

	b.work.Run("checkout", "-q", "-b", "fork-work")
	b.work.Write(map[string]string{p("from-fork"): ns("from-fork", "dev")})
	forkHead := b.work.Commit("from a fork")
	b.work.Push("fork-work") // GitHub keeps a fork PR's commits under refs/pull/9/head of the base repository
	pr := githubtest.Pull{Number: 9, HeadRef: "fork-work", HeadSHA: forkHead, BaseRef: "main", HeadRepoFullName: "stranger/specs", User: "stranger"}
	b.gh.AddPull(owner, repoName, pr)
	b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })
	eventually(t, "the fork's plan comment", func() bool {
		cs := b.gh.Comments(owner, repoName, 9)
		return len(cs) == 1 && strings.Contains(cs[0].GetBody(), "default/from-fork")
	})
	if _, err := b.sys.Get(ctx, "Namespace", "default", "from-fork"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a fork's change was applied before merge: %v", err)
	}
	if n := len(b.runs(t)); n != 1 {
		t.Fatalf("%d runs; a plan is not a run", n)
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
