package spec

import (
	"strings"
	"testing"
)

const exprPipeline = `apiVersion: gitops.k8smgmt.io/v3
kind: Pipeline
metadata:
  name: gated
  project: demo
spec:
  variables:
  - name: branch
    type: String
    value: '"main"'
  stages:
  - config:
      gitToSystemSync: true
      sourceRepo:
        path:
          name: infra
        repository: repo
        revision: '{{ .variables.branch }}'
    name: sync
    preConditions:
    - config:
        expression: trigger.name == 'test-trigger'
      type: Expression
    type: SystemSync
    variables:
    - name: replicas
      type: Number
      value: "3"
  triggers:
  - name: test-trigger
    type: Webhook
    variables:
    - name: when
      type: Time
      value: trigger.when
`

// A stage's pre-conditions and the variables of every scope are compiled
// when the pipeline is validated: what does not compile, or has the wrong
// type, is an error on its own line.
func TestValidatePipelineExpressions(t *testing.T) {
	if p := Validate(parseOne(t, exprPipeline), Context{}); len(p) != 0 {
		t.Fatalf("valid pipeline: %v", p)
	}
	cases := []struct {
		from, to string
		line     int
		field    string
		msg      string
	}{
		{"trigger.name == 'test-trigger'", "trigger.name ==", 22, "spec.stages[0].preConditions[0].config.expression", "Syntax error"},
		{"trigger.name == 'test-trigger'", "trigger.nmae == 'x'", 22, "spec.stages[0].preConditions[0].config.expression", "undefined field 'nmae'"},
		{"trigger.name == 'test-trigger'", "trigger.name", 22, "spec.stages[0].preConditions[0].config.expression", "gives string, not a boolean"},
		{"trigger.name == 'test-trigger'", "1 + '1'", 22, "spec.stages[0].preConditions[0].config.expression", "no matching overload"},
		{`value: '"main"'`, "value: '1 + 1'", 10, "spec.variables[0].value", "variable branch: \"1 + 1\" gives int, not a String"},
		{`value: "3"`, `value: '"three"'`, 28, "spec.stages[0].variables[0].value", "gives string, not a Number"},
		{"type: Number", "type: Integer", 27, "spec.stages[0].variables[0].type", `type "Integer"`},
		{"value: trigger.when", "value: trigger.name", 35, "spec.triggers[0].variables[0].value", "gives string, not a Time"},
		{"'{{ .variables.branch }}'", "'{{ .variables.branch '", 18, "spec.stages[0].config.sourceRepo.revision", "unclosed action"},
	}
	for _, c := range cases {
		if !strings.Contains(exprPipeline, c.from) {
			t.Fatalf("bad case %q", c.from)
		}
		r := parseOne(t, strings.Replace(exprPipeline, c.from, c.to, 1))
		t.Run(c.field+" "+c.to, func(t *testing.T) { wantOne(t, Validate(r, Context{}), c.line, c.field, c.msg) })
	}

	// Another pre-condition type is kept and not evaluated: a warning.
	r := parseOne(t, strings.Replace(exprPipeline, "type: Expression", "type: Approval", 1))
	wantWarning(t, Validate(r, Context{}), 23, "spec.stages[0].preConditions[0].type", "not evaluated by this bot")
}

func TestPreConditionsAndVariablesAreRead(t *testing.T) {
	r := parseOne(t, exprPipeline)
	st := r.Object["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)
	pcs := PreConditions(st, "spec.stages[0]")
	if len(pcs) != 1 || pcs[0].Expression != "trigger.name == 'test-trigger'" || pcs[0].Field != "spec.stages[0].preConditions[0].config.expression" {
		t.Errorf("PreConditions = %+v", pcs)
	}
	vs := Variables(st["variables"], "spec.stages[0].variables")
	if len(vs) != 1 || vs[0].Name != "replicas" || vs[0].Type != "Number" || vs[0].Value != "3" || vs[0].Field != "spec.stages[0].variables[0]" {
		t.Errorf("Variables = %+v", vs)
	}
}
