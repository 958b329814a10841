package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Context is what the caller knows about a resource before reading it:
// where it came from and what its path or URL implies.
type Context struct {
	File    string // for problems
	Kind    string // expected kind ("" = any), e.g. from the repo path or URL
	Project string // expected/default project, from the repo path or URL ("" = none)
	Name    string // expected name, from the repo path or URL ("" = none)
}

// Validate checks one resource and returns every problem, each with file, line and field path.
//
// It is as lenient as Rafay: errors are only what stops the resource from
// being applied (apiVersion and kind of a v3 kind, metadata with a
// DNS-1123 name and, for project-scoped kinds, a project, agreement with
// c, and values of a type the controller cannot hold, such as a string
// where a mapping belongs, or a top-level field besides apiVersion, kind,
// metadata, spec and status). A field Rafay's exporter leaves out or empty
// is never a problem. Warnings are what is doubtful but applicable:
// unknown metadata fields, a missing spec, and the kind's own
// doubts (a Cluster that does not sync from Git, see GitSyncSkip; an EKS
// node group whose minSize is above its maxSize). A legacy v2 spec gets a
// single error saying it is not synced; a kind that differs from c.Kind
// skips the per-kind rules. When c.Project is set and metadata.project is
// missing, that is not a problem: the caller fills it in with SetProject.
// Problems are ordered by line. The file is c.File, or r.File when c.File
// is empty.
func Validate(r *Resource, c Context) []Problem {
	file := c.File
	if file == "" {
		file = r.File
	}
	ch := &checker{r: r, file: file}
	obj := r.Object
	if obj == nil {
		return []Problem{{File: file, Line: r.Line, Message: "empty resource: a spec is a mapping with apiVersion, kind, metadata and spec"}}
	}
	for _, k := range sortedKeys(obj) {
		switch k {
		case "apiVersion", "kind", "metadata", "spec", "status":
		default:
			ch.add(joinKey("", k), "unknown field: a spec has only apiVersion, kind, metadata and spec")
		}
	}

	apiVersion, avIsString := obj["apiVersion"].(string)
	if avIsString && isLegacyAPIVersion(apiVersion) {
		msg := fmt.Sprintf("apiVersion %q is a legacy v2 spec: v2 specs are not synced; only v3 kinds sync", apiVersion)
		if k, ok := LookupKind(stringAt(obj, "kind")); ok {
			msg += fmt.Sprintf(" (write it as a %s, apiVersion %s)", k.Name, k.APIVersion())
		}
		ch.add("apiVersion", "%s", msg)
		return ch.sorted()
	}

	var kind *Kind
	switch v := obj["kind"].(type) {
	case nil:
		ch.add("kind", "required: one of %s", kindNames())
	case string:
		if v == "" {
			ch.add("kind", "required: one of %s", kindNames())
		} else if k, ok := LookupKind(v); ok {
			kind = k
		} else {
			msg := fmt.Sprintf("unknown kind %q", v)
			if near := nearestKind(v); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			ch.add("kind", "%s: only v3 kinds sync: %s", msg, kindNames())
		}
	default:
		ch.add("kind", "must be a string, got %s", describeValue(v))
	}

	switch v := obj["apiVersion"].(type) {
	case nil:
		if kind != nil {
			ch.add("apiVersion", "required: %s for a %s", kind.APIVersion(), kind.Name)
		} else {
			ch.add("apiVersion", "required: <group>/v3")
		}
	case string:
		if kind != nil {
			group, version, _ := strings.Cut(v, "/")
			if version != "v3" || !kind.acceptsGroup(group) {
				ch.add("apiVersion", "%q does not match kind %s: use %s", v, kind.Name, kind.APIVersion())
			}
		}
	default:
		ch.add("apiVersion", "must be a string, got %s", describeValue(v))
	}

	kindMismatch := false
	if kind != nil && c.Kind != "" && kind.Name != c.Kind {
		ch.add("kind", "kind is %s, expected %s", kind.Name, c.Kind)
		kindMismatch = true
	}

	ch.metadata(obj, kind, c)

	switch spec := obj["spec"].(type) {
	case nil:
		if kind != nil && !kind.specOptional {
			ch.warn("spec", "missing: a %s without a spec does nothing", kind.Name)
		}
	case map[string]any:
		if kind != nil && !kindMismatch {
			ch.sharing(spec)
			if kind.check != nil {
				kind.check(ch, spec)
			}
		}
	default:
		ch.add("spec", "must be a mapping, got %s", describeValue(spec))
	}
	return ch.sorted()
}

// isLegacyAPIVersion reports whether apiVersion belongs to Rafay's v2 API
// (pipeline.rafay.dev/v2, config.rafay.dev/v2, ...).
func isLegacyAPIVersion(apiVersion string) bool {
	group, version, _ := strings.Cut(apiVersion, "/")
	return version == "v2" || strings.HasSuffix(group, ".rafay.dev") || group == "rafay.dev"
}

var metadataFields = map[string]bool{
	"name": true, "project": true, "description": true, "labels": true, "annotations": true,
	"displayName": true, "resourceVersion": true, "createdAt": true, "modifiedAt": true, "id": true,
}

// metadata checks the metadata mapping; kind is nil when unknown.
func (ch *checker) metadata(obj map[string]any, kind *Kind, c Context) {
	raw, present := obj["metadata"]
	if !present || raw == nil {
		ch.add("metadata", "required: a spec needs metadata.name")
		return
	}
	md, ok := raw.(map[string]any)
	if !ok {
		ch.add("metadata", "must be a mapping, got %s", describeValue(raw))
		return
	}
	for _, k := range sortedKeys(md) {
		if !metadataFields[k] {
			ch.warn(joinKey("metadata", k), "unknown metadata field: allowed are name, project, description, labels, annotations and displayName")
		}
	}

	switch v := md["name"].(type) {
	case nil:
		ch.add("metadata.name", "required: the resource's name, a DNS-1123 label")
	case string:
		switch {
		case v == "":
			ch.add("metadata.name", "required: the resource's name, a DNS-1123 label")
		case !isDNSLabel(v):
			ch.add("metadata.name", "%q is not a valid name: %s", v, dnsLabelRule)
		}
		if v != "" && c.Name != "" && v != c.Name {
			ch.add("metadata.name", "name is %q, expected %q (from the file name or URL)", v, c.Name)
		}
	default:
		ch.add("metadata.name", "must be a string, got %s", describeValue(v))
	}

	if kind != nil {
		pv, has := md["project"]
		switch {
		case !kind.ProjectScoped:
			if has {
				ch.add("metadata.project", "a %s is not inside a project: remove metadata.project", kind.Name)
			}
		case !has || pv == nil || pv == "":
			if c.Project == "" {
				ch.add("metadata.project", "required: the project this %s belongs to", kind.Name)
			}
		default:
			p, isString := pv.(string)
			switch {
			case !isString:
				ch.add("metadata.project", "must be a string, got %s", describeValue(pv))
			case !isDNSLabel(p):
				ch.add("metadata.project", "%q is not a valid project name: %s", p, dnsLabelRule)
			case c.Project != "" && p != c.Project:
				ch.add("metadata.project", "project is %q, expected %q (from the path or URL)", p, c.Project)
			}
		}
	}

	for _, f := range []string{"description", "displayName", "createdAt", "modifiedAt", "id"} {
		if v, has := md[f]; has && v != nil {
			if _, ok := v.(string); !ok {
				ch.add("metadata."+f, "must be a string, got %s", describeValue(v))
			}
		}
	}
	if v, has := md["resourceVersion"]; has && v != nil {
		switch v.(type) {
		case string, int64:
		default:
			ch.add("metadata.resourceVersion", "must be a string, got %s", describeValue(v))
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		v, has := md[f]
		if !has || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			ch.add("metadata."+f, "must be a mapping of strings to strings, got %s", describeValue(v))
			continue
		}
		for _, k := range sortedKeys(m) {
			if _, ok := m[k].(string); !ok {
				ch.add(joinKey("metadata."+f, k), "must be a string, got %s (quote it)", describeValue(m[k]))
			}
		}
	}
}

const dnsLabelRule = "use a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"

// isDNSLabel reports whether s is a DNS-1123 label.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// checker collects the problems of one resource.
type checker struct {
	r     *Resource
	file  string
	probs []Problem
}

// add records an error on field, located on the line that holds it.
func (ch *checker) add(field, format string, args ...any) {
	ch.probs = append(ch.probs, Problem{File: ch.file, Line: ch.r.LineOf(field), Field: field, Message: fmt.Sprintf(format, args...)})
}

// warn records a warning on field, located on the line that holds it.
func (ch *checker) warn(field, format string, args ...any) {
	ch.probs = append(ch.probs, Problem{File: ch.file, Line: ch.r.LineOf(field), Field: field, Message: fmt.Sprintf(format, args...),
		Severity: SeverityWarning})
}

// sorted returns the problems ordered by line, keeping the order of checks
// among problems on the same line.
func (ch *checker) sorted() []Problem {
	sort.SliceStable(ch.probs, func(i, j int) bool { return ch.probs[i].Line < ch.probs[j].Line })
	return ch.probs
}

// The type checks below report a value of the wrong type as an error, and
// nothing for a field that is missing, null or empty: Rafay's exporter
// leaves such fields out. They return the value and whether it is there
// (non-empty) with the right type.

// str checks that m[key], when set, is a string.
func (ch *checker) str(m map[string]any, parent, key string) (string, bool) {
	v, has := m[key]
	if !has || v == nil || v == "" {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		ch.add(joinKey(parent, key), "must be a string, got %s (quote it)", describeValue(v))
		return "", false
	}
	return s, true
}

// boolean checks that m[key], when set, is true or false.
func (ch *checker) boolean(m map[string]any, parent, key string) {
	v, has := m[key]
	if !has || v == nil {
		return
	}
	if _, ok := v.(bool); !ok {
		ch.add(joinKey(parent, key), "must be true or false, got %s", describeValue(v))
	}
}

// integer checks that m[key], when set, is an integer.
func (ch *checker) integer(m map[string]any, parent, key string) (int64, bool) {
	v, has := m[key]
	if !has || v == nil {
		return 0, false
	}
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if n, ok := canonicalInt(x); ok {
			return n, true
		}
	}
	ch.add(joinKey(parent, key), "must be an integer, got %s", describeValue(v))
	return 0, false
}

// mapping checks that m[key], when set, is a mapping.
func (ch *checker) mapping(m map[string]any, parent, key string) (map[string]any, bool) {
	v, has := m[key]
	if !has || v == nil {
		return nil, false
	}
	mm, ok := v.(map[string]any)
	if !ok {
		ch.add(joinKey(parent, key), "must be a mapping, got %s", describeValue(v))
		return nil, false
	}
	return mm, true
}

// list checks that m[key], when set, is a sequence.
func (ch *checker) list(m map[string]any, parent, key string) ([]any, bool) {
	v, has := m[key]
	if !has || v == nil {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		ch.add(joinKey(parent, key), "must be a list, got %s", describeValue(v))
		return nil, false
	}
	return l, true
}

// strings checks that m[key], when set, is a list of strings.
func (ch *checker) strings(m map[string]any, parent, key string) {
	l, _ := ch.list(m, parent, key)
	for i, it := range l {
		if _, ok := it.(string); !ok && it != nil {
			ch.add(joinIndex(joinKey(parent, key), i), "must be a string, got %s", describeValue(it))
		}
	}
}

// stringMap checks that m[key], when set, is a mapping of strings.
func (ch *checker) stringMap(m map[string]any, parent, key string) {
	mm, _ := ch.mapping(m, parent, key)
	p := joinKey(parent, key)
	for _, k := range sortedKeys(mm) {
		if _, ok := mm[k].(string); !ok && mm[k] != nil {
			ch.add(joinKey(p, k), "must be a string, got %s (quote it)", describeValue(mm[k]))
		}
	}
}

// items calls f for every item of m[key] (a list, if set) that is a
// mapping, and reports the ones that are not.
func (ch *checker) items(m map[string]any, parent, key string, f func(item map[string]any, p string)) {
	l, _ := ch.list(m, parent, key)
	lp := joinKey(parent, key)
	for i, it := range l {
		ip := joinIndex(lp, i)
		switch im := it.(type) {
		case map[string]any:
			f(im, ip)
		case nil:
		default:
			ch.add(ip, "must be a mapping, got %s", describeValue(it))
		}
	}
}

// named checks a list of mappings named by their name (which may be left
// out, as in Rafay's `agents: [{}]`); a name given twice is a warning.
func (ch *checker) named(m map[string]any, parent, key string, f func(item map[string]any, p string)) {
	seen := map[string]bool{}
	ch.items(m, parent, key, func(item map[string]any, p string) {
		if n, ok := ch.str(item, p, "name"); ok {
			if seen[n] {
				ch.warn(joinKey(p, "name"), "duplicate name %q", n)
			}
			seen[n] = true
		}
		if f != nil {
			f(item, p)
		}
	})
}

// sharing checks spec.sharing, which every kind may have.
func (ch *checker) sharing(spec map[string]any) {
	s, ok := ch.mapping(spec, "spec", "sharing")
	if !ok {
		return
	}
	ch.boolean(s, "spec.sharing", "enabled")
	ch.named(s, "spec.sharing", "projects", nil)
}

// describeValue names the type of a normalized value for messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("a string (%q)", x)
	case bool:
		return fmt.Sprintf("a boolean (%t)", x)
	case int64:
		return fmt.Sprintf("an integer (%d)", x)
	case float64:
		return fmt.Sprintf("a number (%v)", x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
