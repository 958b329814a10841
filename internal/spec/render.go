package spec

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	yaml2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// Render writes obj as Rafay's exporter writes a spec file, byte for byte:
// YAML 1.1 as go.yaml.in/yaml/v2 (the library under sigs.k8s.io/yaml)
// encodes it, with 2-space indent, sequences not indented under their key,
// keys in its order (see keyLess), strings that would read back as another
// type (true, 1.25, 2022-07-01, yes, null, "") double-quoted, multi-line
// strings as literal blocks, long lines folded at 80 columns, {} and []
// for empty collections, and floats in Go's shortest form (so 2.0 is
// written 2, as Rafay writes it). Parse(Render(x)) is Equal to x. obj is
// normalized first (see Normalize); an error means it could not be
// encoded.
func Render(obj map[string]any) ([]byte, error) {
	if holdsMergeKey(obj) {
		return renderNodes(Normalize(obj))
	}
	out, err := yaml2.Marshal(ordered(obj))
	if err != nil {
		return nil, fmt.Errorf("render YAML: %w", err)
	}
	return out, nil
}

// ordered returns v normalized (see Normalize) with every mapping as a
// yaml.v2 MapSlice in the order of sortKeys: the order yaml.v2 gives a
// map's keys, made deterministic for the key sets on which its comparison
// is not transitive (see keyLess).
func ordered(v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortKeys(keys)
		out := make(yaml2.MapSlice, len(keys))
		for i, k := range keys {
			out[i] = yaml2.MapItem{Key: k, Value: ordered(x[k])}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ordered(e)
		}
		return out
	case nil, string, bool, int64, float64:
		return v
	}
	return ordered(Normalize(v))
}

// holdsMergeKey reports whether v holds the string "<<" (as a key or a
// value of its maps and slices): yaml.v2 writes it plain, where it reads
// back as YAML's merge key. No real spec holds one.
func holdsMergeKey(v any) bool {
	switch x := v.(type) {
	case string:
		return x == "<<"
	case map[string]any:
		for k, e := range x {
			if k == "<<" || holdsMergeKey(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsMergeKey(e) {
				return true
			}
		}
	case nil, bool, int64, float64:
	default:
		return holdsMergeKey(Normalize(v))
	}
	return false
}

// renderNodes is Render through yaml.v3's node encoder, which quotes what
// would read back as another type as yaml.v3 reads it (and writes floats
// with a decimal point, and long lines whole): for the values yaml.v2
// cannot write.
func renderNodes(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeYAML(&buf, toNode(v), encodeChunkNodes); err != nil {
		return nil, fmt.Errorf("render YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// toNode builds the YAML node for a value.
func toNode(v any) *yaml.Node {
	switch x := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
		if !strings.Contains(x, "\n") && (x == "" || resolveTag(x) != "!!str" || isOldBool(x) || isBase60Like(x)) {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: formatFloat(x)}
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortKeys(keys)
		n.Content = make([]*yaml.Node, 0, 2*len(keys))
		for _, k := range keys {
			n.Content = append(n.Content, toNode(k), toNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, len(x))}
		for i, e := range x {
			n.Content[i] = toNode(e)
		}
		return n
	}
	return toNode(Normalize(v))
}

// sortKeys sorts mapping keys in the order Render writes them: keyLess,
// from byte order, so that the result is the same on every call even for
// keys keyLess does not order transitively (such as 09z, 29z and 2aaa).
func sortKeys(keys []string) {
	sort.Strings(keys)
	sort.SliceStable(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
}

// keyLess is the order in which go.yaml.in/yaml/v2 writes the string keys
// of a map, and so the order of keys in a file Rafay exports: rune by rune,
// a letter after any other character, and runs of digits compared as
// numbers (item9 before item10). It is that library's keyList.Less for
// strings, which it does not export; like it, it is not transitive when
// runs of digits meet letters at one place (29z < 2aaa < 09z < 29z), where
// yaml.v2's order depends on the map's and sortKeys' does not.
func keyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}

// formatFloat writes f so that it reads back as a float64.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return ".nan"
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// isOldBool reports whether s is a YAML 1.1 boolean, which other parsers
// would not read as a string.
func isOldBool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return true
	}
	return false
}

// isBase60Like reports whether s could be a YAML 1.1 base-60 number
// (such as 1:20), which other parsers would not read as a string.
func isBase60Like(s string) bool {
	if s == "" || !strings.Contains(s, ":") {
		return false
	}
	c := s[0]
	if c != '+' && c != '-' && (c < '0' || c > '9') {
		return false
	}
	for _, r := range s[1:] {
		if r != ':' && r != '.' && r != '_' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Canonical returns obj with server-owned fields removed (status, metadata.resourceVersion,
// metadata.createdAt, metadata.modifiedAt, metadata.id), the apiVersion normalized to the kind's
// primary group, empty labels/annotations maps removed, normalized values.
//
// Numbers compare by value: an integral float64 (within ±2^53) becomes an
// int64, so 1.0 from a YAML file equals 1 from a JSON body. The result is a
// new map; obj is not modified. A nil obj gives an empty map.
func Canonical(obj map[string]any) map[string]any {
	out, _ := canonicalValue(obj).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	canonicalTop(out)
	return out
}

// CanonicalInPlace is Canonical(obj) made in obj itself, for a tree its
// caller owns and does not use afterwards: Canonical copies the whole tree
// to change, in most objects, a few metadata fields. It works in place when
// obj holds only the values ParseBody builds (maps, slices, strings, bools,
// nil, int64 and float64), and returns Canonical(obj) otherwise.
func CanonicalInPlace(obj map[string]any) map[string]any {
	if obj == nil || !integralInPlace(obj) {
		return Canonical(obj)
	}
	canonicalTop(obj)
	return obj
}

// canonicalTop drops what Canonical drops at the top of an object and
// writes a v3 apiVersion of an alternative group as the kind's own.
func canonicalTop(out map[string]any) {
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		for _, f := range []string{"resourceVersion", "createdAt", "modifiedAt", "id"} {
			delete(md, f)
		}
		for _, f := range []string{"labels", "annotations"} {
			if v, has := md[f]; has {
				if m, ok := v.(map[string]any); v == nil || ok && len(m) == 0 {
					delete(md, f)
				}
			}
		}
	}
	if av, ok := out["apiVersion"].(string); ok {
		if k, known := LookupKind(stringAt(out, "kind")); known {
			if group, version, _ := strings.Cut(av, "/"); version == "v3" && k.acceptsGroup(group) {
				out["apiVersion"] = k.APIVersion()
			}
		}
	}
}

// integralInPlace turns the integral floats of v into int64 as
// canonicalValue does, in place, and reports false (v then possibly half
// done, which Canonical's copy does not mind) when v holds a value type
// other than ParseBody's.
func integralInPlace(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n, changed, ok := integralValue(e)
			if !ok {
				return false
			}
			if changed {
				x[k] = n
			}
		}
	case []any:
		for i, e := range x {
			n, changed, ok := integralValue(e)
			if !ok {
				return false
			}
			if changed {
				x[i] = n
			}
		}
	}
	return true
}

// integralValue is integralInPlace for one value: the int64 an integral
// float becomes, and whether it did.
func integralValue(e any) (any, bool, bool) {
	switch y := e.(type) {
	case float64:
		if n, ok := canonicalInt(y); ok {
			return n, true, true
		}
	case map[string]any, []any:
		return e, false, integralInPlace(y)
	case nil, string, bool, int64:
	default:
		return e, false, false
	}
	return e, false, true
}

// canonicalValue normalizes v and turns integral floats into int64.
func canonicalValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonicalValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalValue(e)
		}
		return out
	case float64:
		if n, ok := canonicalInt(x); ok {
			return n
		}
		return x
	case nil, string, bool, int64:
		return x
	}
	return canonicalValue(Normalize(v))
}

// Equal reports semantic equality: Canonical(a) deep-equals Canonical(b).
// NaN equals NaN.
func Equal(a, b map[string]any) bool {
	return equalValue(Canonical(a), Canonical(b))
}

// equalValue compares normalized values as Canonical sees them: numbers
// by value (2.0 equals 2), NaN equal to NaN.
func equalValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, has := y[k]
			if !has || !equalValue(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case int64, float64:
		ca, cb := canonicalValue(a), canonicalValue(b)
		if fx, ok := ca.(float64); ok {
			fy, ok := cb.(float64)
			return ok && (fx == fy || math.IsNaN(fx) && math.IsNaN(fy))
		}
		return ca == cb
	}
	return a == b
}
