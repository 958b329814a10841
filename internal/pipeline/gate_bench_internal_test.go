package pipeline

import (
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/expr"
)

// benchPipeline is a pipeline revision with ten expressions: five
// variables (pipeline, trigger and stage scopes) and five pre-conditions.
func benchPipeline() map[string]any {
	v := func(name, typ, value string) any { return map[string]any{"name": name, "type": typ, "value": value} }
	pc := func(e string) any {
		return map[string]any{"type": "Expression", "config": map[string]any{"expression": e}}
	}
	return map[string]any{
		"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline",
		"metadata": map[string]any{"name": "bench", "project": "default", "resourceVersion": "7"},
		"spec": map[string]any{
			"variables": []any{v("branch", "String", `"main"`), v("replicas", "Number", "3")},
			"triggers": []any{map[string]any{"name": "push", "type": "Webhook",
				"variables": []any{v("who", "String", "trigger.name")}}},
			"stages": []any{map[string]any{"name": "sync", "type": "SystemSync",
				"variables": []any{v("branch", "String", `"dev"`), v("deadline", "Time", "trigger.when + duration('1h')")},
				"preConditions": []any{
					pc("trigger.name == 'push'"),
					pc("trigger.payload.ref == 'refs/heads/' + variables.branch"),
					pc("trigger.files.exists(f, f.startsWith('projects/'))"),
					pc("variables.replicas > 1 && variables.deadline > trigger.when"),
					pc("project.name == 'default' && organization.name == 'acme'"),
				}}},
		},
	}
}

// BenchmarkPreConditionsAndVariables is what a run of a stage with ten
// expressions costs before it plans: the revision's compiled expressions
// found in the cache, its five variables and five pre-conditions
// evaluated, and the values used added to the payload.
func BenchmarkPreConditionsAndVariables(b *testing.B) {
	x, err := NewExpressions("acme", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	obj := benchPipeline()
	c := x.compiled(obj)
	if c.stages[0].err != nil {
		b.Fatal(c.stages[0].err)
	}
	payload := []byte(`{"ref":"refs/heads/dev","before":"a","after":"b","pusher":{"name":"ada"}}`)
	files := []string{"projects/default/namespaces/a.yaml", "README.md"}
	b.ReportAllocs()
	for b.Loop() {
		c := x.compiled(obj)
		in := &expr.Input{
			Organization: expr.Organization{Name: c.org}, Project: expr.Project{Name: "default"},
			Pipeline: expr.Pipeline{Name: "bench", InstanceID: 1},
			Trigger:  expr.Trigger{Name: "push", Type: TriggerWebhook, When: time.Now(), Payload: map[string]any{"ref": "refs/heads/dev"}, Files: files},
		}
		skip, fail := evaluate(in, c, 0, 0)
		if skip != "" || fail != nil {
			b.Fatal(skip, fail)
		}
		_ = withRunFacts(payload, runFacts{Stage: "sync", Variables: usedOf(in, c.variables(0, 0))})
	}
}

// BenchmarkCompilePipeline is what the cache saves each run: compiling
// the same revision's ten expressions.
func BenchmarkCompilePipeline(b *testing.B) {
	obj := benchPipeline()
	b.ReportAllocs()
	for b.Loop() {
		if c := compilePipeline(obj); c.stages[0].err != nil {
			b.Fatal(c.stages[0].err)
		}
	}
}
