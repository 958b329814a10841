package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/systemsync/systemsync/internal/jsontree"
)

// Parse reads one or more YAML documents from data (file is used in problems).
// Returns every document that is a mapping as a Resource (empty documents skipped),
// with Object normalized (see Normalize) and `status` dropped. A document that is a
// List (has an `items` sequence and no `spec`, e.g. the API's ClusterList) yields its
// items as resources, each with its own line. Malformed YAML gives one Problem with the
// line of the fault as an editor counts it (from 1; not always the line yaml.v3's
// message names), and no resources from that file. A document that is not a mapping
// is a Problem.
//
// Duplicate mapping keys and alias loops count as malformed YAML. Plain
// scalars resolve as yaml.v3 resolves them for an `any`, except that
// timestamps such as 2022-07-01 stay strings; an alias yields a copy of the
// anchored value and merge keys (<<) fill in keys the mapping lacks.
//
// Input over MaxNodes (counted without building it) is one Problem naming
// the line of the first node past the limit, and gives no resource.
//
// Numbers keep their exact value: one that no int64 or float64 holds as
// written (1e400, a 30-digit integer, more digits than a float64 has,
// .inf and .nan) is a Problem naming its line and field, and the file
// gives no resource; so is text that is not UTF-8 (its line and column),
// which is never replaced.
func Parse(file string, data []byte) ([]*Resource, []Problem) {
	return parseYAML(file, data, true)
}

// parseYAML is Parse, with List expansion optional.
func parseYAML(file string, data []byte, expandLists bool) ([]*Resource, []Problem) {
	if p, bad := utf8Problem(file, data); bad {
		return nil, []Problem{p}
	}
	if p, ok := yamlNodesProblem(file, data); !ok {
		return nil, []Problem{p}
	}
	docs, err := decodeDocs(data)
	if err != nil {
		return nil, []Problem{syntaxProblem(file, data, err)}
	}
	var (
		out   []*Resource
		probs []Problem
	)
	c := converter{limit: 2*len(data) + 1<<17}
	for _, doc := range docs {
		root := doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document
		}
		if root.Kind != yaml.MappingNode {
			probs = append(probs, Problem{File: file, Line: root.Line,
				Message: fmt.Sprintf("document is %s, not a mapping: a spec is a mapping with apiVersion, kind, metadata and spec", describeNode(root))})
			continue
		}
		obj := c.mapping(root)
		if c.fault != nil {
			return nil, []Problem{c.problem(file, doc)}
		}
		if expandLists {
			if itemsNode := listItems(root, obj); itemsNode != nil {
				items := obj["items"].([]any)
				for i, it := range items {
					itemNode := deref(itemsNode.Content[i])
					m, ok := it.(map[string]any)
					if !ok {
						probs = append(probs, Problem{File: file, Line: itemNode.Line, Field: joinIndex("items", i),
							Message: fmt.Sprintf("list item is %s, not a mapping", describeNode(itemNode))})
						continue
					}
					delete(m, "status")
					out = append(out, &Resource{Object: m, File: file, Line: itemNode.Line, doc: itemNode})
				}
				continue
			}
		}
		delete(obj, "status")
		out = append(out, &Resource{Object: obj, File: file, Line: root.Line, doc: root})
	}
	return out, probs
}

// listItems returns the items sequence node when the document is a List:
// it has an `items` sequence and no `spec`.
func listItems(root *yaml.Node, obj map[string]any) *yaml.Node {
	if _, hasSpec := obj["spec"]; hasSpec {
		return nil
	}
	if _, ok := obj["items"].([]any); !ok {
		return nil
	}
	_, v := lookupKey(root, "items", 0)
	v = deref(v)
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil
	}
	return v
}

// describeNode names a node's kind for messages: "a string", "a sequence".
func describeNode(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		switch scalarValue(n).(type) {
		case nil:
			return "null"
		case bool:
			return "a boolean"
		case int64:
			return "an integer"
		case float64:
			return "a number"
		default:
			return "a string"
		}
	}
	return "not a mapping"
}

// decodeDocs parses data into one node per YAML document.
func decodeDocs(data []byte) ([]*yaml.Node, error) {
	if !mayHoldSeveralDocs(data) {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, err
		}
		if doc.Kind == 0 {
			return nil, nil
		}
		return []*yaml.Node{&doc}, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// mayHoldSeveralDocs reports whether data could contain a document marker
// (--- or ...), in which case it has to be read with a Decoder.
func mayHoldSeveralDocs(data []byte) bool {
	return bytes.Contains(data, []byte("---")) || bytes.Contains(data, []byte("..."))
}

// converter turns yaml.Nodes into plain Go values. It stops at the first
// fault (a duplicate key, an alias loop, too many alias expansions, a
// number it cannot hold as written).
type converter struct {
	limit     int          // most nodes alias expansion may produce
	expanded  int          // nodes produced inside aliases so far
	expanding []*yaml.Node // alias targets being expanded, to catch loops
	fault     *yaml.Node   // node at fault, nil when all is well
	faultMsg  string
}

func (c *converter) fail(n *yaml.Node, msg string) {
	if c.fault == nil {
		c.fault, c.faultMsg = n, msg
	}
}

// problem reports the converter's fault as a Problem located in doc.
func (c *converter) problem(file string, doc *yaml.Node) Problem {
	return Problem{File: file, Line: c.fault.Line, Field: pathTo(doc, c.fault), Message: c.faultMsg}
}

func (c *converter) value(n *yaml.Node) any {
	if c.fault != nil {
		return nil
	}
	if len(c.expanding) > 0 {
		c.expanded++
		if c.expanded > c.limit {
			c.fail(n, "invalid YAML: too many alias expansions")
			return nil
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		v, bad := checkedScalarValue(n)
		if bad != "" {
			c.fail(n, bad)
			return nil
		}
		return v
	case yaml.MappingNode:
		return c.mapping(n)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, it := range n.Content {
			out[i] = c.value(it)
		}
		return out
	case yaml.AliasNode:
		if n.Alias == nil {
			c.fail(n, "invalid YAML: alias to an unknown anchor")
			return nil
		}
		for _, a := range c.expanding {
			if a == n.Alias {
				c.fail(n, fmt.Sprintf("invalid YAML: anchor %q contains itself", n.Value))
				return nil
			}
		}
		c.expanding = append(c.expanding, n.Alias)
		v := c.value(n.Alias)
		c.expanding = c.expanding[:len(c.expanding)-1]
		return v
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0])
	}
	return nil
}

func (c *converter) mapping(n *yaml.Node) map[string]any {
	m := make(map[string]any, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, v)
			continue
		}
		kk := deref(k)
		if kk == nil || kk.Kind != yaml.ScalarNode {
			c.fail(k, "invalid YAML: a mapping key must be a scalar")
			return m
		}
		key := kk.Value
		if _, dup := m[key]; dup {
			c.fail(k, fmt.Sprintf("invalid YAML: mapping key %q already defined at line %d", key, firstKeyLine(n, key)))
			return m
		}
		m[key] = c.value(v)
		if c.fault != nil {
			return m
		}
	}
	for _, mv := range merges {
		src := deref(mv)
		var sources []*yaml.Node
		switch {
		case src != nil && src.Kind == yaml.MappingNode:
			sources = []*yaml.Node{mv}
		case src != nil && src.Kind == yaml.SequenceNode:
			sources = src.Content
		default:
			c.fail(mv, "invalid YAML: a merge key (<<) needs a mapping or a sequence of mappings")
			return m
		}
		for _, s := range sources {
			if d := deref(s); d == nil || d.Kind != yaml.MappingNode {
				c.fail(s, "invalid YAML: a merge key (<<) needs a mapping or a sequence of mappings")
				return m
			}
			merged, _ := c.value(s).(map[string]any)
			for k, v := range merged {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
		}
	}
	return m
}

// firstKeyLine returns the line of the first occurrence of key in mapping n.
func firstKeyLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return k.Line
		}
	}
	return 0
}

// pathTo returns the field path from root to target ("" when target is
// root or not found).
func pathTo(root, target *yaml.Node) string {
	var walk func(n *yaml.Node, p string) (string, bool)
	walk = func(n *yaml.Node, p string) (string, bool) {
		if n == target {
			return p, true
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, ch := range n.Content {
				if r, ok := walk(ch, p); ok {
					return r, true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				kp := joinKey(p, n.Content[i].Value)
				if n.Content[i] == target {
					return kp, true
				}
				if r, ok := walk(n.Content[i+1], kp); ok {
					return r, true
				}
			}
		case yaml.SequenceNode:
			for i, ch := range n.Content {
				if r, ok := walk(ch, joinIndex(p, i)); ok {
					return r, true
				}
			}
		}
		return "", false
	}
	r, _ := walk(root, "")
	return r
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlMessage strips yaml.v3's "yaml: line N: " prefix from an error.
func yamlMessage(err error) (msg string, line int) {
	msg = err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return strings.TrimPrefix(msg, "yaml: "), line
}

// syntaxProblem locates a YAML syntax error. yaml.v3 often reports the line
// where the enclosing block starts (counted from 0) rather than the faulty
// line, so the fault is found as the first line whose prefix of the file no
// longer parses.
func syntaxProblem(file string, data []byte, err error) Problem {
	msg, reported := yamlMessage(err)
	ends := lineEnds(data)
	n := len(ends)
	fails := func(l int) bool {
		_, perr := decodeDocs(data[:ends[l-1]])
		if perr == nil {
			return false
		}
		m, _ := yamlMessage(perr)
		return m == msg || !isTruncationError(m)
	}
	line := 0
	if n > 0 {
		lo, hi := 1, n
		for lo < hi {
			mid := (lo + hi) / 2
			if fails(mid) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if fails(lo) {
			line = lo
		}
	}
	if line == 0 {
		line = min(max(reported, 1), max(n, 1))
	}
	return Problem{File: file, Line: line, Message: "invalid YAML: " + msg}
}

// isTruncationError reports whether a parse error is what cutting a valid
// multi-line construct short would give.
func isTruncationError(msg string) bool {
	return strings.Contains(msg, "end of stream") || strings.Contains(msg, "did not find expected ',' or") ||
		strings.Contains(msg, "did not find expected node content") || strings.Contains(msg, "could not find expected ':'")
}

// lineEnds returns, for each line of data, the offset just past it.
func lineEnds(data []byte) []int {
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	return ends
}

// ParseBody reads an API request body: JSON when contentType contains "json" or the
// body starts with '{', YAML otherwise. Exactly one resource: an empty body, several
// documents, or a non-mapping are Problems ("empty body" etc). A List body is not
// expanded. `status` is dropped. Problems have no File. Numbers and text
// are held as Parse holds them: a JSON number no int64 or float64 holds as
// written, or a string that is not UTF-8 (or holds half of a surrogate
// pair), is a Problem with its line and field. A body over MaxNodes is
// refused as Parse refuses a file (TooManyNodes tells that problem).
func ParseBody(contentType string, body []byte) (*Resource, []Problem) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, []Problem{{Message: "empty body: send one resource as JSON or YAML"}}
	}
	if strings.Contains(strings.ToLower(contentType), "json") || trimmed[0] == '{' {
		return parseJSONBody(body)
	}
	rs, probs := parseYAML("", body, false)
	if len(probs) > 0 {
		return nil, probs
	}
	switch len(rs) {
	case 0:
		return nil, []Problem{{Message: "empty body: send one resource as JSON or YAML"}}
	case 1:
		return rs[0], nil
	}
	return nil, []Problem{{Line: rs[1].Line, Message: fmt.Sprintf("the body holds %d documents: send exactly one resource", len(rs))}}
}

// parseJSONBody reads a JSON body: in one pass when it is a plain object
// (jsontree builds the normalized tree without encoding/json's interface
// values and Normalize's copy of them), else through decodeJSONBody, with
// its problems. Both give the same resource for what jsontree takes.
func parseJSONBody(body []byte) (*Resource, []Problem) {
	if p, ok := jsonNodesProblem(body); !ok {
		return nil, []Problem{p}
	}
	if obj, ok := jsontree.Object(body); ok {
		delete(obj, "status")
		return &Resource{Object: obj, Line: 1}, nil
	}
	return decodeJSONBody(body)
}

func decodeJSONBody(body []byte) (*Resource, []Problem) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		p := Problem{Message: "invalid JSON: " + err.Error()}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			p.Line = 1 + bytes.Count(body[:min(int(se.Offset), len(body))], []byte("\n"))
		}
		return nil, []Problem{p}
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		off := min(int(dec.InputOffset()), len(body))
		return nil, []Problem{{Line: 1 + bytes.Count(body[:off], []byte("\n")),
			Message: "the body holds more than one JSON value: send exactly one resource"}}
	}
	if f := jsontree.FindFault(body); f != nil {
		return nil, []Problem{jsonFaultProblem(body, f)}
	}
	obj, ok := Normalize(v).(map[string]any)
	if !ok {
		return nil, []Problem{{Line: 1, Message: fmt.Sprintf("the body is %s, not an object: send one resource", jsonKind(v))}}
	}
	delete(obj, "status")
	return &Resource{Object: obj, Line: 1}, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
