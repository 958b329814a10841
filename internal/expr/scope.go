package expr

import (
	"fmt"

	"cel.dev/cel-go/common/types/ref"
)

// Variable scopes, broadest first: a run evaluates them in this order, and
// a narrower scope's variable wins over a broader one's of the same name.
const (
	ScopeOrganization = "organization"
	ScopeProject      = "project"
	ScopePipeline     = "pipeline"
	ScopeTrigger      = "trigger"
	ScopeStage        = "stage"
)

// Compiled is a variable of a scope, compiled.
type Compiled struct {
	Variable
	Scope   string
	Field   string // where it is written (spec.stages[0].variables[1]; variables.projects.demo[0] for the server config)
	Program *Program
}

// Used is a variable's value as a run used it. A Secret's value is left
// out: only its name shows.
type Used struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Scope string `json:"scope"`
	Value any    `json:"value,omitempty"`
}

// EvalVariables evaluates vars in order into in.Variables (each sees the
// values before it; a later one of a name replaces the earlier one) and
// returns the values used, one a name, in the order of their first
// appearance. A variable that fails is an error naming its scope and name.
func EvalVariables(in *Input, vars []Compiled) ([]Used, error) {
	if in.Variables == nil {
		in.Variables = make(map[string]ref.Val, len(vars))
	}
	var used []Used
	at := map[string]int{}
	for _, v := range vars {
		val, err := v.Program.Eval(in)
		if err != nil {
			return used, fmt.Errorf("variable %s (%s scope, %s): %w", v.Name, v.Scope, v.Field, err)
		}
		in.Variables[v.Name] = val
		u := Used{Name: v.Name, Type: v.Type, Scope: v.Scope}
		if v.Type != TypeSecret {
			u.Value = Native(val)
		}
		if i, ok := at[v.Name]; ok {
			used[i] = u
			continue
		}
		at[v.Name] = len(used)
		used = append(used, u)
	}
	return used, nil
}

// NativeVariables are in.Variables as Native values, for templates.
func NativeVariables(in *Input) map[string]any {
	out := make(map[string]any, len(in.Variables))
	for k, v := range in.Variables {
		out[k] = Native(v)
	}
	return out
}
