package expr

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Variable types, as Rafay names them. Secret is a String whose value is
// never shown.
const (
	TypeString   = "String"
	TypeNumber   = "Number"
	TypeBoolean  = "Boolean"
	TypeMap      = "Map"
	TypeList     = "List"
	TypeTime     = "Time"
	TypeDuration = "Duration"
	TypeSecret   = "Secret"
)

// Types are the variable types, in the order the console offers them.
var Types = []string{TypeString, TypeNumber, TypeBoolean, TypeMap, TypeList, TypeTime, TypeDuration, TypeSecret}

// Variable is one {name, type, value} of a scope. Value is a CEL
// expression ("\"abc\"" is the string abc, "trigger.name" the trigger's
// name), or a value YAML gives (3, true, a mapping, a list).
type Variable struct {
	Name  string `yaml:"name" json:"name"`
	Type  string `yaml:"type" json:"type"`
	Value any    `yaml:"value" json:"value,omitempty"`
}

// Value compiles a variable's value for its type. A value that is not
// text (3, true, a mapping or a list, as YAML gives them) is that value.
// Text is an expression, checked against the type: String and Secret
// text that is no expression (Rafay's exports hold `value: some-value`)
// is that text, unless it names one of the roots expressions read
// (trigger.nmae is an error, not the text "trigger.nmae"); Time and
// Duration text that is no expression may be an RFC 3339 time
// (2024-05-01T10:00:00Z) or a duration (90s, 1h30m).
func Value(v Variable) (*Program, error) {
	if !slices.Contains(Types, v.Type) {
		return nil, fmt.Errorf("type %q: want one of %s", v.Type, strings.Join(Types, ", "))
	}
	src, isText := v.Value.(string)
	if !isText {
		if v.Value == nil {
			return literal(v, types.String(""))
		}
		return literal(v, types.DefaultTypeAdapter.NativeToValue(v.Value))
	}
	if strings.TrimSpace(src) == "" {
		return literal(v, types.String(src))
	}
	ast, err := compile(src)
	if err != nil {
		if lit, ok := textValue(v.Type, src); ok && !namesRoot(src) {
			return literal(v, lit)
		}
		return nil, err
	}
	if t := ast.OutputType(); !isDyn(t) && !typeFits(v.Type, t) {
		return nil, fmt.Errorf("%s gives %s, not a %s", quoteShort(src), typeName(t), v.Type)
	}
	return program(src, ast, v.Type)
}

// literal is a value given as it is, checked against the variable's type.
func literal(v Variable, val ref.Val) (*Program, error) {
	if types.IsError(val) || !fits(v.Type, val) {
		return nil, fmt.Errorf("%s is %s, not a %s", describe(v.Value), val.Type().TypeName(), v.Type)
	}
	return &Program{src: fmt.Sprint(v.Value), lit: val, typ: v.Type}, nil
}

// textValue reads text that is no expression as a value of type typ.
func textValue(typ, src string) (ref.Val, bool) {
	switch typ {
	case TypeString, TypeSecret:
		return types.String(src), true
	case TypeTime:
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(src)); err == nil {
			return types.Timestamp{Time: t}, true
		}
	case TypeDuration:
		if d, err := time.ParseDuration(strings.TrimSpace(src)); err == nil {
			return types.Duration{Duration: d}, true
		}
	}
	return nil, false
}

// namesRoot reports whether src parses and reads one of the roots
// (trigger, variables, …): then it was meant as an expression.
func namesRoot(src string) bool {
	env, err := environment()
	if err != nil {
		return false
	}
	ast, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return false
	}
	found := false
	celast.PreOrderVisit(celast.NavigateAST(ast.NativeRep()), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind && roots[e.AsIdent()] {
			found = true
		}
	}))
	return found
}

// typeFits reports whether a checked type t is one of typ.
func typeFits(typ string, t *cel.Type) bool {
	switch typ {
	case TypeString, TypeSecret:
		return t.IsExactType(cel.StringType)
	case TypeNumber:
		return t.IsExactType(cel.IntType) || t.IsExactType(cel.UintType) || t.IsExactType(cel.DoubleType)
	case TypeBoolean:
		return t.IsExactType(cel.BoolType)
	case TypeMap:
		return t.Kind() == types.MapKind
	case TypeList:
		return t.Kind() == types.ListKind
	case TypeTime:
		return t.IsExactType(cel.TimestampType)
	case TypeDuration:
		return t.IsExactType(cel.DurationType)
	}
	return false
}

// fits reports whether a value is one of typ.
func fits(typ string, v ref.Val) bool {
	switch typ {
	case TypeString, TypeSecret:
		return v.Type() == types.StringType
	case TypeNumber:
		return v.Type() == types.IntType || v.Type() == types.UintType || v.Type() == types.DoubleType
	case TypeBoolean:
		return v.Type() == types.BoolType
	case TypeMap:
		return v.Type() == types.MapType
	case TypeList:
		return v.Type() == types.ListType
	case TypeTime:
		return v.Type() == types.TimestampType
	case TypeDuration:
		return v.Type() == types.DurationType
	}
	return false
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return quoteShort(fmt.Sprint(v))
}

func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// Native is v as Go holds it, for JSON and templates: string, int64,
// uint64, float64, bool, nil, a time as RFC 3339 text, a duration as Go
// writes it (1h30m0s), []any and map[string]any (keys written as text).
func Native(v ref.Val) any {
	switch x := v.(type) {
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano)
	case types.Duration:
		return x.Duration.String()
	case types.Null:
		return nil
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			key, ok := k.Value().(string)
			if !ok {
				key = fmt.Sprint(Native(k))
			}
			out[key] = Native(x.Get(k))
		}
		return out
	case traits.Lister:
		var out []any
		for it := x.Iterator(); it.HasNext() == types.True; {
			out = append(out, Native(it.Next()))
		}
		if out == nil {
			out = []any{}
		}
		return out
	}
	return v.Value()
}
