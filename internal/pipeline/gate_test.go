package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/expr"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// stage0 is the first stage of pipeline p.
func stage0(p map[string]any) map[string]any {
	return p["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)
}

func preConditions(exprs ...string) []any {
	var l []any
	for _, e := range exprs {
		l = append(l, map[string]any{"type": "Expression", "config": map[string]any{"expression": e}})
	}
	return l
}

func variable(name, typ, value string) map[string]any {
	return map[string]any{"name": name, "type": typ, "value": value}
}

// runPayload is what a gated run adds to its event payload.
type runPayload struct {
	Stage     string      `json:"stage"`
	Variables []expr.Used `json:"variables"`
	Stages    []struct {
		Name, Type, Status, Message string
	} `json:"stages"`
}

func payloadOf(t *testing.T, e *env, id int64) (*pipeline.Run, runPayload) {
	t.Helper()
	run, err := e.runner.Runs.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var p runPayload
	if err := json.Unmarshal(run.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", run.Payload, err)
	}
	return run, p
}

func latestRun(t *testing.T, e *env, n int) *pipeline.Run {
	t.Helper()
	runs, err := e.runner.Runs.List(context.Background(), "default/system-sync", 10)
	if err != nil || len(runs) != n {
		t.Fatalf("want %d runs, got %+v (%v)", n, runs, err)
	}
	return runs[0]
}

// A stage runs when its pre-conditions hold (Rafay's own example
// trigger.name == 'test-trigger', for a push its Webhook trigger of that
// name started) and is Skipped when one is false, the run saying which;
// nothing of its commit is applied then.
func TestPreConditionSkipsOrRuns(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	p := withTriggers(syncPipeline("specs", ""), webhookTrigger("test-trigger"))
	stage0(p)["preConditions"] = preConditions("trigger.name == 'test-trigger'", "trigger.type == 'Webhook' && trigger.payload.poll.ref == 'refs/heads/main'")
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	run := latestRun(t, e, 1)
	if run.Status != pipeline.StatusSuccess {
		t.Fatalf("true pre-conditions: run %+v", run)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "a"); err != nil {
		t.Fatalf("a not applied: %v", err)
	}

	// The same stage with a pre-condition that never holds: skipped.
	stage0(p)["preConditions"] = preConditions("trigger.name == 'test-trigger'", "trigger.name == 'never-matches'")
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{"projects/default/namespaces/b.yaml": ns("default", "b", "dev")}).Commit("b")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	run = latestRun(t, e, 2)
	if run.Status != pipeline.StatusSkipped || !strings.Contains(run.Message, "`trigger.name == 'never-matches'`") ||
		!strings.Contains(run.Message, "spec.stages[0].preConditions[1].config.expression") || !strings.Contains(run.Message, "is false") {
		t.Fatalf("false pre-condition: run %+v", run)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "b"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a skipped stage applied b: %v", err)
	}
	_, pl := payloadOf(t, e, run.ID)
	if pl.Stage != "sync" {
		t.Errorf("payload stage %q", pl.Stage)
	}
	// The poll went past the commit: it is not tried again.
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	latestRun(t, e, 2)
}

// Variables of five scopes, narrower winning: the stage's beats the
// pipeline's, the project's the organization's; a variable in
// sourceRepo.revision picks the branch; pre-conditions see them and the
// run (pipeline.instanceID is its id); the run's payload lists the
// values used, a Secret's name only.
func TestVariablesOfEveryScope(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	x, err := pipeline.NewExpressions("acme",
		[]expr.Variable{{Name: "region", Type: "String", Value: `"eu"`}, {Name: "token", Type: "Secret", Value: `"s3cret-value"`}},
		map[string][]expr.Variable{"default": {{Name: "region", Type: "String", Value: `"us"`}}})
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Expressions = x
	p := withTriggers(syncPipeline("specs", ""), webhookTrigger("push"))
	delete(p["spec"].(map[string]any)["triggers"].([]any)[0].(map[string]any)["config"].(map[string]any)["repo"].(map[string]any), "revision")
	p["spec"].(map[string]any)["variables"] = []any{variable("branch", "String", `"main"`), variable("replicas", "Number", "2")}
	p["spec"].(map[string]any)["triggers"].([]any)[0].(map[string]any)["variables"] = []any{variable("who", "String", "trigger.name")}
	st := stage0(p)
	st["variables"] = []any{variable("branch", "String", `"dev"`), variable("run", "Number", "pipeline.instanceID"),
		variable("touched", "List", "trigger.files")}
	st["config"].(map[string]any)["sourceRepo"].(map[string]any)["revision"] = "{{ .variables.branch }}"
	st["preConditions"] = preConditions("organization.name == 'acme' && variables.region == 'us' && variables.who == 'push' && variables.replicas > 1")
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	stages, _, err := e.runner.LoadStages(ctx)
	if err != nil || len(stages) != 1 || stages[0].Source.Revision != "dev" {
		t.Fatalf("stages %+v, %v: want the source at branch dev", stages, err)
	}
	e.work.Write(map[string]string{"README.md": "specs\n"}).Commit("start")
	e.work.Push("main")
	e.work.Run("checkout", "-q", "-b", "dev")
	e.work.Write(map[string]string{"projects/default/namespaces/on-dev.yaml": ns("default", "on-dev", "x")}).Commit("dev 1")
	e.work.Push("dev")
	e.work.Run("checkout", "-q", "main")
	e.work.Write(map[string]string{"projects/default/namespaces/on-main.yaml": ns("default", "on-main", "x")}).Commit("main")
	e.work.Push("main")
	e.work.Run("checkout", "-q", "dev")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{"projects/default/namespaces/on-dev.yaml": ns("default", "on-dev", "y")}).Commit("dev 2")
	e.work.Push("dev")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "on-dev"); err != nil {
		t.Fatalf("the branch the variable names was not applied: %v", err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "on-main"); !controllerapi.IsNotFound(err) {
		t.Fatalf("main was applied: %v", err)
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 2 || runs[0].Status != pipeline.StatusSuccess {
		t.Fatalf("runs %+v", runs)
	}
	run, pl := payloadOf(t, e, runs[0].ID)
	got := map[string]expr.Used{}
	for _, u := range pl.Variables {
		got[u.Name] = u
	}
	if u := got["branch"]; u.Value != "dev" || u.Scope != expr.ScopeStage {
		t.Errorf("branch used %+v, want dev from the stage", u)
	}
	if u := got["region"]; u.Value != "us" || u.Scope != expr.ScopeProject {
		t.Errorf("region used %+v, want us from the project", u)
	}
	if u := got["who"]; u.Value != "push" || u.Scope != expr.ScopeTrigger {
		t.Errorf("who used %+v", u)
	}
	if u := got["run"]; u.Value != float64(run.ID) {
		t.Errorf("run used %+v, want the run's id %d", u, run.ID)
	}
	if u := got["touched"]; len(u.Value.([]any)) != 1 || u.Value.([]any)[0] != "projects/default/namespaces/on-dev.yaml" {
		t.Errorf("touched used %+v, want the file the push changed", u)
	}
	if u, ok := got["token"]; !ok || u.Value != nil || strings.Contains(string(run.Payload), "s3cret-value") {
		t.Errorf("a Secret variable shown as %+v in %s", u, run.Payload)
	}
	if !strings.Contains(string(run.Payload), `"poll":`) {
		t.Errorf("the event itself left the payload: %s", run.Payload)
	}
}

// A variable whose value is not of its type when it runs fails the stage,
// the run naming its scope and name.
func TestBadVariableFailsTheStage(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	p := syncPipeline("specs", "")
	stage0(p)["variables"] = []any{variable("flag", "Boolean", "trigger.payload.poll.ref")}
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{"projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	run := latestRun(t, e, 1)
	if run.Status != pipeline.StatusFailed || !strings.Contains(run.Message, "variable flag (stage scope, spec.stages[0].variables[0])") ||
		!strings.Contains(run.Message, "not a Boolean") {
		t.Fatalf("run %+v", run)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "a"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a failed stage applied: %v", err)
	}
}

// Stages run as next orders them: the second reads the first's status in
// its pre-condition, and starts once the first ended; a DeployWorkload
// stage is kept and shown as not run by this bot.
func TestStagesRunInNextOrder(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	p := syncPipeline("specs", "first")
	first := stage0(p)
	first["name"] = "first"
	first["config"].(map[string]any)["systemToGitSync"] = false
	first["next"] = []any{map[string]any{"name": "second"}}
	second := map[string]any{"name": "second", "type": "SystemSync", "next": []any{map[string]any{"name": "deploy"}},
		"preConditions": preConditions("stages.first.status == 'Success' && currentStage.name == 'second'"),
		"config": map[string]any{"gitToSystemSync": true, "sourceAsDestination": true,
			"sourceRepo": map[string]any{"repository": "specs", "revision": "main", "path": map[string]any{"name": "second"}}}}
	deploy := map[string]any{"name": "deploy", "type": "DeployWorkload", "config": map[string]any{"workload": "echo"}}
	// Listed out of order: next decides.
	p["spec"].(map[string]any)["stages"] = []any{second, deploy, first}
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{
		"first/projects/default/namespaces/a.yaml":  ns("default", "a", "v1"),
		"second/projects/default/namespaces/b.yaml": ns("default", "b", "v2"),
	}).Commit("both")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 2 {
		for _, r := range runs {
			full, _ := e.runner.Runs.Get(ctx, r.ID)
			t.Logf("run %s", celJSON(full))
		}
		t.Fatalf("runs %s", celJSON(runs))
	}
	r1, p1 := payloadOf(t, e, runs[1].ID)
	r2, p2 := payloadOf(t, e, runs[0].ID)
	if p1.Stage != "first" || p2.Stage != "second" || r1.Status != pipeline.StatusSuccess || r2.Status != pipeline.StatusSuccess {
		t.Fatalf("runs in order %s (%s), %s (%s); want first then second, both Success", p1.Stage, r1.Status, p2.Stage, r2.Status)
	}
	if r1.EndedAt == nil || r2.StartedAt.Before(*r1.EndedAt) {
		t.Errorf("second started %v, before first ended %v", r2.StartedAt, r1.EndedAt)
	}
	shown := map[string]string{}
	for _, s := range p2.Stages {
		shown[s.Name] = s.Type + ":" + s.Status + ":" + s.Message
	}
	if shown["first"] != "SystemSync:Success:" || shown["second"] != "SystemSync:In Progress:" ||
		shown["deploy"] != "DeployWorkload:Not Run:"+pipeline.NotRunByBot {
		t.Errorf("stages shown %v", shown)
	}
	if _, err := e.sys.Get(ctx, "Pipeline", "default", "system-sync"); err != nil {
		t.Fatal(err)
	}

	// The first failing (its variable), the second is not run.
	first["variables"] = []any{variable("flag", "Boolean", "trigger.payload.poll.ref")}
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{
		"first/projects/default/namespaces/a.yaml":  ns("default", "a", "v3"),
		"second/projects/default/namespaces/b.yaml": ns("default", "b", "v4"),
	}).Commit("both again")
	e.work.Push("main")
	e.poller.PollOnce(ctx)
	runs, _ = e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 3 || runs[0].Status != pipeline.StatusFailed {
		t.Fatalf("runs %+v", runs)
	}
	if _, p := payloadOf(t, e, runs[0].ID); p.Stage != "first" {
		t.Fatalf("the last run is of %s", p.Stage)
	}
	b, err := e.sys.Get(ctx, "Namespace", "default", "b")
	if err != nil || !strings.Contains(celJSON(b), `"value":"v2"`) {
		t.Fatalf("the second stage ran after the first failed: %s %v", celJSON(b), err)
	}
}

func celJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Stages with no next between them both run, neither waiting for the
// other to succeed (EachStage's internal test shows they run at once).
func TestStagesWithoutNextRunTogether(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	p := syncPipeline("specs", "")
	stage := func(name string) map[string]any {
		return map[string]any{"name": name, "type": "SystemSync",
			"preConditions": preConditions("stages." + map[string]string{"a": "b", "b": "a"}[name] + ".status in ['Pending', 'In Progress', 'Success']"),
			"config": map[string]any{"gitToSystemSync": true, "sourceAsDestination": true,
				"sourceRepo": map[string]any{"repository": "specs", "revision": "main", "path": map[string]any{"name": name}}}}
	}
	p["spec"].(map[string]any)["stages"] = []any{stage("a"), stage("b")}
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.work.Write(map[string]string{
		"a/projects/default/namespaces/a.yaml": ns("default", "a", "v1"),
		"b/projects/default/namespaces/b.yaml": ns("default", "b", "v1"),
	}).Commit("both")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 2 || runs[0].Status != pipeline.StatusSuccess || runs[1].Status != pipeline.StatusSuccess {
		t.Fatalf("runs %s", celJSON(runs))
	}
	for _, name := range []string{"a", "b"} {
		if _, err := e.sys.Get(ctx, "Namespace", "default", name); err != nil {
			t.Errorf("%s not applied: %v", name, err)
		}
	}
}
