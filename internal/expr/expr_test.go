package expr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/expr"
)

func input() *expr.Input {
	return &expr.Input{
		Organization: expr.Organization{Name: "acme"},
		Project:      expr.Project{Name: "demo"},
		Pipeline:     expr.Pipeline{Name: "sync", InstanceID: 42},
		Trigger: expr.Trigger{Name: "test-trigger", Type: "Webhook", When: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
			Payload: map[string]any{"ref": "refs/heads/main", "pusher": map[string]any{"name": "ada"}},
			Files:   []string{"clusters/a.yaml", "README.md"}},
		Stages:       map[string]expr.Stage{"first": {Name: "first", Status: "Success"}},
		CurrentStage: expr.Stage{Name: "second", Status: "In Progress"},
	}
}

func TestConditions(t *testing.T) {
	for _, c := range []struct {
		src  string
		want bool
	}{
		{"trigger.name == 'test-trigger'", true}, // Rafay's own example
		{"trigger.name == 'never-matches'", false},
		{"trigger.type == 'Webhook' && project.name == 'demo' && organization.name == 'acme'", true},
		{"pipeline.name == 'sync' && pipeline.instanceID == 42", true},
		{"trigger.payload.ref == 'refs/heads/main'", true},
		{"trigger.payload.pusher.name == 'ada'", true},
		{"trigger.files.exists(f, f.startsWith('clusters/'))", true},
		{"'docs/x.md' in trigger.files", false},
		{"trigger.when > timestamp('2024-01-01T00:00:00Z')", true},
		{"stages.first.status == 'Success'", true},
		{"stages['first'].status == 'Failed'", false},
		{"currentStage.name == 'second'", true},
	} {
		p, err := expr.Condition(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		got, err := p.True(input())
		if err != nil || got != c.want {
			t.Errorf("%s = %v, %v; want %v", c.src, got, err, c.want)
		}
	}
}

func TestBadConditions(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"trigger.name ==", "Syntax error"},
		{"trigger.nmae == 'x'", "undefined field 'nmae'"},
		{"nothing == 1", "undeclared reference to 'nothing'"},
		{"trigger.name", "gives string, not a boolean"},
		{"1 + 2", "gives int, not a boolean"},
		{"", "empty"},
		{strings.Repeat("a", expr.MaxExpressionBytes+1), "size"},
	} {
		_, err := expr.Condition(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40s: got %v, want …%s…", c.src, err, c.want)
		}
	}
	// A dynamic value is checked when it runs.
	p, err := expr.Condition("trigger.payload.ref")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.True(input()); err == nil || !strings.Contains(err.Error(), "not a boolean") {
		t.Errorf("a string payload field as a condition: %v", err)
	}
	p, _ = expr.Condition("trigger.payload.missing == 'x'")
	if _, err := p.True(input()); err == nil || !strings.Contains(err.Error(), "no such key") {
		t.Errorf("a missing payload key: %v", err)
	}
}

func TestVariables(t *testing.T) {
	in := input()
	vars := []expr.Variable{
		{Name: "s", Type: expr.TypeString, Value: `"abc"`},
		{Name: "who", Type: expr.TypeString, Value: "trigger.name"},
		{Name: "plain", Type: expr.TypeString, Value: "some-value"}, // Rafay's export: text, not an expression
		{Name: "word", Type: expr.TypeString, Value: "prod"},
		{Name: "n", Type: expr.TypeNumber, Value: int64(3)},
		{Name: "half", Type: expr.TypeNumber, Value: "1.0 / 2.0"},
		{Name: "on", Type: expr.TypeBoolean, Value: "trigger.type == 'Webhook'"},
		{Name: "m", Type: expr.TypeMap, Value: map[string]any{"a": int64(1)}},
		{Name: "l", Type: expr.TypeList, Value: "trigger.files"},
		{Name: "t", Type: expr.TypeTime, Value: "2024-05-01T10:00:00Z"},
		{Name: "d", Type: expr.TypeDuration, Value: "90s"},
		{Name: "d2", Type: expr.TypeDuration, Value: "duration('1h')"},
		{Name: "k", Type: expr.TypeSecret, Value: `"hunter2"`},
		{Name: "s2", Type: expr.TypeString, Value: "variables.s + '-' + variables.who"},
	}
	var cs []expr.Compiled
	for _, v := range vars {
		p, err := expr.Value(v)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		cs = append(cs, expr.Compiled{Variable: v, Scope: expr.ScopePipeline, Field: "spec.variables", Program: p})
	}
	used, err := expr.EvalVariables(in, cs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, u := range used {
		got[u.Name] = u.Value
	}
	want := map[string]any{"s": "abc", "who": "test-trigger", "plain": "some-value", "word": "prod", "n": int64(3), "half": 0.5,
		"on": true, "t": "2024-05-01T10:00:00Z", "d": "1m30s", "d2": "1h0m0s", "k": nil, "s2": "abc-test-trigger"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if l, _ := got["l"].([]any); len(l) != 2 || l[0] != "clusters/a.yaml" {
		t.Errorf("l = %#v", got["l"])
	}
	if m, _ := got["m"].(map[string]any); m["a"] != int64(1) {
		t.Errorf("m = %#v", got["m"])
	}
	// Pre-conditions see them.
	p, _ := expr.Condition("variables.on && variables.n > 2 && variables.s == 'abc'")
	if ok, err := p.True(in); !ok || err != nil {
		t.Errorf("a condition over variables: %v, %v", ok, err)
	}
}

func TestNarrowerScopeWins(t *testing.T) {
	in := input()
	compiled := func(scope, value string) expr.Compiled {
		v := expr.Variable{Name: "branch", Type: expr.TypeString, Value: value}
		p, err := expr.Value(v)
		if err != nil {
			t.Fatal(err)
		}
		return expr.Compiled{Variable: v, Scope: scope, Program: p}
	}
	used, err := expr.EvalVariables(in, []expr.Compiled{compiled(expr.ScopePipeline, `"main"`), compiled(expr.ScopeStage, `"dev"`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) != 1 || used[0].Value != "dev" || used[0].Scope != expr.ScopeStage {
		t.Errorf("used = %+v, want branch=dev from the stage scope", used)
	}
	if s, err := expr.Render("{{ .variables.branch }}", expr.NativeVariables(in)); s != "dev" || err != nil {
		t.Errorf("template: %q, %v", s, err)
	}
	if _, err := expr.Render("{{ .variables.nope }}", expr.NativeVariables(in)); err == nil {
		t.Error("an unknown variable in a template rendered")
	}
}

func TestBadVariables(t *testing.T) {
	for _, c := range []struct {
		v    expr.Variable
		want string
	}{
		{expr.Variable{Name: "x", Type: "Text", Value: "a"}, `type "Text"`},
		{expr.Variable{Name: "x", Type: expr.TypeNumber, Value: `"abc"`}, "gives string, not a Number"},
		{expr.Variable{Name: "x", Type: expr.TypeNumber, Value: "abc"}, "undeclared reference"},
		{expr.Variable{Name: "x", Type: expr.TypeString, Value: "trigger.nmae"}, "undefined field"},
		{expr.Variable{Name: "x", Type: expr.TypeBoolean, Value: int64(1)}, "not a Boolean"},
		{expr.Variable{Name: "x", Type: expr.TypeTime, Value: "yesterday"}, "undeclared reference"},
		{expr.Variable{Name: "x", Type: expr.TypeList, Value: "{'a': 1}"}, "not a List"},
	} {
		_, err := expr.Value(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want …%s…", c.v, err, c.want)
		}
	}
	// A value whose type shows only when it runs fails then, naming its scope and name.
	v := expr.Variable{Name: "flag", Type: expr.TypeBoolean, Value: "trigger.payload.ref"}
	p, err := expr.Value(v)
	if err != nil {
		t.Fatal(err)
	}
	_, err = expr.EvalVariables(input(), []expr.Compiled{{Variable: v, Scope: expr.ScopeTrigger, Field: "spec.triggers[0].variables[0]", Program: p}})
	if err == nil || !strings.Contains(err.Error(), "variable flag (trigger scope") || !strings.Contains(err.Error(), "not a Boolean") {
		t.Errorf("got %v", err)
	}
}
