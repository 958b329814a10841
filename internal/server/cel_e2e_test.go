package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/expr"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/server"
)

// postPipeline posts a pipeline to the API and returns the status and answer.
func postPipeline(t *testing.T, s *server.Server, p map[string]any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(p)
	req, _ := http.NewRequest(http.MethodPost, s.BaseURL+"/apis/gitops.k8smgmt.io/v3/projects/default/pipelines", strings.NewReader(string(body)))
	req.Header.Set("X-API-KEY", apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// gatedPipeline syncs repository's branch {{ .variables.branch }} into the
// system, with a Webhook trigger test-trigger and pre-conditions.
func gatedPipeline(repository string, preConditions ...string) map[string]any {
	var pcs []any
	for _, e := range preConditions {
		pcs = append(pcs, map[string]any{"type": "Expression", "config": map[string]any{"expression": e}})
	}
	v := func(name, typ, value string) any { return map[string]any{"name": name, "type": typ, "value": value} }
	return map[string]any{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "gated", "project": "default"},
		"spec": map[string]any{
			"variables": []any{v("branch", "String", `"main"`)},
			"triggers":  []any{map[string]any{"name": "test-trigger", "type": "Webhook", "config": map[string]any{"repo": map[string]any{"repository": repository}}}},
			"stages": []any{map[string]any{"name": "sync", "type": "SystemSync", "preConditions": pcs,
				"variables": []any{v("branch", "String", `"dev"`)},
				"config": map[string]any{"gitToSystemSync": true, "systemToGitSync": false, "sourceAsDestination": true,
					"sourceRepo": map[string]any{"repository": repository, "revision": "{{ .variables.branch }}"}}}}}}
}

// Over HTTP in local mode: a pipeline whose pre-condition does not compile
// is a 400 naming the field and the error, and an invalid row when it
// comes from Git; one whose pre-conditions hold runs, reading the branch
// its stage variable names over the pipeline's and the project's variable
// over the organization's; one whose pre-condition is false is Skipped,
// the run naming the expression.
func TestPreConditionsAndVariablesInLocalMode(t *testing.T) {
	ctx := context.Background()
	s := startLocal(t, func(c *config.Config) {
		c.PollInterval = 50 * time.Millisecond
		c.Organization = "acme"
		c.Variables = config.Variables{Organization: []expr.Variable{{Name: "region", Type: "String", Value: `"eu"`}},
			Projects: map[string][]expr.Variable{"default": {{Name: "region", Type: "String", Value: `"us"`}}}}
	})
	sys := controllerapi.New(s.BaseURL, apiKey)

	// Refused on save.
	code, answer := postPipeline(t, s, gatedPipeline("gatedrepo", "trigger.nmae == 'test-trigger'"))
	if code != http.StatusBadRequest || !strings.Contains(answer, "spec.stages[0].preConditions[0].config.expression") ||
		!strings.Contains(answer, "undefined field 'nmae'") {
		t.Fatalf("a pre-condition that does not compile: %d %s", code, answer)
	}
	code, answer = postPipeline(t, s, gatedPipeline("gatedrepo", "trigger.name"))
	if code != http.StatusBadRequest || !strings.Contains(answer, "not a boolean") {
		t.Fatalf("a pre-condition that is not boolean: %d %s", code, answer)
	}
	if _, err := sys.Get(ctx, "Pipeline", "default", "gated"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a refused pipeline was stored: %v", err)
	}

	// A repository served over HTTP, its dev branch holding a namespace.
	srv := gittest.Serve(t)
	url := srv.NewBare(t, "gated")
	if _, err := sys.Apply(ctx, map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "gatedrepo", "project": "default"}, "spec": map[string]any{"type": "Git", "endpoint": url}}); err != nil {
		t.Fatal(err)
	}
	work := gittest.Clone(t, url)
	work.Write(map[string]string{"README.md": "gated\n"}).Commit("start")
	work.Push("main")
	work.Run("checkout", "-q", "-b", "dev")
	nsFile := func(value string) string {
		return "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: gated-ns\n  project: default\nspec:\n  placement:\n    labels:\n    - key: env\n      value: " + value + "\n"
	}
	work.Write(map[string]string{"projects/default/namespaces/gated-ns.yaml": nsFile("one")})
	sha := work.Commit("a namespace on dev")
	if code, answer := postPipeline(t, s, gatedPipeline("gatedrepo", "trigger.name == 'test-trigger'",
		"organization.name == 'acme' && variables.region == 'us' && variables.branch == 'dev'")); code >= 300 {
		t.Fatalf("apply the gated pipeline: %d %s", code, answer)
	}
	work.Push("dev")
	var run *pipeline.Run
	eventually(t, "the run of the push to dev", func() bool {
		runs := pipelineRuns(t, s, "gated")
		return len(runs) > 0 && runs[0].EndedAt != nil && runs[0].Commit == sha
	})
	run, err := s.Runner.Runs.Get(ctx, pipelineRuns(t, s, "gated")[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != pipeline.StatusSuccess {
		t.Fatalf("the run whose pre-conditions hold: %+v", run)
	}
	if _, err := sys.Get(ctx, "Namespace", "default", "gated-ns"); err != nil {
		t.Fatalf("the namespace on dev was not applied: %v", err)
	}
	var p struct {
		Variables []expr.Used `json:"variables"`
	}
	json.Unmarshal(run.Payload, &p)
	used := map[string]string{}
	for _, u := range p.Variables {
		used[u.Name] = u.Scope + ":" + u.Value.(string)
	}
	if used["branch"] != "stage:dev" || used["region"] != "project:us" {
		t.Errorf("variables used %v in %s", used, run.Payload)
	}

	// A false pre-condition: Skipped, and the change is not applied.
	if code, answer := postPipeline(t, s, gatedPipeline("gatedrepo", "trigger.name == 'test-trigger'", "trigger.name == 'never-matches'")); code >= 300 {
		t.Fatalf("apply: %d %s", code, answer)
	}
	work.Write(map[string]string{"projects/default/namespaces/gated-ns.yaml": nsFile("two")})
	sha = work.Commit("change it")
	work.Push("dev")
	eventually(t, "the run of the second push", func() bool {
		runs := pipelineRuns(t, s, "gated")
		return len(runs) > 1 && runs[0].EndedAt != nil && runs[0].Commit == sha
	})
	run = pipelineRuns(t, s, "gated")[0]
	if run.Status != pipeline.StatusSkipped || !strings.Contains(run.Message, "`trigger.name == 'never-matches'`") {
		t.Fatalf("the run whose pre-condition is false: %+v", run)
	}
	got, err := sys.Get(ctx, "Namespace", "default", "gated-ns")
	if err != nil || strings.Contains(celJSON(got), "two") {
		t.Fatalf("a skipped stage applied its change: %v %v", got, err)
	}

	// The bad pipeline pushed to the demo repository: an invalid row on its line.
	demo := gittest.Clone(t, "file://"+server.DemoRepoPath(s.Config.DataDir))
	file := "projects/default/pipelines/bad-expression.yaml"
	demo.Write(map[string]string{file: "apiVersion: gitops.k8smgmt.io/v3\nkind: Pipeline\nmetadata:\n  name: bad-expression\n  project: default\nspec:\n" +
		"  stages:\n  - name: sync\n    type: SystemSync\n    preConditions:\n    - type: Expression\n      config:\n        expression: trigger.name ==\n"})
	sha = demo.Commit("a pipeline whose pre-condition does not parse")
	demo.Push("main")
	eventually(t, "the run of the demo push", func() bool {
		runs := pipelineRuns(t, s, server.DemoPipeline)
		return len(runs) > 0 && runs[0].EndedAt != nil && runs[0].Commit == sha
	})
	demoRun, err := s.Runner.Runs.Get(ctx, pipelineRuns(t, s, server.DemoPipeline)[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range demoRun.Rows {
		rows = append(rows, r.Name+":"+r.Action+":"+r.Message)
	}
	if !strings.Contains(strings.Join(rows, "\n"), "bad-expression:invalid:"+file+":13: spec.stages[0].preConditions[0].config.expression") {
		t.Fatalf("rows:\n%s", strings.Join(rows, "\n"))
	}
}

func celJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// On GitHub, a pre-condition reads the push's payload and files: a push
// by a pusher it does not name is Skipped (the apply check run says
// skipped, with the expression); one touching the files it asks for runs.
func TestPreConditionOnGitHubPush(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	pl := triggeredPipeline("system-sync", "specs", folder, trigger("push", "Webhook", "", "specs"))
	st := pl["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)
	st["preConditions"] = []any{map[string]any{"type": "Expression", "config": map[string]any{
		"expression": "trigger.name == 'push' && trigger.payload.ref == 'refs/heads/main' && trigger.files.exists(f, f.endsWith('/b.yaml'))"}}}
	if _, err := b.sys.Apply(ctx, pl); err != nil {
		t.Fatal(err)
	}
	b.work.Write(map[string]string{p("a"): ns("a", "dev")})
	first := b.work.Commit("a")
	b.work.Push("main")
	b.work.Write(map[string]string{p("a"): ns("a", "prod")})
	second := b.work.Commit("a again, no b")
	b.work.Push("main")
	jobDone(t, b, b.push(t, first, second, "main"))
	runs := b.waitRuns(t, 1)
	if runs[0].Status != pipeline.StatusSkipped || !strings.Contains(runs[0].Message, "trigger.files.exists(f, f.endsWith('/b.yaml'))") {
		t.Fatalf("run of a push without b: %+v", runs[0])
	}
	if _, err := b.sys.Get(ctx, "Namespace", "default", "a"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a skipped push applied a: %v", err)
	}
	eventually(t, "a skipped systemsync/apply check", func() bool {
		for _, cr := range b.gh.CheckRuns(owner, repoName) {
			if cr.GetName() == "systemsync/apply" && cr.GetHeadSHA() == second && cr.GetStatus() == "completed" {
				if cr.GetConclusion() != "skipped" || !strings.Contains(cr.GetOutput().GetSummary(), "is false") {
					t.Fatalf("check run %s: %s", cr.GetConclusion(), cr.GetOutput().GetSummary())
				}
				return true
			}
		}
		return false
	})
	b.work.Write(map[string]string{p("b"): ns("b", "dev")})
	third := b.work.Commit("b")
	b.work.Push("main")
	jobDone(t, b, b.push(t, second, third, "main"))
	runs = b.waitRuns(t, 2)
	if runs[0].Status != pipeline.StatusSuccess || runs[0].Commit != third {
		t.Fatalf("run of a push with b: %+v", runs[0])
	}
	if _, err := b.sys.Get(ctx, "Namespace", "default", "b"); err != nil {
		t.Fatalf("b not applied: %v", err)
	}
}
