package pipeline

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/systemsync/systemsync/internal/expr"
	"github.com/systemsync/systemsync/internal/spec"
)

// Expressions is what a pipeline's expressions read besides the pipeline:
// the organization's name and the variables of the organization and of
// each project (the server configuration), compiled once; and the
// compiled expressions of each pipeline, kept per pipeline revision
// (key and resourceVersion), so that a run evaluates and never compiles.
// Safe for concurrent use. A nil *Expressions is an organization named
// "default" with no variables, compiling each pipeline as it is read.
type Expressions struct {
	org      string
	orgVars  []expr.Compiled
	projVars map[string][]expr.Compiled

	mu    sync.Mutex
	cache map[spec.Key]*pipelineExprs // the revision last read of each pipeline
}

// NewExpressions compiles the organization's and the projects' variables
// (config's variables.organization and variables.projects.<name>).
func NewExpressions(organization string, orgVars []expr.Variable, projectVars map[string][]expr.Variable) (*Expressions, error) {
	if organization == "" {
		organization = "default"
	}
	x := &Expressions{org: organization, projVars: map[string][]expr.Compiled{}, cache: map[spec.Key]*pipelineExprs{}}
	var errs []error
	compile := func(scope, field string, v expr.Variable) (expr.Compiled, bool) {
		p, err := expr.Value(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", field, v.Name, err))
			return expr.Compiled{}, false
		}
		return expr.Compiled{Variable: v, Scope: scope, Field: field, Program: p}, true
	}
	for i, v := range orgVars {
		if c, ok := compile(expr.ScopeOrganization, fmt.Sprintf("variables.organization[%d]", i), v); ok {
			x.orgVars = append(x.orgVars, c)
		}
	}
	for p, vars := range projectVars {
		for i, v := range vars {
			if c, ok := compile(expr.ScopeProject, fmt.Sprintf("variables.projects.%s[%d]", p, i), v); ok {
				x.projVars[p] = append(x.projVars[p], c)
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("pipeline variables: %w", errors.Join(errs...))
	}
	return x, nil
}

func (x *Expressions) organization() string {
	if x == nil {
		return "default"
	}
	return x.org
}

// scopeVars are the organization's and the project's variables, in that order.
func (x *Expressions) scopeVars(project string) []expr.Compiled {
	if x == nil {
		return nil
	}
	out := make([]expr.Compiled, 0, len(x.orgVars)+len(x.projVars[project]))
	return append(append(out, x.orgVars...), x.projVars[project]...)
}

// pipelineExprs are the compiled expressions of one pipeline revision.
type pipelineExprs struct {
	revision string
	org      string
	scope    []expr.Compiled         // the organization's and the project's variables
	pipeline []expr.Compiled         // spec.variables
	triggers map[int][]expr.Compiled // spec.triggers[i].variables
	stages   map[int]*stageExprs     // by the stage's index in spec.stages
	graph    []StageNode             // every stage of the pipeline, in spec.stages order
}

// stageExprs are one stage's variables and pre-conditions.
type stageExprs struct {
	vars  []expr.Compiled
	conds []condition
	err   error // what did not compile (the validator refuses it on save; an older pipeline may hold it)
}

// condition is a compiled pre-condition.
type condition struct {
	spec.PreCondition
	prg *expr.Program
}

// StageNode is one stage of a pipeline as the order of its stages sees
// it: its name and type, and the stages its next names.
type StageNode struct {
	Name string
	Type string
	Next []string
}

// compiled returns the compiled expressions of the pipeline object obj,
// from the cache when its revision was compiled before.
func (x *Expressions) compiled(obj map[string]any) *pipelineExprs {
	r := &spec.Resource{Object: obj}
	rev := ""
	if meta, _ := obj["metadata"].(map[string]any); meta != nil && meta["resourceVersion"] != nil {
		rev = fmt.Sprint(meta["resourceVersion"])
	}
	if x != nil && rev != "" {
		x.mu.Lock()
		c := x.cache[r.Key()]
		x.mu.Unlock()
		if c != nil && c.revision == rev {
			return c
		}
	}
	c := compilePipeline(obj)
	c.revision, c.org, c.scope = rev, x.organization(), x.scopeVars(r.Project())
	if x != nil && rev != "" {
		x.mu.Lock()
		x.cache[r.Key()] = c
		x.mu.Unlock()
	}
	return c
}

// compilePipeline compiles what spec.Validate checks: the variables of
// the pipeline, its triggers and stages, and the stages' pre-conditions.
func compilePipeline(obj map[string]any) *pipelineExprs {
	spc, _ := obj["spec"].(map[string]any)
	c := &pipelineExprs{triggers: map[int][]expr.Compiled{}, stages: map[int]*stageExprs{}}
	var errs []error
	vars := func(v any, at, scope string) []expr.Compiled {
		var out []expr.Compiled
		for _, va := range spec.Variables(v, at) {
			p, err := expr.Value(va.Variable)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): %w", va.Field, va.Name, err))
				continue
			}
			out = append(out, expr.Compiled{Variable: va.Variable, Scope: scope, Field: va.Field, Program: p})
		}
		return out
	}
	c.pipeline = vars(spc["variables"], "spec.variables", expr.ScopePipeline)
	pipelineErrs := errs
	for i, t := range list(spc["triggers"]) {
		tm, _ := t.(map[string]any)
		errs = nil
		c.triggers[i] = vars(tm["variables"], fmt.Sprintf("spec.triggers[%d].variables", i), expr.ScopeTrigger)
		pipelineErrs = append(pipelineErrs, errs...)
	}
	for i, st := range list(spc["stages"]) {
		sm, _ := st.(map[string]any)
		name, _ := sm["name"].(string)
		typ, _ := sm["type"].(string)
		node := StageNode{Name: name, Type: typ}
		for _, n := range list(sm["next"]) {
			if nn, _ := n.(map[string]any)["name"].(string); nn != "" {
				node.Next = append(node.Next, nn)
			}
		}
		c.graph = append(c.graph, node)
		errs = nil
		at := fmt.Sprintf("spec.stages[%d]", i)
		se := &stageExprs{vars: vars(sm["variables"], at+".variables", expr.ScopeStage)}
		for _, pc := range spec.PreConditions(sm, at) {
			p, err := expr.Condition(pc.Expression)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pc.Field, err))
				continue
			}
			se.conds = append(se.conds, condition{PreCondition: pc, prg: p})
		}
		if all := append(append([]error(nil), pipelineErrs...), errs...); len(all) > 0 {
			se.err = fmt.Errorf("expressions that do not compile: %w", errors.Join(all...))
		}
		c.stages[i] = se
	}
	return c
}

// gated reports whether a run of stage i has anything to evaluate or to
// show: pre-conditions, variables of any scope, or other stages.
func (c *pipelineExprs) gated(i int) bool {
	if c == nil {
		return false
	}
	se := c.stages[i]
	if se == nil {
		return false
	}
	if len(se.conds) > 0 || len(se.vars) > 0 || len(c.pipeline) > 0 || len(c.scope) > 0 || se.err != nil || len(c.graph) > 1 {
		return true
	}
	for _, tv := range c.triggers {
		if len(tv) > 0 {
			return true
		}
	}
	return false
}

// variables are the variables a run of stage i evaluates, broadest first:
// organization, project, pipeline, the trigger's (trigger is its index
// in spec.triggers, -1 for none) and the stage's.
func (c *pipelineExprs) variables(i, trigger int) []expr.Compiled {
	var out []expr.Compiled
	out = append(out, c.scope...)
	out = append(out, c.pipeline...)
	if trigger >= 0 {
		out = append(out, c.triggers[trigger]...)
	}
	if se := c.stages[i]; se != nil {
		out = append(out, se.vars...)
	}
	return out
}

// renderFields writes the stage's fields that use variables
// ({{ .variables.NAME }}: sourceRepo.revision and path.name, and, when
// the stage has a destination of its own, destinationRepo's repository,
// revision and path.name) with the variables known when pipelines are
// read: the organization's, the project's, the pipeline's and the
// stage's (a trigger's are known only when it fires, so these fields
// cannot use them).
func (c *pipelineExprs) renderFields(s *Stage, separateDest bool) error {
	type field struct {
		name string
		at   *string
	}
	fields := []field{{"sourceRepo.revision", &s.Source.Revision}, {"sourceRepo.path.name", &s.Source.Path}}
	if separateDest {
		fields = append(fields, field{"destinationRepo.repository", &s.Dest.Repository},
			field{"destinationRepo.revision", &s.Dest.Revision}, field{"destinationRepo.path.name", &s.Dest.Path})
	}
	templated := false
	for _, f := range fields {
		templated = templated || expr.IsTemplate(*f.at)
	}
	if !templated {
		return nil
	}
	if se := c.stages[s.Index]; se != nil && se.err != nil {
		return se.err
	}
	in := &expr.Input{Organization: expr.Organization{Name: c.org}, Project: expr.Project{Name: s.Pipeline.Project},
		Pipeline: expr.Pipeline{Name: s.Pipeline.Name}, CurrentStage: expr.Stage{Name: s.Name}}
	if _, err := expr.EvalVariables(in, c.variables(s.Index, -1)); err != nil {
		return err
	}
	vars := expr.NativeVariables(in)
	for _, f := range fields {
		out, err := expr.Render(*f.at, vars)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		*f.at = out
	}
	s.Source.Path, s.Dest.Path = cleanFolder(s.Source.Path), cleanFolder(s.Dest.Path)
	return nil
}

// cleanFolder is a folder as repoRef reads it: no leading or trailing "/".
func cleanFolder(p string) string { return strings.Trim(path.Clean("/"+p), "/") }
