package spec

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Update returns the bytes of a spec file that holds obj, starting from the file's current bytes: when existing already
// holds obj semantically (Equal after Canonical, server-owned fields ignored), it returns existing unchanged (same bytes).
// Otherwise it edits the file so that only the lines of changed values change: comments (head, line and foot), key
// order, quoting style of unchanged scalars, and blank lines stay as they were; changed scalars keep their style when
// the new value allows it (a double-quoted string stays double-quoted, a literal block stays a literal block); new keys
// are appended at the end of their mapping (sorted among themselves); removed keys are deleted with their comments;
// sequences keep their common prefix and suffix, the elements in between are edited pairwise, and the surplus is
// removed or inserted. Server-owned fields (status, metadata.resourceVersion/createdAt/modifiedAt/id) are never
// written; when the file already has them, their lines are left as they are. New and changed lines use 2-space indent
// and sequences not indented under their key (the Rafay style), like Render; lines that do not change keep whatever
// indentation they had. existing empty, nil or holding no document: Render(obj) without the server-owned fields.
//
// The edit is made on the file's text, guided by its yaml.Node tree, and checked by parsing the result. A layout the
// text edit does not handle (such as deleting the first element of `- - a`), or one whose result does not parse back
// to obj (anchors and aliases shared by changed values), falls back to editing the node tree and re-encoding the whole
// document in the Rafay style, which keeps comments and key order but not blank lines or other indentation; if even
// that does not read back as obj, the result is Render(obj). An error means existing is not valid YAML, holds more
// than one document, or holds something other than a mapping.
func Update(existing []byte, obj map[string]any) ([]byte, error) {
	out, _, err := update(existing, obj)
	return out, err
}

// updateWay says how update produced its result.
type updateWay int

const (
	wayUnchanged updateWay = iota // existing returned as it is
	wayRendered                   // Render: no document to edit, or nothing else worked
	wayTextEdit                   // the lines of the changed values edited
	wayReencoded                  // the node tree edited and the whole document re-encoded
)

func update(existing []byte, obj map[string]any) ([]byte, updateWay, error) {
	target := writableObject(obj)
	render := func() ([]byte, updateWay, error) {
		out, err := Render(target)
		return out, wayRendered, err
	}
	if len(bytes.TrimSpace(existing)) == 0 {
		return render()
	}
	docs, err := decodeDocs(existing)
	if err != nil {
		return nil, 0, fmt.Errorf("update spec: %s", syntaxProblem("", existing, err))
	}
	var doc, root *yaml.Node
	count := 0
	for _, d := range docs {
		r := d
		if r.Kind == yaml.DocumentNode {
			if len(r.Content) == 0 {
				continue
			}
			r = r.Content[0]
		}
		if r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
			continue
		}
		count++
		doc, root = d, r
	}
	switch {
	case count == 0:
		return render()
	case count > 1:
		return nil, 0, fmt.Errorf("update spec: the file holds %d documents; a spec file holds one resource", count)
	case root.Kind != yaml.MappingNode:
		return nil, 0, fmt.Errorf("update spec: line %d: the document is %s, not a mapping", root.Line, describeNode(root))
	}
	c := converter{limit: 2*len(existing) + 1<<17}
	old := c.mapping(root)
	if c.fault != nil {
		return nil, 0, fmt.Errorf("update spec: %s", c.problem("", doc))
	}
	if Equal(old, target) {
		return existing, wayUnchanged, nil
	}

	src := splitText(existing)
	p := &planner{src: src, oldRoot: old, newRoot: target}
	if !isBlockMapping(root) || !p.mapping(root, old, target, "") {
		return render()
	}
	if out, err := applyText(src, p.ops); err == nil && readsBackAs(out, target) {
		return out, wayTextEdit, nil
	}
	if out, err := applyNodes(doc, p.ops); err == nil && readsBackAs(out, target) {
		return out, wayReencoded, nil
	}
	return render()
}

// serverOwnedMetadata lists the metadata fields only the controller writes.
var serverOwnedMetadata = []string{"resourceVersion", "createdAt", "modifiedAt", "id"}

// writableObject returns a normalized copy of obj without the server-owned fields.
func writableObject(obj map[string]any) map[string]any {
	out, _ := Normalize(obj).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		for _, f := range serverOwnedMetadata {
			delete(md, f)
		}
	}
	return out
}

// readsBackAs reports whether out parses as exactly one resource equal to target.
func readsBackAs(out []byte, target map[string]any) bool {
	rs, probs := parseYAML("", out, false)
	return len(probs) == 0 && len(rs) == 1 && Equal(rs[0].Object, target)
}

// semEqual reports whether two normalized values are equal as Canonical compares them.
func semEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			if yv, has := y[k]; !has || !semEqual(xv, yv) {
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
			if !semEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case int64, float64:
		return equalValue(canonicalValue(a), canonicalValue(b))
	}
	switch b.(type) {
	case map[string]any, []any, int64, float64:
		return false
	}
	return a == b
}

// An op is one edit of the node tree, shared by the text and the node back ends.
type op struct {
	kind   opKind
	parent *yaml.Node   // the mapping or sequence edited
	index  int          // see opKind
	nodes  []*yaml.Node // new nodes
}

type opKind int

const (
	opReplace opKind = iota // parent.Content[index] (a value or an item) becomes nodes[0]
	opDelete                // the entry whose key is parent.Content[index], or item index
	opInsert                // mapping: append the key/value pairs nodes; sequence: insert nodes after item index (-1: first)
)

// planner walks the existing node tree against the new object and lists the ops.
type planner struct {
	src              *srcText
	oldRoot, newRoot map[string]any
	ops              []op
}

func (p *planner) add(kind opKind, parent *yaml.Node, index int, nodes ...*yaml.Node) {
	p.ops = append(p.ops, op{kind: kind, parent: parent, index: index, nodes: nodes})
}

// kept reports whether the existing entry key (at where: "" for the root, "metadata", "-" elsewhere) is left as it
// is whatever the new object says: server-owned fields, an apiVersion in an accepted alias group, empty labels.
func (p *planner) kept(where, key string, oldV any, oldHas bool, newV any, newHas bool) bool {
	switch {
	case where == "" && key == "status":
		return true
	case where == "" && key == "apiVersion":
		return oldHas && newHas && semEqual(canonicalAPIVersion(oldV, p.oldRoot["kind"]), canonicalAPIVersion(newV, p.newRoot["kind"]))
	case where == "metadata" && (key == "labels" || key == "annotations"):
		return emptyMap(oldV, oldHas) && emptyMap(newV, newHas)
	case where == "metadata":
		for _, f := range serverOwnedMetadata {
			if key == f {
				return true
			}
		}
	}
	return false
}

func canonicalAPIVersion(v, kind any) any {
	return Canonical(map[string]any{"apiVersion": v, "kind": kind})["apiVersion"]
}

func emptyMap(v any, has bool) bool {
	m, ok := v.(map[string]any)
	return !has || v == nil || ok && len(m) == 0
}

// mapping plans the edits of block mapping m from old to nw. It returns false, planning nothing, when the
// mapping has to be replaced as a whole.
func (p *planner) mapping(m *yaml.Node, old, nw map[string]any, where string) bool {
	present := make(map[string]bool, len(m.Content)/2)
	var deleted, walked []int
	for i := 0; i+1 < len(m.Content); i += 2 {
		key := m.Content[i].Value
		present[key] = true
		oldV, oldHas := old[key]
		newV, newHas := nw[key]
		switch {
		case p.kept(where, key, oldV, oldHas, newV, newHas):
		case newHas:
			walked = append(walked, i)
		default:
			deleted = append(deleted, i)
		}
	}
	if len(deleted)*2 == len(m.Content) || len(deleted) > 0 && deleted[0] == 0 && p.src.sharesLine(m.Content[0]) {
		return false
	}
	var added []string
	for key, v := range nw {
		if !present[key] && !p.kept(where, key, nil, false, v, true) {
			added = append(added, key)
		}
	}
	for _, i := range walked {
		key := m.Content[i].Value
		child := "-"
		if where == "" && key == "metadata" {
			child = "metadata"
		}
		p.value(m, i+1, old[key], nw[key], child)
	}
	for _, i := range deleted {
		p.add(opDelete, m, i)
	}
	if len(added) > 0 {
		sort.Strings(added)
		var nodes []*yaml.Node
		for _, key := range added {
			nodes = append(nodes, toNode(key), toNode(nw[key]))
		}
		p.add(opInsert, m, -1, nodes...)
	}
	return true
}

// sequence plans the edits of block sequence s from old to nw, or returns false.
func (p *planner) sequence(s *yaml.Node, old, nw []any) bool {
	lo, ln := len(old), len(nw)
	pre := 0
	for pre < lo && pre < ln && semEqual(old[pre], nw[pre]) {
		pre++
	}
	suf := 0
	for suf < lo-pre && suf < ln-pre && semEqual(old[lo-1-suf], nw[ln-1-suf]) {
		suf++
	}
	pairs := min(lo-pre-suf, ln-pre-suf)
	delFrom, delTo := pre+pairs, lo-suf
	ins := nw[pre+pairs : ln-suf]
	if delFrom == 0 && (delTo > 0 || len(ins) > 0) && p.src.sharesLine(s) {
		return false
	}
	for j := pre; j < pre+pairs; j++ {
		p.value(s, j, old[j], nw[j], "-")
	}
	for i := delFrom; i < delTo; i++ {
		p.add(opDelete, s, i)
	}
	if len(ins) > 0 {
		nodes := make([]*yaml.Node, len(ins))
		for i, v := range ins {
			nodes[i] = toNode(v)
		}
		p.add(opInsert, s, pre+pairs-1, nodes...)
	}
	return true
}

// value plans the edit of parent.Content[index] from old to nw.
func (p *planner) value(parent *yaml.Node, index int, old, nw any, where string) {
	if semEqual(old, nw) {
		return
	}
	n := parent.Content[index]
	if n.Kind != yaml.AliasNode && n.Anchor == "" && n.Style&yaml.TaggedStyle == 0 {
		switch n.Kind {
		case yaml.MappingNode:
			nm, ok := nw.(map[string]any)
			om, _ := old.(map[string]any)
			if ok && len(nm) > 0 && isBlockMapping(n) && p.mapping(n, om, nm, where) {
				return
			}
		case yaml.SequenceNode:
			ns, ok := nw.([]any)
			os, _ := old.([]any)
			if ok && len(ns) > 0 && n.Style&yaml.FlowStyle == 0 && len(os) == len(n.Content) && p.sequence(n, os, ns) {
				return
			}
		case yaml.ScalarNode:
			switch nw.(type) {
			case map[string]any, []any:
			default:
				p.add(opReplace, parent, index, restyled(n, nw))
				return
			}
		}
	}
	p.add(opReplace, parent, index, toNode(nw))
}

// isBlockMapping reports whether m is a block mapping whose keys are plain or quoted scalars (no merge keys).
func isBlockMapping(m *yaml.Node) bool {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || isMergeKey(k) || k.Anchor != "" || k.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
			return false
		}
	}
	return true
}

// restyled builds the scalar node for v, keeping the style of old where v allows it.
func restyled(old *yaml.Node, v any) *yaml.Node {
	n := toNode(v)
	s, ok := v.(string)
	if !ok {
		return n
	}
	switch {
	case old.Style&yaml.LiteralStyle != 0:
		n.Style = yaml.LiteralStyle
	case old.Style&yaml.FoldedStyle != 0:
		n.Style = yaml.FoldedStyle
	case strings.Contains(s, "\n"):
	case old.Style&yaml.DoubleQuotedStyle != 0:
		n.Style = yaml.DoubleQuotedStyle
	case old.Style&yaml.SingleQuotedStyle != 0:
		n.Style = yaml.SingleQuotedStyle
	}
	return n
}

// encodeLines encodes n in the Rafay style and returns its lines.
func encodeLines(n *yaml.Node) ([]string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n"), nil
}

// applyNodes applies ops to the node tree and re-encodes the whole document in the Rafay style.
func applyNodes(doc *yaml.Node, ops []op) ([]byte, error) {
	type change struct {
		del   map[int]bool
		after map[int][]*yaml.Node
	}
	changes := map[*yaml.Node]*change{}
	var order []*yaml.Node
	for _, o := range ops {
		if o.kind == opReplace {
			old, n := o.parent.Content[o.index], o.nodes[0]
			n.HeadComment, n.LineComment, n.FootComment = old.HeadComment, old.LineComment, old.FootComment
			o.parent.Content[o.index] = n
			continue
		}
		ch := changes[o.parent]
		if ch == nil {
			ch = &change{del: map[int]bool{}, after: map[int][]*yaml.Node{}}
			changes[o.parent] = ch
			order = append(order, o.parent)
		}
		if o.kind == opDelete {
			ch.del[o.index] = true
		} else {
			ch.after[o.index] = append(ch.after[o.index], o.nodes...)
		}
	}
	for _, parent := range order {
		ch := changes[parent]
		var content []*yaml.Node
		if parent.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(parent.Content); i += 2 {
				if !ch.del[i] {
					content = append(content, parent.Content[i], parent.Content[i+1])
				}
			}
			content = append(content, ch.after[-1]...)
		} else {
			content = append(content, ch.after[-1]...)
			for i, it := range parent.Content {
				if !ch.del[i] {
					content = append(content, it)
				}
				content = append(content, ch.after[i]...)
			}
		}
		parent.Content = content
	}
	lines, err := encodeLines(doc)
	if err != nil {
		return nil, err
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// srcText is a file split into lines, each kept with its own line terminator.
type srcText struct {
	lines []string // text without the terminator
	terms []string // "\n", "\r\n", or "" for a last line without one
	eol   string   // terminator for new lines
}

func splitText(data []byte) *srcText {
	t := &srcText{eol: "\n"}
	s := string(data)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		line, term := s, ""
		if i >= 0 {
			line, term = s[:i], "\n"
			s = s[i+1:]
		} else {
			s = ""
		}
		if term != "" && strings.HasSuffix(line, "\r") {
			line, term = line[:len(line)-1], "\r\n"
		}
		t.lines = append(t.lines, line)
		t.terms = append(t.terms, term)
	}
	if len(t.terms) > 0 && t.terms[0] == "\r\n" {
		t.eol = "\r\n"
	}
	return t
}

var errLayout = errors.New("layout not handled by the text edit")

// line returns line l (from 1), "" beyond the file.
func (t *srcText) line(l int) string {
	if l < 1 || l > len(t.lines) {
		return ""
	}
	return t.lines[l-1]
}

func isBlankLine(s string) bool { return strings.TrimSpace(s) == "" }

func isCommentLine(s string) bool { return strings.HasPrefix(strings.TrimLeft(s, " \t"), "#") }

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// start returns the position of node n's text: its line and byte offset, past anchors and tags.
func (t *srcText) start(n *yaml.Node) (int, int) {
	l := t.line(n.Line)
	col := 0
	for r := 1; r < n.Column && col < len(l); r++ {
		_, size := utf8.DecodeRuneInString(l[col:])
		col += size
	}
	for col < len(l) && (l[col] == '&' || l[col] == '!') {
		for col < len(l) && l[col] != ' ' && l[col] != '\t' {
			col++
		}
		for col < len(l) && (l[col] == ' ' || l[col] == '\t') {
			col++
		}
	}
	return n.Line, col
}

// sharesLine reports whether collection n starts on a line that holds something before it (as `- a: 1` or `- - a`).
func (t *srcText) sharesLine(n *yaml.Node) bool {
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			return false
		}
		l, c, err := t.dash(n, 0)
		return err != nil || strings.TrimSpace(t.line(l)[:c]) != ""
	}
	l, c := t.start(n)
	return strings.TrimSpace(t.line(l)[:c]) != ""
}

func isEmptyNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "" && n.Style == 0 && (n.Tag == "!!null" || n.Tag == "")
}

// keyHead returns the line of mapping key k and the offset just past its colon.
func (t *srcText) keyHead(k *yaml.Node) (int, int, error) {
	l, c := t.start(k)
	var end int
	if k.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		el, ec, err := t.quotedEnd(l, c)
		if err != nil || el != l {
			return 0, 0, errLayout
		}
		end = ec
	} else {
		if !strings.HasPrefix(t.line(l)[c:], k.Value) {
			return 0, 0, errLayout
		}
		end = c + len(k.Value)
	}
	s := t.line(l)
	for end < len(s) && (s[end] == ' ' || s[end] == '\t') {
		end++
	}
	if end >= len(s) || s[end] != ':' {
		return 0, 0, errLayout
	}
	return l, end + 1, nil
}

// dash returns the position of the dash of item i of block sequence s.
func (t *srcText) dash(s *yaml.Node, i int) (int, int, error) {
	var l, c int
	if i == 0 {
		l, c = t.start(s)
	} else {
		prev, _, err := t.end(s.Content[i-1], s, i-1)
		if err != nil {
			return 0, 0, err
		}
		l = prev + 1
		for l <= len(t.lines) && (isBlankLine(t.line(l)) || isCommentLine(t.line(l))) {
			l++
		}
		c = indentOf(t.line(l))
	}
	if line := t.line(l); c >= len(line) || line[c] != '-' {
		return 0, 0, errLayout
	}
	return l, c, nil
}

// head returns the position just past the key's colon (mapping) or the item's dash (sequence) of parent.Content[index],
// and the indentation that the nested lines of a new value are relative to.
func (t *srcText) head(parent *yaml.Node, index int) (line, col, indent int, err error) {
	if parent.Kind == yaml.MappingNode {
		k := parent.Content[index-1]
		line, col, err = t.keyHead(k)
		_, kc := t.start(k)
		return line, col, kc, err
	}
	line, col, err = t.dash(parent, index)
	return line, col + 1, col, err
}

// end returns the line and the byte offset just past the text of n, which is parent.Content[index].
func (t *srcText) end(n, parent *yaml.Node, index int) (int, int, error) {
	if isEmptyNull(n) {
		l, c, _, err := t.head(parent, index)
		return l, c, err
	}
	l, c := t.start(n)
	switch {
	case n.Kind == yaml.AliasNode:
		return l, c + 1 + len(n.Value), nil
	case n.Style&yaml.FlowStyle != 0:
		return t.flowEnd(l, c)
	case n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode:
		if len(n.Content) == 0 {
			return 0, 0, errLayout
		}
		last := len(n.Content) - 1
		return t.end(n.Content[last], n, last)
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return t.quotedEnd(l, c)
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		_, _, indent, err := t.head(parent, index)
		if err != nil {
			return 0, 0, err
		}
		return t.blockEnd(l, c, indent)
	}
	_, _, indent, err := t.head(parent, index)
	if err != nil {
		return 0, 0, err
	}
	return t.plainEnd(n, l, c, indent)
}

// quotedEnd finds the end of the quoted scalar starting at line l, offset c.
func (t *srcText) quotedEnd(l, c int) (int, int, error) {
	s := t.line(l)
	if c >= len(s) {
		return 0, 0, errLayout
	}
	q := s[c]
	i := c + 1
	for l <= len(t.lines) {
		s = t.line(l)
		for i < len(s) {
			switch {
			case q == '"' && s[i] == '\\':
				i += 2
			case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
				i += 2
			case s[i] == q:
				return l, i + 1, nil
			default:
				i++
			}
		}
		l, i = l+1, 0
	}
	return 0, 0, errLayout
}

// flowEnd finds the end of the flow collection starting at line l, offset c.
func (t *srcText) flowEnd(l, c int) (int, int, error) {
	depth := 0
	tokenStart := true
	for i := c; l <= len(t.lines); l, i = l+1, 0 {
		s := t.line(l)
		for i < len(s) {
			ch := s[i]
			switch {
			case (ch == '"' || ch == '\'') && tokenStart:
				el, ec, err := t.quotedEnd(l, i)
				if err != nil {
					return 0, 0, err
				}
				l, i, s = el, ec, t.line(el)
				tokenStart = false
				continue
			case ch == '#' && tokenStart:
				i = len(s)
				continue
			case ch == '[' || ch == '{':
				depth++
			case ch == ']' || ch == '}':
				depth--
				if depth == 0 {
					return l, i + 1, nil
				}
			}
			tokenStart = ch == ' ' || ch == '\t' || ch == ',' || ch == '[' || ch == '{' || ch == ':'
			i++
		}
		tokenStart = true
	}
	return 0, 0, errLayout
}

// blockEnd finds the end of the block scalar whose indicator is at line l, offset c, in a node indented by indent.
func (t *srcText) blockEnd(l, c, indent int) (int, int, error) {
	hdr := t.line(l)[c+1:]
	if i := strings.IndexAny(hdr, " \t#"); i >= 0 {
		hdr = hdr[:i]
	}
	keep := strings.Contains(hdr, "+")
	content := 0
	if i := strings.IndexAny(hdr, "123456789"); i >= 0 {
		content = indent + int(hdr[i]-'0')
	}
	endL, endC := l, c+1+len(hdr)
	for j := l + 1; j <= len(t.lines); j++ {
		s := t.line(j)
		if isBlankLine(s) {
			if keep {
				endL, endC = j, len(s)
			}
			continue
		}
		if content == 0 {
			if indentOf(s) <= indent {
				break
			}
			content = indentOf(s)
		}
		if indentOf(s) < content {
			break
		}
		endL, endC = j, len(s)
	}
	return endL, endC, nil
}

// plainEnd finds the end of plain scalar n starting at line l, offset c, in a node indented by indent. A plain
// scalar may continue on more indented lines; the text found has to fold to n's value.
func (t *srcText) plainEnd(n *yaml.Node, l, c, indent int) (int, int, error) {
	first := t.line(l)[c:]
	if i := strings.Index(first, " #"); i >= 0 {
		first = first[:i]
	}
	if i := strings.Index(first, "\t#"); i >= 0 {
		first = first[:i]
	}
	first = strings.TrimRight(first, " \t")
	endL, endC := l, c+len(first)
	if first == n.Value {
		return endL, endC, nil
	}
	folded, blanks := first, 0
	for j := l + 1; j <= len(t.lines); j++ {
		s := t.line(j)
		if isBlankLine(s) {
			blanks++
			continue
		}
		if indentOf(s) <= indent || isCommentLine(s) {
			break
		}
		text := strings.TrimSpace(s)
		if i := strings.Index(text, " #"); i >= 0 {
			text = strings.TrimRight(text[:i], " \t")
		}
		if blanks > 0 {
			folded += strings.Repeat("\n", blanks) + text
		} else {
			folded += " " + text
		}
		blanks = 0
		endL, endC = j, strings.Index(s, text)+len(text)
	}
	if folded != n.Value {
		return 0, 0, errLayout
	}
	return endL, endC, nil
}

// region returns the lines of the entry or item parent.Content[index] (for a mapping, index is the key's) with its
// head comments (the comment lines right above it) and foot comments (the comment lines right below it, at
// least as indented as it, when a blank line or the end of the file follows them).
func (t *srcText) region(parent *yaml.Node, index int) (from, to int, err error) {
	vi := index
	if parent.Kind == yaml.MappingNode {
		vi = index + 1
	}
	hl, _, indent, err := t.head(parent, vi)
	if err != nil {
		return 0, 0, err
	}
	el, _, err := t.end(parent.Content[vi], parent, vi)
	if err != nil {
		return 0, 0, err
	}
	bound := 0
	if index >= 2 || parent.Kind == yaml.SequenceNode && index >= 1 {
		// the previous entry's value, or the previous item, is at index-1
		if bound, _, err = t.end(parent.Content[index-1], parent, index-1); err != nil {
			return 0, 0, err
		}
	}
	from = hl
	for from-1 > bound && isCommentLine(t.line(from-1)) {
		from--
	}
	to = el
	j := el + 1
	for j <= len(t.lines) && isCommentLine(t.line(j)) && indentOf(t.line(j)) >= indent {
		j++
	}
	if j > len(t.lines) || isBlankLine(t.line(j)) {
		to = j - 1
	}
	return from, to, nil
}

// textEdit replaces lines from..to (from 1, inclusive) with lines; to == from-1 inserts before line from.
type textEdit struct {
	from, to int
	lines    []string
	optional int // for an optional blank-line removal, 1 + the index of the edit it belongs to
}

// applyText turns ops into line edits of src and applies them.
func applyText(src *srcText, ops []op) ([]byte, error) {
	var edits []textEdit
	for _, o := range ops {
		es, err := src.edits(o)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.optional != 0 {
				e.optional = len(edits)
			}
			edits = append(edits, e)
		}
	}
	var kept []textEdit
	for i, e := range edits {
		if e.optional == 0 || !blankRemovalConflicts(edits, i) {
			kept = append(kept, e)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		a, b := kept[i], kept[j]
		if a.from != b.from {
			return a.from < b.from
		}
		return a.to < a.from && b.to >= b.from
	})
	type outLine struct{ text, term string }
	var out []outLine
	cur, lastTo := 1, 0
	for _, e := range kept {
		if e.from <= lastTo {
			return nil, errLayout
		}
		for ; cur < e.from; cur++ {
			out = append(out, outLine{src.lines[cur-1], src.terms[cur-1]})
		}
		for _, l := range e.lines {
			out = append(out, outLine{l, src.eol})
		}
		if e.to >= e.from {
			cur, lastTo = e.to+1, e.to
		}
	}
	for ; cur <= len(src.lines); cur++ {
		out = append(out, outLine{src.lines[cur-1], src.terms[cur-1]})
	}
	var buf bytes.Buffer
	for i, l := range out {
		term := l.term
		if term == "" && i < len(out)-1 {
			term = src.eol
		}
		if i == len(out)-1 && src.terms[len(src.terms)-1] == "" {
			term = ""
		}
		buf.WriteString(l.text)
		buf.WriteString(term)
	}
	return buf.Bytes(), nil
}

// blankRemovalConflicts reports whether the optional removal edits[i] of a blank line touches an edit that writes lines
// or removes the same line.
func blankRemovalConflicts(edits []textEdit, i int) bool {
	b := edits[i].from
	for j, e := range edits {
		if j == i || j == edits[i].optional-1 {
			continue
		}
		if e.optional != 0 && e.from == b && j < i {
			return true
		}
		if len(e.lines) > 0 && e.from <= b+1 && e.to >= b-1 {
			return true
		}
	}
	return false
}

// edits translates one op into line edits.
func (t *srcText) edits(o op) ([]textEdit, error) {
	switch o.kind {
	case opReplace:
		hl, hc, indent, err := t.head(o.parent, o.index)
		if err != nil {
			return nil, err
		}
		v := o.parent.Content[o.index]
		el, ec, err := t.end(v, o.parent, o.index)
		if err != nil {
			return nil, err
		}
		// keep what follows the old value on its line (its line comment), unless the old value is a block
		// collection, whose last line's comment belongs to what is replaced
		var suffix string
		switch vl, _ := t.start(v); {
		case isEmptyNull(v):
			suffix = t.line(el)[ec:]
		case vl != hl:
			if suffix = t.line(hl)[hc:]; !isBlankLine(suffix) && !isCommentLine(suffix) {
				return nil, errLayout
			}
		case (v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode) && v.Style&yaml.FlowStyle == 0:
		default:
			suffix = t.line(el)[ec:]
		}
		first, more, err := renderAfterHead(o.parent.Kind, o.nodes[0])
		if err != nil {
			return nil, err
		}
		first = t.keepBlockHeader(v, o.nodes[0], first, more, el)
		lines := append([]string{t.line(hl)[:hc] + first + suffix}, indentLines(more, indent)...)
		return []textEdit{{from: hl, to: el, lines: lines}}, nil
	case opDelete:
		from, to, err := t.region(o.parent, o.index)
		if err != nil {
			return nil, err
		}
		es := []textEdit{{from: from, to: to}}
		if from > 1 && isBlankLine(t.line(from-1)) && to < len(t.lines) && isBlankLine(t.line(to+1)) {
			es = append(es, textEdit{from: to + 1, to: to + 1, optional: 1})
		}
		return es, nil
	}
	var wrapper *yaml.Node
	var at, indent int
	if o.parent.Kind == yaml.MappingNode {
		last := len(o.parent.Content) - 2
		_, to, err := t.region(o.parent, last)
		if err != nil {
			return nil, err
		}
		_, indent = t.start(o.parent.Content[0])
		at = to + 1
		wrapper = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: o.nodes}
	} else {
		_, dc, err := t.dash(o.parent, 0)
		if err != nil {
			return nil, err
		}
		if o.index < 0 {
			at, _, err = t.region(o.parent, 0)
		} else {
			_, to, rerr := t.region(o.parent, o.index)
			at, err = to+1, rerr
		}
		if err != nil {
			return nil, err
		}
		indent = dc
		wrapper = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: o.nodes}
	}
	lines, err := encodeLines(wrapper)
	if err != nil {
		return nil, err
	}
	return []textEdit{{from: at, to: at - 1, lines: indentLines(lines, indent)}}, nil
}

// keepBlockHeader returns the rendered first line of a changed block scalar with the old header (such as `|` where
// the encoder writes `|-`) when the block still reads as the new value with it; the old block ends at line el.
func (t *srcText) keepBlockHeader(old, n *yaml.Node, first string, more []string, el int) string {
	const block = yaml.LiteralStyle | yaml.FoldedStyle
	if old.Style&block == 0 || old.Style&block != n.Style&block || n.Kind != yaml.ScalarNode {
		return first
	}
	l, c := t.start(old)
	hdr := t.line(l)[c:]
	if i := strings.IndexAny(hdr, " \t#"); i >= 0 {
		hdr = hdr[:i]
	}
	if strings.IndexAny(hdr, "123456789") >= 0 || strings.IndexAny(first, "123456789") >= 0 {
		return first
	}
	candidate := " " + hdr
	if candidate == first {
		return first
	}
	doc := "k:" + candidate + "\n" + strings.Join(more, "\n")
	if el < len(t.lines) || t.terms[el-1] != "" {
		doc += "\n"
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil || m["k"] != n.Value {
		return first
	}
	return candidate
}

// renderAfterHead encodes n as the value of a mapping key (parentKind MappingNode) or a sequence item, and returns
// what follows the colon or dash on the first line and the further lines, indented relative to the key or dash.
func renderAfterHead(parentKind yaml.Kind, n *yaml.Node) (string, []string, error) {
	var wrapper *yaml.Node
	prefix := "-"
	if parentKind == yaml.MappingNode {
		wrapper = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "k"}, n}}
		prefix = "k:"
	} else {
		wrapper = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{n}}
	}
	lines, err := encodeLines(wrapper)
	if err != nil {
		return "", nil, err
	}
	if !strings.HasPrefix(lines[0], prefix) {
		return "", nil, errLayout
	}
	return lines[0][len(prefix):], lines[1:], nil
}

// indentLines prefixes each non-empty line with n spaces.
func indentLines(lines []string, n int) []string {
	out := make([]string, len(lines))
	pad := strings.Repeat(" ", n)
	for i, l := range lines {
		if l != "" {
			l = pad + l
		}
		out[i] = l
	}
	return out
}
