package spec

import (
	"slices"
	"strings"

	"github.com/systemsync/systemsync/internal/expr"
)

// A pipeline's expressions: its stages' pre-conditions and the variables
// of the pipeline, its triggers and its stages, read here for the
// validator and for runs alike.

// PreConditionExpression is the type of a pre-condition evaluated as a
// CEL expression (internal/expr); it is the type of one that names none.
const PreConditionExpression = "Expression"

// PreCondition is one of a stage's preConditions of type Expression.
type PreCondition struct {
	Field      string // spec.stages[i].preConditions[j].config.expression
	Expression string
}

// PreConditions reads the Expression pre-conditions of a stage, the
// mapping found at field at (spec.stages[i]). Others (another type, no
// expression) are left out: the validator warns of them.
func PreConditions(stage map[string]any, at string) []PreCondition {
	var out []PreCondition
	for j, it := range listAt(stage, "preConditions") {
		pc, _ := it.(map[string]any)
		if typ, _ := pc["type"].(string); typ != "" && typ != PreConditionExpression {
			continue
		}
		src, _ := mapAt(pc, "config")["expression"].(string)
		if strings.TrimSpace(src) == "" {
			continue
		}
		out = append(out, PreCondition{Field: joinKey(joinKey(joinIndex(joinKey(at, "preConditions"), j), "config"), "expression"), Expression: src})
	}
	return out
}

// VariableAt is a variable with the field it is written at.
type VariableAt struct {
	expr.Variable
	Field string // spec.stages[i].variables[j]
}

// Variables reads a variables list ({name, type, value}), the value of
// field at (spec.variables, spec.triggers[i].variables,
// spec.stages[i].variables); a variable of no type is a String. Entries
// without a name are left out (the validator says so).
func Variables(v any, at string) []VariableAt {
	var out []VariableAt
	l, _ := v.([]any)
	for j, it := range l {
		m, _ := it.(map[string]any)
		name, _ := m["name"].(string)
		if name == "" {
			continue
		}
		typ, _ := m["type"].(string)
		if typ == "" {
			typ = expr.TypeString
		}
		out = append(out, VariableAt{Variable: expr.Variable{Name: name, Type: typ, Value: m["value"]}, Field: joinIndex(at, j)})
	}
	return out
}

func listAt(m map[string]any, key string) []any {
	l, _ := m[key].([]any)
	return l
}

// checkPreConditions checks a stage's preConditions: an Expression that
// does not compile, or cannot give a boolean, is an error (a pipeline is
// never saved with one that fails only when it runs); another type is a
// warning, since this bot does not evaluate it.
func checkPreConditions(ch *checker, st map[string]any, p string) {
	ch.items(st, p, "preConditions", func(pc map[string]any, pp string) {
		typ, _ := ch.str(pc, pp, "type")
		cfg, _ := ch.mapping(pc, pp, "config")
		if typ != "" && typ != PreConditionExpression {
			ch.warn(joinKey(pp, "type"), "pre-condition type %q is not evaluated by this bot (only %s): the stage runs as if it held", typ, PreConditionExpression)
			return
		}
		field := joinKey(joinKey(pp, "config"), "expression")
		src, ok := ch.str(cfg, joinKey(pp, "config"), "expression")
		if !ok {
			if _, has := cfg["expression"]; !has || cfg["expression"] == nil || cfg["expression"] == "" {
				ch.warn(field, "no expression: this pre-condition is not checked (an expression such as trigger.name == 'my-trigger')")
			}
			return
		}
		if _, err := expr.Condition(src); err != nil {
			ch.add(field, "%s: %v", quoteExpr(src), err)
		}
	})
}

// checkVariables checks a variables list: names (a name given twice is a
// warning), types, and values that compile to their type.
func checkVariables(ch *checker, m map[string]any, parent string) {
	ch.named(m, parent, "variables", func(v map[string]any, p string) {
		name, _ := ch.str(v, p, "name")
		typ, _ := ch.str(v, p, "type")
		if name == "" {
			if _, has := v["value"]; has {
				ch.warn(joinKey(p, "name"), "no name: no expression can read this variable (variables.NAME)")
			}
			return
		}
		if typ == "" {
			typ = expr.TypeString
		}
		if typ == expr.TypeSecret {
			return // a Secret's value is never in the spec: Secrets refuses one
		}
		if _, err := expr.Value(expr.Variable{Name: name, Type: typ, Value: v["value"]}); err != nil {
			field := joinKey(p, "value")
			if !slices.Contains(expr.Types, typ) {
				field = joinKey(p, "type")
			}
			ch.add(field, "variable %s: %v", name, err)
		}
	})
}

// checkTemplates checks the fields of a SystemSync stage's config that
// may use variables ({{ .variables.NAME }}): the template must parse.
func checkTemplates(ch *checker, cfg map[string]any, cp string) {
	check := func(m map[string]any, parent, key string) {
		if s, ok := m[key].(string); ok && expr.IsTemplate(s) {
			if err := expr.CheckTemplate(s); err != nil {
				ch.add(joinKey(parent, key), "%v", err)
			}
		}
	}
	if src := mapAt(cfg, "sourceRepo"); src != nil {
		rp := joinKey(cp, "sourceRepo")
		check(src, rp, "revision")
		check(mapAt(src, "path"), joinKey(rp, "path"), "name")
	}
	if dst := mapAt(cfg, "destinationRepo"); dst != nil {
		rp := joinKey(cp, "destinationRepo")
		check(dst, rp, "repository")
		check(dst, rp, "revision")
		check(mapAt(dst, "path"), joinKey(rp, "path"), "name")
	}
}

func quoteExpr(s string) string {
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return "`" + s + "`"
}
