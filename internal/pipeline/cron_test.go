package pipeline_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// withTriggers is pipeline p with spec.triggers set.
func withTriggers(p map[string]any, triggers ...map[string]any) map[string]any {
	l := make([]any, len(triggers))
	for i, t := range triggers {
		l[i] = t
	}
	p["spec"].(map[string]any)["triggers"] = l
	return p
}

func cronTrigger(name, expr string, paths ...string) map[string]any {
	repo := map[string]any{"repository": "specs", "revision": "main"}
	if len(paths) > 0 {
		var l []any
		for _, p := range paths {
			l = append(l, map[string]any{"name": p})
		}
		repo["paths"] = l
	}
	return map[string]any{"name": name, "type": "Cron", "config": map[string]any{"cronExpression": expr, "repo": repo}}
}

func webhookTrigger(name string, paths ...string) map[string]any {
	t := cronTrigger(name, "", paths...)
	t["type"] = "Webhook"
	delete(t["config"].(map[string]any), "cronExpression")
	return t
}

func TestTriggersOfAStage(t *testing.T) {
	repos := map[string]string{"specs": "https://git.example.com/specs.git", "other": "https://git.example.com/other.git"}
	stageOf := func(p map[string]any) pipeline.Stage {
		t.Helper()
		stages, errs := pipeline.Stages(p, repos)
		if len(errs) > 0 || len(stages) != 1 {
			t.Fatalf("stages %v errors %v", stages, errs)
		}
		return stages[0]
	}

	st := stageOf(syncPipeline("specs", "infra"))
	if st.CronOnly() || !reflect.DeepEqual(st.PushPaths(), pipeline.Paths{"infra"}) {
		t.Errorf("no triggers: cron only %v, push paths %q; want pushes under the folder", st.CronOnly(), st.PushPaths())
	}
	st = stageOf(withTriggers(syncPipeline("specs", "infra"), cronTrigger("nightly", "0 3 * * *")))
	if !st.CronOnly() || st.Triggers[0].Schedule != "0 3 * * *" || st.Triggers[0].Repo.URL != repos["specs"] {
		t.Errorf("a Cron trigger alone: cron only %v, %+v", st.CronOnly(), st.Triggers)
	}
	st = stageOf(withTriggers(syncPipeline("specs", "infra"), cronTrigger("nightly", "0 3 * * *"), webhookTrigger("push")))
	if st.CronOnly() || !reflect.DeepEqual(st.PushPaths(), pipeline.Paths{"infra"}) {
		t.Errorf("Cron and Webhook: cron only %v, push paths %q", st.CronOnly(), st.PushPaths())
	}
	// Paths as people write them; a Webhook trigger of another repository or branch says nothing of this one.
	other := webhookTrigger("elsewhere", "unrelated")
	other["config"].(map[string]any)["repo"].(map[string]any)["repository"] = "other"
	dev := webhookTrigger("dev", "unrelated")
	dev["config"].(map[string]any)["repo"].(map[string]any)["revision"] = "dev"
	st = stageOf(withTriggers(syncPipeline("specs", "infra"),
		webhookTrigger("push", "./infra/projects/prod/", "/infra/projects/stage/*", "apps/*/values.yaml", "alpha.yaml"), other, dev))
	want := pipeline.Paths{"infra/projects/prod", "infra/projects/stage", "apps/*/values.yaml", "alpha.yaml"}
	if got := st.PushPaths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("push paths %q, want %q", got, want)
	}
	for file, watched := range map[string]bool{
		"infra/projects/prod/namespaces/a.yaml": true,
		"infra/projects/prod":                   true,
		"infra/projects/production/x.yaml":      false, // a prefix of the name is not the folder
		"infra/projects/stage/clusters/c.yaml":  true,
		"infra/projects/dev/namespaces/a.yaml":  false,
		"apps/echo/values.yaml":                 true,
		"apps/echo/other.yaml":                  false,
		"alpha.yaml":                            true,
		"docs/alpha.yaml":                       false,
		"unrelated/file":                        false,
	} {
		if got := st.PushPaths().Match(file); got != watched {
			t.Errorf("%s watched: %v, want %v", file, got, watched)
		}
	}
	// Rafay's API's shape: config.cron.cronExpression and config.cron.repo.git.
	rafay := withTriggers(syncPipeline("specs", "infra"), map[string]any{"name": "some-trigger", "type": "Cron", "config": map[string]any{
		"cron": map[string]any{"cronExpression": "*/5 * * * *", "repo": map[string]any{"git": map[string]any{
			"repository": "other", "revision": "master", "paths": []any{map[string]any{"name": "some/relative/path"}}}}}}})
	tr := stageOf(rafay).Triggers[0]
	if tr.Schedule != "*/5 * * * *" || tr.Repo.URL != repos["other"] || tr.Repo.Revision != "master" ||
		!reflect.DeepEqual(tr.Repo.Paths, pipeline.Paths{"some/relative/path"}) {
		t.Errorf("Rafay's Cron trigger read as %+v", tr)
	}
	at := time.Date(2025, 3, 4, 10, 15, 30, 0, time.UTC)
	if !tr.Due(at) || tr.Due(at.Add(time.Minute)) {
		t.Errorf("*/5 due at 10:15:30 %v, at 10:16:30 %v", tr.Due(at), tr.Due(at.Add(time.Minute)))
	}
	// A Cron trigger naming a repository that is not there is a problem of its pipeline; the stage stays.
	missing := withTriggers(syncPipeline("specs", "infra"), cronTrigger("nightly", "0 3 * * *"))
	missing["spec"].(map[string]any)["triggers"].([]any)[0].(map[string]any)["config"].(map[string]any)["repo"].(map[string]any)["repository"] = "gone"
	stages, errs := pipeline.Stages(missing, repos)
	if len(stages) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), `trigger nightly (spec.triggers[0]): repository "gone" not found`) {
		t.Errorf("missing repository: stages %d, errors %v", len(stages), errs)
	}
}

// cronPayload is a Cron run's event payload.
type cronPayload struct {
	Cron struct {
		Trigger, Schedule, Tick, Repository, Ref, Before, After string
		Paths                                                   []string
	} `json:"cron"`
}

// A Cron trigger applies a change under its paths at its tick, as a run
// with trigger Cron whose payload says the schedule, the tick and the
// commit; the next tick without a change starts nothing; a change outside
// its paths neither; and the poller leaves a pipeline that only Cron
// triggers alone.
func TestCronTickAppliesChangesUnderItsPathsOnce(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "infra")
	p := withTriggers(syncPipeline("specs", "infra"), cronTrigger("every-minute", "* * * * *", "infra/projects/default/namespaces/a.yaml"),
		cronTrigger("new-year", "0 0 1 1 *"))
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	cron := &pipeline.Cron{Runner: e.runner, Log: e.runner.Log}
	stages, _, err := pipeline.LoadStages(ctx, e.sys)
	if err != nil || len(stages) != 1 {
		t.Fatalf("stages %v (%v)", stages, err)
	}
	st := stages[0]
	runs := func() []*pipeline.Run {
		t.Helper()
		runs, err := e.runner.Runs.List(ctx, "default/system-sync", 10)
		if err != nil {
			t.Fatal(err)
		}
		return runs
	}
	state := func(i int) pipeline.CronState {
		t.Helper()
		s, err := e.runner.LoadCronState(ctx, st, st.Triggers[i])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	e.work.Write(map[string]string{"infra/projects/default/namespaces/a.yaml": ns("default", "a", "dev")})
	head := e.work.Commit("a")
	e.work.Push("main")
	tick := time.Date(2025, 3, 4, 10, 17, 0, 0, time.UTC)
	if err := cron.Tick(ctx, tick); err != nil {
		t.Fatal(err)
	}
	got := runs()
	if len(got) != 1 || got[0].Trigger != pipeline.TriggerCron || got[0].Status != pipeline.StatusSuccess || got[0].Commit != head {
		t.Fatalf("runs after the first tick: %+v", got)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "a"); err != nil {
		t.Fatalf("a not applied: %v", err)
	}
	run, err := e.runner.Runs.Get(ctx, got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var pl cronPayload
	if err := json.Unmarshal(run.Payload, &pl); err != nil {
		t.Fatal(err)
	}
	if c := pl.Cron; c.Trigger != "every-minute" || c.Schedule != "* * * * *" || c.Tick != "2025-03-04T10:17:00Z" || c.After != head ||
		c.Ref != "refs/heads/main" || !reflect.DeepEqual(c.Paths, []string{"infra/projects/default/namespaces/a.yaml"}) {
		t.Fatalf("event payload %s", run.Payload)
	}
	if s := state(0); s.Commit != head || !s.Tick.Equal(tick) || s.Error != "" {
		t.Fatalf("state after the first tick: %+v", s)
	}
	if s := state(1); !s.Tick.IsZero() {
		t.Fatalf("a trigger that was not due was checked: %+v", s)
	}

	// The next tick, nothing new: checked, no run.
	if err := cron.Tick(ctx, tick.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s := state(0); !s.Tick.Equal(tick.Add(time.Minute)) || s.Commit != head {
		t.Fatalf("state after the second tick: %+v", s)
	}
	if n := len(runs()); n != 1 {
		t.Fatalf("%d runs after a tick without a change", n)
	}

	// A change outside the trigger's paths, though in the folder: no run,
	// at a tick or a poll, and the change waits.
	e.work.Write(map[string]string{"infra/projects/default/namespaces/b.yaml": ns("default", "b", "dev")})
	outside := e.work.Commit("b")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cron.Tick(ctx, tick.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s := state(0); s.Commit != outside {
		t.Fatalf("state after a change outside the paths: %+v", s)
	}
	if n := len(runs()); n != 1 {
		t.Fatalf("%d runs after a change outside the trigger's paths", n)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "b"); !controllerapi.IsNotFound(err) {
		t.Fatalf("b was applied without a change under the trigger's paths: %v", err)
	}

	// A change under them applies the folder as it is.
	e.work.Write(map[string]string{"infra/projects/default/namespaces/a.yaml": ns("default", "a", "prod")})
	inside := e.work.Commit("a to prod")
	e.work.Push("main")
	if err := cron.Tick(ctx, tick.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got = runs()
	if len(got) != 2 || got[0].Trigger != pipeline.TriggerCron || got[0].Commit != inside {
		t.Fatalf("runs after a change under the paths: %+v", got)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "b"); err != nil {
		t.Fatalf("b not applied with the folder: %v", err)
	}

	// A pipeline deleted in the system has no more ticks.
	if err := e.sys.Delete(ctx, "Pipeline", "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{"infra/projects/default/namespaces/a.yaml": ns("default", "a", "stage")}).Commit("a to stage")
	e.work.Push("main")
	if err := cron.Tick(ctx, tick.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s := state(0); s.Commit != inside || !s.Tick.Equal(tick.Add(3*time.Minute)) {
		t.Fatalf("a deleted pipeline's trigger was checked: %+v", s)
	}
	if n := len(runs()); n != 2 {
		t.Fatalf("%d runs after the pipeline was deleted", n)
	}
}

// A Cron trigger whose repository cannot be read records one Failed run
// when it starts failing, not one a tick, and syncs once it can.
func TestFailingCronRepositoryFailsOneRun(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	down := newHits(t)
	if _, err := e.sys.Apply(ctx, repository("down", down.URL+"/down.git")); err != nil {
		t.Fatal(err)
	}
	tr := cronTrigger("every-minute", "* * * * *")
	tr["config"].(map[string]any)["repo"].(map[string]any)["repository"] = "down"
	if _, err := e.sys.Apply(ctx, withTriggers(syncPipeline("specs", ""), tr)); err != nil {
		t.Fatal(err)
	}
	cron := &pipeline.Cron{Runner: e.runner, Log: e.runner.Log}
	tick := time.Date(2025, 3, 4, 10, 17, 0, 0, time.UTC)
	for i := range 3 {
		if err := cron.Tick(ctx, tick.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != pipeline.StatusFailed || runs[0].Trigger != pipeline.TriggerCron || down.n.Load() < 3 {
		t.Fatalf("runs after three failing ticks (%d requests): %+v", down.n.Load(), runs)
	}
	// Back on a repository that answers: a change there (its first check)
	// applies the stage's source, another repository, at its branch.
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	watched := gittest.Serve(t).NewBare(t, "watched")
	w := gittest.Clone(t, watched)
	w.Write(map[string]string{"trigger.txt": "go\n"}).Commit("go")
	w.Push("main")
	if _, err := e.sys.Apply(ctx, repository("down", watched)); err != nil {
		t.Fatal(err)
	}
	if err := cron.Tick(ctx, tick.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	runs, _ = e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 2 || runs[0].Status != pipeline.StatusSuccess || runs[0].Trigger != pipeline.TriggerCron {
		t.Fatalf("runs after the repository recovered: %+v", runs)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "a"); err != nil {
		t.Fatalf("a not applied: %v", err)
	}
}

// A polled Webhook trigger with paths: a push touching none of them starts
// no run (though it is in the folder), one touching them does.
func TestPollHonoursWebhookTriggerPaths(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "infra")
	if _, err := e.sys.Apply(ctx, withTriggers(syncPipeline("specs", "infra"), webhookTrigger("push", "infra/projects/default/namespaces/b.yaml"))); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{"README.md": "specs\n"}).Commit("first")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil { // the first poll applies the branch as it is: nothing
		t.Fatal(err)
	}
	e.work.Write(map[string]string{"infra/projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("outside the paths")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10); len(runs) != 0 {
		t.Fatalf("a push outside the trigger's paths started %d runs", len(runs))
	}
	e.work.Write(map[string]string{"infra/projects/default/namespaces/b.yaml": ns("default", "b", "dev")}).Commit("inside")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 1 || runs[0].Trigger != pipeline.TriggerWebhook || runs[0].Status != pipeline.StatusSuccess {
		t.Fatalf("runs after a push inside the paths: %+v", runs)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "a"); err != nil {
		t.Fatalf("the folder was not applied with the change under the paths: %v", err)
	}
}
