package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/store"
)

// trigger is one of spec.triggers: typ Cron (with a schedule) or Webhook,
// watching repository at main, and paths.
func trigger(name, typ, schedule, repository string, paths ...string) map[string]any {
	repo := map[string]any{"repository": repository, "revision": "main"}
	var l []any
	for _, p := range paths {
		l = append(l, map[string]any{"name": p})
	}
	if len(l) > 0 {
		repo["paths"] = l
	}
	cfg := map[string]any{"repo": repo}
	if schedule != "" {
		cfg["cronExpression"] = schedule
	}
	return map[string]any{"name": name, "type": typ, "config": cfg}
}

// triggeredPipeline is a git → system pipeline of repository's folder with triggers.
func triggeredPipeline(name, repository, folder string, triggers ...map[string]any) map[string]any {
	l := make([]any, len(triggers))
	for i, t := range triggers {
		l[i] = t
	}
	return map[string]any{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": name, "project": "default"},
		"spec": map[string]any{"triggers": l, "stages": []any{map[string]any{"name": "sync", "type": "SystemSync", "config": map[string]any{
			"gitToSystemSync": true, "systemToGitSync": false, "sourceAsDestination": true,
			"excludedResources": []any{map[string]any{"name": "Agent"}},
			"sourceRepo":        map[string]any{"repository": repository, "revision": "main", "path": map[string]any{"name": folder}}}}}}}
}

// cronState waits until trigger tr of pipeline name's stage has been
// checked at a tick after since, and returns its stored state.
func cronState(t *testing.T, s *server.Server, name string, since time.Time) pipeline.CronState {
	t.Helper()
	ctx := context.Background()
	var st pipeline.CronState
	eventually(t, "a Cron check after "+since.Format(time.RFC3339Nano), func() bool {
		stages, _, err := pipeline.LoadStages(ctx, s.Runner.System)
		if err != nil {
			t.Fatal(err)
		}
		for _, stage := range stages {
			if stage.PipelineName() != "default/"+name {
				continue
			}
			if st, err = s.Runner.LoadCronState(ctx, stage, stage.Triggers[0]); err != nil {
				t.Fatal(err)
			}
			return st.Tick.After(since)
		}
		return false
	})
	return st
}

// payloadTick is the tick a Cron run's event payload names.
func payloadTick(t *testing.T, s *server.Server, run *pipeline.Run) time.Time {
	t.Helper()
	full, err := s.Runner.Runs.Get(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Cron struct{ Schedule, Tick, After string } `json:"cron"`
	}
	if err := json.Unmarshal(full.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Cron.Schedule != "* * * * *" || p.Cron.After != run.Commit {
		t.Fatalf("a Cron run's event payload %s lacks its schedule or commit", full.Payload)
	}
	tick, err := time.Parse(time.RFC3339, p.Cron.Tick)
	if err != nil {
		t.Fatalf("the payload's tick: %v", err)
	}
	return tick
}

// In local mode, a `* * * * *` Cron trigger on a plain Git remote served
// over HTTP applies a change under its paths at a tick (a run with trigger
// Cron), and the ticks after it without a change start nothing; neither
// does a change outside its paths. The poller, which polls every 50ms
// here, never runs the pipeline: its triggers are all Cron. The scheduler
// ticks every second instead of every minute, each tick checking the
// triggers that match its minute.
func TestCronTriggerInLocalMode(t *testing.T) {
	ctx := context.Background()
	s := startLocal(t, func(c *config.Config) { c.CronTick, c.PollInterval = time.Second, 50*time.Millisecond })
	sys := controllerapi.New(s.BaseURL, apiKey)
	url := gittest.Serve(t).NewBare(t, "specs")
	work := gittest.Clone(t, url)
	work.Write(map[string]string{"README.md": "specs\n"}).Commit("first")
	work.Push("main")
	for _, obj := range []map[string]any{
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "specs", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": url}},
		triggeredPipeline("every-minute", "specs", folder, trigger("every-minute", "Cron", "* * * * *", "specs", folder+"/projects/default/namespaces")),
	} {
		if _, err := sys.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	first := cronState(t, s, "every-minute", time.Time{}) // the branch as it is: nothing to apply

	work.Write(map[string]string{p("a"): ns("a", "dev")})
	sha := work.Commit("a")
	work.Push("main")
	var runs []*pipeline.Run
	eventually(t, "the Cron run", func() bool {
		runs = pipelineRuns(t, s, "every-minute")
		return len(runs) == 1 && runs[0].EndedAt != nil
	})
	if r := runs[0]; r.Trigger != pipeline.TriggerCron || r.Status != pipeline.StatusSuccess || r.Commit != sha {
		t.Fatalf("run %+v, want a Cron run of %s that succeeded", r, sha)
	}
	if _, err := sys.Get(ctx, "Namespace", "default", "a"); err != nil {
		t.Fatalf("a not applied: %v", err)
	}
	tick := payloadTick(t, s, runs[0])
	if !tick.After(first.Tick) {
		t.Fatalf("the run's tick %s is not after the first check's %s", tick, first.Tick)
	}

	// Two more ticks handled, and still one run.
	later := cronState(t, s, "every-minute", tick.Add(time.Second))
	if later.Commit != sha {
		t.Fatalf("checked at %s: commit %s, want %s", later.Tick, later.Commit, sha)
	}
	if runs := pipelineRuns(t, s, "every-minute"); len(runs) != 1 {
		t.Fatalf("%d runs after ticks without a change", len(runs))
	}

	// A change in the folder, outside the trigger's paths: checked, no run.
	work.Write(map[string]string{folder + "/projects/default.yaml": "# the default project\n"})
	outside := work.Commit("outside the paths")
	work.Push("main")
	eventually(t, "the check of the change outside the paths", func() bool {
		return cronState(t, s, "every-minute", time.Time{}).Commit == outside
	})
	if runs := pipelineRuns(t, s, "every-minute"); len(runs) != 1 {
		t.Fatalf("%d runs after a change outside the trigger's paths", len(runs))
	}

	// The console's triggers page shows the trigger and its run, type Cron.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	login, _ := http.NewRequest(http.MethodPost, s.BaseURL+"/login", strings.NewReader(neturl.Values{"api_key": {apiKey}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	login.Header.Set("Origin", s.BaseURL)
	if resp, err := browser.Do(login); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %v %v", resp, err)
	}
	resp, err := browser.Get(s.BaseURL + "/pipelines/default/every-minute/triggers")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"<td>every-minute</td><td>Cron</td><td>specs</td><td>main</td><td>" + folder + "/projects/default/namespaces; cron * * * * *</td>",
		"<tr><td>Cron</td>", "Cron * * * * * at " + tick.Format(time.RFC3339)} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the triggers page lacks %q:\n%s", want, page)
		}
	}
}

// A bad cron expression is refused on save, a 400 naming the field; in
// Git, the pipeline's file is an invalid row naming it and the rest syncs.
func TestBadCronExpressionIsRefused(t *testing.T) {
	ctx := context.Background()
	s := startLocal(t, func(c *config.Config) { c.CronTick, c.PollInterval = time.Second, 50*time.Millisecond })
	bad := triggeredPipeline("bad", "demo", "", trigger("nightly", "Cron", "0 25 * * *", "demo"))
	body, _ := json.Marshal(bad)
	req, _ := http.NewRequest(http.MethodPost, s.BaseURL+"/apis/gitops.k8smgmt.io/v3/projects/default/pipelines", strings.NewReader(string(body)))
	req.Header.Set("X-API-KEY", apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(answer), "spec.triggers[0].config.cronExpression") ||
		!strings.Contains(string(answer), "above maximum") {
		t.Fatalf("apply of a pipeline with cronExpression 0 25 * * *: %d %s", resp.StatusCode, answer)
	}
	if _, err := controllerapi.New(s.BaseURL, apiKey).Get(ctx, "Pipeline", "default", "bad"); !controllerapi.IsNotFound(err) {
		t.Fatalf("the refused pipeline was stored: %v", err)
	}

	// The same file pushed to the demo repository, which local mode polls.
	work := gittest.Clone(t, "file://"+server.DemoRepoPath(s.Config.DataDir))
	file := "projects/default/pipelines/bad.yaml"
	work.Write(map[string]string{file: "apiVersion: gitops.k8smgmt.io/v3\nkind: Pipeline\nmetadata:\n  name: bad\n  project: default\nspec:\n" +
		"  triggers:\n  - config:\n      cronExpression: 0 25 * * *\n    name: nightly\n    type: Cron\n",
		"projects/default/namespaces/fine.yaml": "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: fine\n  project: default\nspec: {}\n"})
	sha := work.Commit("a bad pipeline and a fine namespace")
	work.Push("main")
	var run *pipeline.Run
	eventually(t, "the run of the push", func() bool {
		runs := pipelineRuns(t, s, server.DemoPipeline)
		if len(runs) == 0 || runs[0].EndedAt == nil || runs[0].Commit != sha {
			return false
		}
		run, err = s.Runner.Runs.Get(ctx, runs[0].ID)
		return err == nil
	})
	var rows []string
	for _, r := range run.Rows {
		rows = append(rows, r.Name+":"+r.Outcome+":"+r.Message)
	}
	got := strings.Join(rows, "\n")
	if run.Status != pipeline.StatusPartial || !strings.Contains(got, "fine:applied") ||
		!strings.Contains(got, file+":9: spec.triggers[0].config.cronExpression") {
		t.Fatalf("run %s, rows:\n%s", run.Status, got)
	}
}

// jobDone waits for the job of a GitHub delivery to complete.
func jobDone(t *testing.T, b *bot, delivery string) {
	t.Helper()
	q := `SELECT state FROM river_job WHERE kind = 'github_event' AND json_extract(args, '$.delivery_id') = ?`
	if b.s.DB.Dialect != store.SQLite {
		q = `SELECT state FROM river_job WHERE kind = 'github_event' AND args->>'delivery_id' = ?`
	}
	eventually(t, "the job of delivery "+delivery, func() bool {
		var state string
		err := b.s.DB.QueryRow(context.Background(), q, delivery).Scan(&state)
		if err == nil && state != "completed" && state != "available" && state != "running" && state != "scheduled" {
			t.Fatalf("the job of %s ended %s", delivery, state)
		}
		return err == nil && state == "completed"
	})
}

// On GitHub, a Webhook trigger with paths: a push outside them starts no
// run once its job is done, a push inside them does; and a pipeline whose
// triggers are all Cron runs on its ticks, fetching with the
// installation's token, never on a push.
func TestTriggerPathsAndCronOnGitHub(t *testing.T) {
	ctx := context.Background()
	b := startBot(t, func(c *config.Config) { c.CronTick = time.Second })
	if _, err := b.sys.Apply(ctx, triggeredPipeline("system-sync", "specs", folder,
		trigger("push", "Webhook", "", "specs", folder+"/projects/default/namespaces/b.yaml"))); err != nil {
		t.Fatal(err)
	}
	b.work.Write(map[string]string{p("a"): ns("a", "dev")})
	before := b.work.Commit("a")
	b.work.Push("main")
	jobDone(t, b, b.push(t, "0000000000000000000000000000000000000000", before, "main"))
	// The first push of the branch is applied whatever it touches.
	if runs := b.waitRuns(t, 1); runs[0].Trigger != pipeline.TriggerWebhook {
		t.Fatalf("run %+v", runs[0])
	}
	b.work.Write(map[string]string{p("a"): ns("a", "prod")})
	outside := b.work.Commit("a to prod, outside the trigger's paths")
	b.work.Push("main")
	jobDone(t, b, b.push(t, before, outside, "main"))
	if runs := b.runs(t); len(runs) != 1 {
		t.Fatalf("%d runs after a push outside the trigger's paths", len(runs))
	}
	b.work.Write(map[string]string{p("b"): ns("b", "dev")})
	inside := b.work.Commit("b, inside")
	b.work.Push("main")
	jobDone(t, b, b.push(t, outside, inside, "main"))
	if runs := b.waitRuns(t, 2); runs[0].Commit != inside || runs[0].Status != pipeline.StatusSuccess {
		t.Fatalf("run of the push inside the paths: %+v", runs[0])
	}

	// The same pipeline with a Cron trigger alone, due in twelve hours: a
	// push starts no run. Edited to every minute, its next tick does.
	now := time.Now().UTC()
	later := fmt.Sprintf("%d %d * * *", (now.Minute()+30)%60, (now.Hour()+12)%24)
	if _, err := b.sys.Apply(ctx, triggeredPipeline("system-sync", "specs", folder, trigger("every-minute", "Cron", later, "specs"))); err != nil {
		t.Fatal(err)
	}
	b.work.Write(map[string]string{p("c"): ns("c", "dev")})
	cronSHA := b.work.Commit("c")
	b.work.Push("main")
	jobDone(t, b, b.push(t, inside, cronSHA, "main"))
	if runs := b.runs(t); len(runs) != 2 {
		t.Fatalf("%d runs after a push to a pipeline whose triggers are all Cron", len(runs))
	}
	if _, err := b.sys.Apply(ctx, triggeredPipeline("system-sync", "specs", folder, trigger("every-minute", "Cron", "* * * * *", "specs"))); err != nil {
		t.Fatal(err)
	}
	var runs []*pipeline.Run
	eventually(t, "the Cron run", func() bool {
		runs = b.runs(t)
		return len(runs) == 3 && runs[0].EndedAt != nil
	})
	if runs[0].Trigger != pipeline.TriggerCron || runs[0].Commit != cronSHA || runs[0].Status != pipeline.StatusSuccess {
		t.Fatalf("run %+v, want the tick's Cron run of %s", runs[0], cronSHA)
	}
	if _, err := b.sys.Get(ctx, "Namespace", "default", "c"); err != nil {
		t.Fatalf("c not applied: %v", err)
	}
}
