package spec

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Key identifies a resource in the system: its kind, project and name.
// Project is empty for Project resources.
type Key struct {
	Kind    string
	Project string
	Name    string
}

// String renders the key as Kind/project/name (Kind/name for a Project).
func (k Key) String() string {
	if k.Project == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Project + "/" + k.Name
}

// Severity says what a Problem costs the resource it concerns.
type Severity uint8

const (
	// SeverityError: the resource cannot be applied (it is not YAML, not
	// a spec of a kind that syncs, misnamed, holds a clear-text secret or
	// a value of a type the controller cannot hold). The zero value.
	SeverityError Severity = iota
	// SeverityWarning: doubtful, but the resource can be applied.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText writes the severity as String does.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "warning" as a warning and anything else (an older
// answer without a severity included) as an error.
func (s *Severity) UnmarshalText(b []byte) error {
	*s = SeverityError
	if string(b) == "warning" {
		*s = SeverityWarning
	}
	return nil
}

// Problem is one thing wrong with an input, located as an editor counts:
// File may be empty (an API body), Line counts from 1 (0 when unknown),
// Field is a path such as spec.config.managedNodeGroups[0].instanceType.
// A Problem is an error unless its Severity says warning.
type Problem struct {
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Field    string   `json:"field,omitempty"`
	Message  string   `json:"message"`
	Severity Severity `json:"severity"`
}

// IsWarning reports whether the problem is a warning: the resource can
// still be applied.
func (p Problem) IsWarning() bool { return p.Severity == SeverityWarning }

// String renders the problem as file:line: field: message, with
// "warning: " before the field of a warning, leaving out the parts that
// are unknown.
func (p Problem) String() string {
	s := ""
	if p.File != "" {
		s = p.File
		if p.Line > 0 {
			s += fmt.Sprintf(":%d", p.Line)
		}
		s += ": "
	} else if p.Line > 0 {
		s = fmt.Sprintf("line %d: ", p.Line)
	}
	if p.IsWarning() {
		s += "warning: "
	}
	if p.Field != "" {
		s += p.Field + ": "
	}
	return s + p.Message
}

// ProblemsText is ps on one line, each as its String, "; " between them.
func ProblemsText(ps []Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// HasErrors reports whether any of ps is an error.
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if !p.IsWarning() {
			return true
		}
	}
	return false
}

// Errors returns the errors among ps, in order; ps itself when it holds
// no warning.
func Errors(ps []Problem) []Problem { return bySeverity(ps, SeverityError) }

// Warnings returns the warnings among ps, in order.
func Warnings(ps []Problem) []Problem { return bySeverity(ps, SeverityWarning) }

func bySeverity(ps []Problem, s Severity) []Problem {
	n := 0
	for _, p := range ps {
		if p.Severity == s {
			n++
		}
	}
	if n == len(ps) {
		return ps
	}
	if n == 0 {
		return nil
	}
	out := make([]Problem, 0, n)
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Resource is one parsed spec. Object holds the document as plain Go values
// (map[string]any, []any, string, bool, int64, float64, nil) with `status`
// removed; doc, when the resource came from YAML, is the document's mapping
// node so that field paths can be mapped back to lines.
type Resource struct {
	Object map[string]any
	File   string // path it was read from; empty for an API body
	Line   int    // line where the document starts, from 1
	doc    *yaml.Node
}

// APIVersion returns the resource's apiVersion, or "" when it is missing or
// not a string.
func (r *Resource) APIVersion() string { return stringAt(r.Object, "apiVersion") }

// KindName returns the resource's kind, or "" when it is missing or not a
// string.
func (r *Resource) KindName() string { return stringAt(r.Object, "kind") }

// Name returns metadata.name, or "" when it is missing or not a string.
func (r *Resource) Name() string { return stringAt(mapAt(r.Object, "metadata"), "name") }

// Project returns metadata.project, or "" when it is missing or not a
// string.
func (r *Resource) Project() string { return stringAt(mapAt(r.Object, "metadata"), "project") }

// Key returns the resource's identity as its content states it. A Project's
// key has an empty Project even if metadata.project is (wrongly) set.
func (r *Resource) Key() Key {
	k := Key{Kind: r.KindName(), Name: r.Name()}
	if k.Kind != "Project" {
		k.Project = r.Project()
	}
	return k
}

// SetProject sets metadata.project to p in Object, creating metadata when it
// is missing; an empty p removes metadata.project. It does nothing when
// metadata is present but not a mapping. Line lookups for the new field fall
// back to metadata's line.
func (r *Resource) SetProject(p string) {
	if r.Object == nil {
		r.Object = map[string]any{}
	}
	raw, ok := r.Object["metadata"]
	if !ok || raw == nil {
		if p == "" {
			return
		}
		r.Object["metadata"] = map[string]any{"project": p}
		return
	}
	md, ok := raw.(map[string]any)
	if !ok {
		return
	}
	if p == "" {
		delete(md, "project")
		return
	}
	md["project"] = p
}

// LineOf returns the line (from 1) that holds the field at path, such as
// "spec.config.managedNodeGroups[0].instanceType" or
// `metadata.labels["rafay.dev/opa"]`. When the field does not exist it
// returns the line of the nearest ancestor that does, and r.Line when not
// even the first segment exists. It returns 0 for a resource that did not
// come from YAML.
func (r *Resource) LineOf(field string) int {
	if r == nil || r.doc == nil {
		return 0
	}
	line := r.Line
	cur := r.doc
	for _, s := range splitPath(field) {
		cur = deref(cur)
		if cur == nil {
			break
		}
		if s.isIndex {
			if cur.Kind != yaml.SequenceNode || s.index < 0 || s.index >= len(cur.Content) {
				break
			}
			cur = cur.Content[s.index]
			line = cur.Line
			continue
		}
		if cur.Kind != yaml.MappingNode {
			break
		}
		k, v := lookupKey(cur, s.key, 0)
		if k == nil {
			break
		}
		line = k.Line
		cur = v
	}
	return line
}

// deref follows alias nodes to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// lookupKey finds key in mapping node m, looking through merge keys (<<)
// when m does not hold it itself. It returns the key and value nodes.
func lookupKey(m *yaml.Node, key string, depth int) (*yaml.Node, *yaml.Node) {
	if depth > 20 {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key && !isMergeKey(k) {
			return k, m.Content[i+1]
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !isMergeKey(m.Content[i]) {
			continue
		}
		v := deref(m.Content[i+1])
		var sources []*yaml.Node
		if v != nil && v.Kind == yaml.SequenceNode {
			sources = v.Content
		} else {
			sources = []*yaml.Node{v}
		}
		for _, s := range sources {
			if s = deref(s); s != nil && s.Kind == yaml.MappingNode {
				if k, val := lookupKey(s, key, depth+1); k != nil {
					return k, val
				}
			}
		}
	}
	return nil, nil
}

// isMergeKey reports whether n is the YAML merge key "<<".
func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 &&
		(n.Tag == "" || n.Tag == "!" || n.Tag == "!!merge" || n.Tag == "tag:yaml.org,2002:merge")
}

// pathSeg is one step of a field path: a mapping key or a sequence index.
type pathSeg struct {
	key     string
	index   int
	isIndex bool
}

// splitPath parses a field path: keys separated by dots, [n] for sequence
// indexes and ["quoted key"] for keys that hold dots or brackets.
func splitPath(p string) []pathSeg {
	var segs []pathSeg
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			i++
		case '[':
			rest := p[i+1:]
			if strings.HasPrefix(rest, `"`) {
				q, err := strconv.QuotedPrefix(rest)
				if err == nil {
					key, _ := strconv.Unquote(q)
					segs = append(segs, pathSeg{key: key})
					i += 1 + len(q)
					if i < len(p) && p[i] == ']' {
						i++
					}
					continue
				}
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				segs = append(segs, pathSeg{key: rest})
				return segs
			}
			n, err := strconv.Atoi(rest[:end])
			if err != nil {
				segs = append(segs, pathSeg{key: rest[:end]})
			} else {
				segs = append(segs, pathSeg{index: n, isIndex: true})
			}
			i += end + 2
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			segs = append(segs, pathSeg{key: p[i:j]})
			i = j
		}
	}
	return segs
}

// joinKey appends a mapping key to a field path, quoting keys that could
// not be read back from a dotted path.
func joinKey(parent, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" ") {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// joinIndex appends a sequence index to a field path.
func joinIndex(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// mapAt returns m[key] when it is a mapping, else nil.
func mapAt(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// stringAt returns m[key] when it is a string, else "".
func stringAt(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// DropLines releases the YAML node tree kept for line numbers; LineOf
// returns r.Line afterwards. A caller that keeps many checked resources
// calls it once their problems are known, to hold only the plain object.
func (r *Resource) DropLines() { r.doc = nil }

// FieldAt returns the value at the field path p of obj (a path as
// problems name fields: "spec.credentials.password", "spec.values[0]",
// `metadata.labels["a.b"]`), and whether it exists.
func FieldAt(obj map[string]any, p string) (any, bool) {
	var cur any = obj
	for _, s := range splitPath(p) {
		switch x := cur.(type) {
		case map[string]any:
			if s.isIndex {
				return nil, false
			}
			v, ok := x[s.key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			if !s.isIndex || s.index < 0 || s.index >= len(x) {
				return nil, false
			}
			cur = x[s.index]
		default:
			return nil, false
		}
	}
	return cur, true
}

// SetField replaces the value at the field path p of obj with v, in
// place; it reports false, changing nothing, when the field does not
// exist (it never makes one).
func SetField(obj map[string]any, p string, v any) bool {
	segs := splitPath(p)
	if len(segs) == 0 {
		return false
	}
	var cur any = obj
	for i, s := range segs {
		last := i == len(segs)-1
		switch x := cur.(type) {
		case map[string]any:
			if s.isIndex {
				return false
			}
			next, ok := x[s.key]
			if !ok {
				return false
			}
			if last {
				x[s.key] = v
				return true
			}
			cur = next
		case []any:
			if !s.isIndex || s.index < 0 || s.index >= len(x) {
				return false
			}
			if last {
				x[s.index] = v
				return true
			}
			cur = x[s.index]
		default:
			return false
		}
	}
	return false
}

// JoinKey appends a mapping key to a field path as problems write paths
// (quoted in brackets when it holds a dot, a bracket, a quote or a space),
// so that FieldAt reads it back.
func JoinKey(parent, key string) string { return joinKey(parent, key) }

// JoinIndex appends a sequence index to a field path ("a[3]").
func JoinIndex(parent string, i int) string { return joinIndex(parent, i) }
