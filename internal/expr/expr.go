// Package expr compiles and evaluates the expressions of pipelines: a
// stage's pre-conditions and the values of variables, in CEL
// (cel.dev/cel-go), with the names Rafay's pipelines give them:
//
//	organization.name            string
//	project.name                 string
//	pipeline.name                string
//	pipeline.instanceID          int: the id of the stage's run
//	trigger.name, trigger.type   string
//	trigger.when                 timestamp
//	trigger.payload              map: the event payload
//	trigger.files                list of string: the paths the triggering change touched
//	stages.<name>.status         string: Success, Failed, Partial, Skipped, Pending, Not Run
//	currentStage.name            string
//	variables.<name>             the value of a variable, of its type
//
// An expression is compiled once (Condition, Value) and evaluated per run
// (Eval). It imports nothing of this module's, so the validator (spec)
// and the runner (pipeline) compile through the same environment.
package expr

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// Organization, Project, Pipeline, Trigger and Stage are what
// expressions read, under the names of Input's fields.
type Organization struct {
	Name string `cel:"name"`
}

// Project is the project of the pipeline.
type Project struct {
	Name string `cel:"name"`
}

// Pipeline is the pipeline and its run.
type Pipeline struct {
	Name       string `cel:"name"`
	InstanceID int64  `cel:"instanceID"`
}

// Trigger is what started the run.
type Trigger struct {
	Name    string         `cel:"name"`
	Type    string         `cel:"type"`
	When    time.Time      `cel:"when"`
	Payload map[string]any `cel:"payload"`
	Files   []string       `cel:"files"`
}

// Stage is one stage of the pipeline, as the run found it so far.
type Stage struct {
	Name   string `cel:"name"`
	Status string `cel:"status"`
}

// Input is what an evaluation reads. Variables holds the values
// evaluated so far (Eval's results), by name.
type Input struct {
	Organization Organization
	Project      Project
	Pipeline     Pipeline
	Trigger      Trigger
	Stages       map[string]Stage
	CurrentStage Stage
	Variables    map[string]ref.Val
}

// activation is in as CEL reads it.
func (in *Input) activation() map[string]any {
	payload := in.Trigger.Payload
	if payload == nil {
		payload = map[string]any{}
	}
	tr := in.Trigger
	tr.Payload = payload
	if tr.Files == nil {
		tr.Files = []string{}
	}
	stages := in.Stages
	if stages == nil {
		stages = map[string]Stage{}
	}
	vars := make(map[string]any, len(in.Variables))
	for k, v := range in.Variables {
		vars[k] = v
	}
	return map[string]any{
		"organization": in.Organization, "project": in.Project, "pipeline": in.Pipeline,
		"trigger": tr, "stages": stages, "currentStage": in.CurrentStage, "variables": vars,
	}
}

// roots are the names an expression may start from.
var roots = map[string]bool{"organization": true, "project": true, "pipeline": true, "trigger": true,
	"stages": true, "currentStage": true, "variables": true}

// MaxExpressionBytes bounds the text of one expression.
const MaxExpressionBytes = 16 << 10

// costLimit bounds the work of one evaluation (CEL's cost units: about
// one a value visited), so that an expression over a large payload fails
// rather than holds a run.
const costLimit = 1_000_000

// environment is the CEL environment every expression compiles in: it is
// built once and never changes.
var environment = sync.OnceValues(func() (*cel.Env, error) {
	obj := func(v any) *cel.Type { return cel.ObjectType("expr." + reflect.TypeOf(v).Name()) }
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[Organization](), reflect.TypeFor[Project](), reflect.TypeFor[Pipeline](),
			reflect.TypeFor[Trigger](), reflect.TypeFor[Stage](), ext.ParseStructTags(true)),
		ext.Strings(),
		cel.Variable("organization", obj(Organization{})),
		cel.Variable("project", obj(Project{})),
		cel.Variable("pipeline", obj(Pipeline{})),
		cel.Variable("trigger", obj(Trigger{})),
		cel.Variable("stages", cel.MapType(cel.StringType, obj(Stage{}))),
		cel.Variable("currentStage", obj(Stage{})),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
		cel.ParserExpressionSizeLimit(MaxExpressionBytes),
	)
})

// Program is a compiled expression, or a variable's literal value.
type Program struct {
	src string
	prg cel.Program
	lit ref.Val // a literal value: no program
	typ string  // the variable type it must give ("" for a condition: bool)
}

// Source is the expression as written.
func (p *Program) Source() string { return p.src }

// Condition compiles a pre-condition: an error when it does not compile
// or cannot give a boolean (its type is another; a value of type dyn,
// such as trigger.payload.flag, is checked when it runs).
func Condition(src string) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty: an expression such as trigger.name == 'my-trigger'")
	}
	ast, err := compile(src)
	if err != nil {
		return nil, err
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !isDyn(t) {
		return nil, fmt.Errorf("gives %s, not a boolean (compare it: == 'value')", typeName(t))
	}
	return program(src, ast, "")
}

func isDyn(t *cel.Type) bool { return t.Kind() == types.DynKind || t.Kind() == types.AnyKind }

func typeName(t *cel.Type) string { return cel.FormatCELType(t) }

// compile parses and checks src, its problems in one line each.
func compile(src string) (*cel.Ast, error) {
	env, err := environment()
	if err != nil {
		return nil, fmt.Errorf("expression environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, issuesError(iss)
	}
	return ast, nil
}

// issuesError writes CEL's issues as one line: each message with the
// column it is at (and the line, for an expression of several).
func issuesError(iss *cel.Issues) error {
	var msgs []string
	for _, e := range iss.Errors() {
		loc := ""
		if l := e.Location; l != nil && l.Line() > 0 {
			loc = fmt.Sprintf(" (column %d)", l.Column()+1)
			if l.Line() > 1 {
				loc = fmt.Sprintf(" (line %d, column %d)", l.Line(), l.Column()+1)
			}
		}
		msgs = append(msgs, e.Message+loc)
	}
	if len(msgs) == 0 {
		return errors.New(iss.String())
	}
	return errors.New(strings.Join(msgs, "; "))
}

func program(src string, ast *cel.Ast, typ string) (*Program, error) {
	env, _ := environment()
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", src, err)
	}
	return &Program{src: src, prg: prg, typ: typ}, nil
}

// Eval evaluates the program with in: a condition's boolean, or a
// variable's value, checked against its type.
func (p *Program) Eval(in *Input) (ref.Val, error) {
	if p.lit != nil {
		return p.lit, nil
	}
	out, _, err := p.prg.Eval(in.activation())
	if err != nil {
		return nil, err
	}
	if p.typ == "" {
		if out.Type() != types.BoolType {
			return nil, fmt.Errorf("gave %s, not a boolean", out.Type().TypeName())
		}
		return out, nil
	}
	if !fits(p.typ, out) {
		return nil, fmt.Errorf("gave %s, not a %s", out.Type().TypeName(), p.typ)
	}
	return out, nil
}

// True evaluates a condition.
func (p *Program) True(in *Input) (bool, error) {
	v, err := p.Eval(in)
	if err != nil {
		return false, err
	}
	b, _ := v.Value().(bool)
	return b, nil
}
