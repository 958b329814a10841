package spec

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Update returns the bytes of a spec file that holds obj, starting from the file's current bytes: when existing already
// holds obj semantically (Equal after Canonical, server-owned fields ignored), it returns existing unchanged (same bytes).
// Otherwise it edits the file's text, guided by its yaml.Node tree, so that only the lines of changed values change:
// every other line stays byte for byte, with its comments (head, line and foot), blank lines, key order, quoting,
// indentation and line ending (CRLF too). In detail:
//   - a changed scalar is rewritten in place, keeping its line comment and its style where the new value allows it
//     (double- or single-quoted, literal or folded block with its header); a plain string that would read as another
//     type is double-quoted, as Render does; a changed non-empty flow collection ([a, b]) stays in flow style;
//   - a value that changes kind (scalar, mapping, sequence), or an empty {} or [] that gets content, is written anew;
//   - new keys are appended at the end of their mapping, sorted among themselves, after the foot comments of its last
//     entry;
//   - a removed key or item goes with its head comments (the comment lines right above it) and its foot comments (the
//     comment lines right below it, at least as indented, when a blank line or the end of the file follows them); a
//     blank line the removal would double is dropped;
//   - sequences are matched by equal items (common prefix and suffix, then a longest common subsequence); between two
//     matches the items are edited pairwise and the surplus is removed, or inserted at that place;
//   - server-owned fields (status, metadata.resourceVersion/createdAt/modifiedAt/id) are never written, and lines the
//     file has for them are left alone; so are an apiVersion in another group the kind accepts and empty labels or
//     annotations, when obj agrees with them semantically.
//
// New lines use 2-space indent and sequences not indented under their key (the Rafay style), like Render, starting at
// the indentation of the mapping or sequence they join. existing empty, nil or holding no document: Render(obj)
// without the server-owned fields.
//
// Where a key or item cannot be removed on its own lines (the first key of `- a: 1` when more keys follow, the first
// item of `- - a`), the enclosing item is rewritten; a mapping or sequence left empty is written {} or []; an alias
// whose anchor goes away with a changed value becomes a copy of its value.
//
// The result is parsed and compared with obj. What the text edit cannot do (a key appended after a block scalar
// that ends the file without a line end, a layout it does not know such as an explicit `? key`, a result that does
// not read back as obj) falls back to editing the node tree and re-encoding the whole document in the Rafay style,
// which keeps comments and key order but not blank lines or other indentation; when that does not read back as obj
// either, and for a document in flow style ({...}), the result is Render(obj). An error means existing is not valid
// YAML (the message has the line), holds more than one document, or holds something other than a mapping.
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
	p.keepAliases(root)
	if out, err := applyText(src, p.ops); err == nil && readsBackAs(out, target) {
		return out, wayTextEdit, nil
	}
	if src.terms[len(src.terms)-1] == "" {
		src.finalEOL = true
		if out, err := applyText(src, p.ops); err == nil && readsBackAs(out, target) {
			return out, wayTextEdit, nil
		}
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
		return oldHas && newHas && equalValue(canonicalAPIVersion(oldV, p.oldRoot["kind"]), canonicalAPIVersion(newV, p.newRoot["kind"]))
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
		sortKeys(added) // in the order Render writes them
		var nodes []*yaml.Node
		for _, key := range added {
			nodes = append(nodes, toNode(key), toNode(nw[key]))
		}
		p.add(opInsert, m, -1, nodes...)
	}
	return true
}

// sequence plans the edits of block sequence s from old to nw, or returns false. Equal items are matched (common
// prefix and suffix, and a longest common subsequence in between); between two matches the items are edited
// pairwise, and the surplus is removed or inserted.
func (p *planner) sequence(s *yaml.Node, old, nw []any) bool {
	matches := matchItems(old, nw)
	type gap struct{ oi, oe, ni, ne int }
	var gaps []gap
	pi, pj := -1, -1
	for _, m := range append(matches, [2]int{len(old), len(nw)}) {
		if m[0] > pi+1 || m[1] > pj+1 {
			gaps = append(gaps, gap{pi + 1, m[0], pj + 1, m[1]})
		}
		pi, pj = m[0], m[1]
	}
	for _, g := range gaps {
		k := min(g.oe-g.oi, g.ne-g.ni)
		if g.oi+k == 0 && (g.oe > 0 || g.ne > g.ni) && p.src.sharesLine(s) {
			return false // the first item shares its line (`- - a`): it cannot be removed or preceded on its own
		}
	}
	for _, g := range gaps {
		k := min(g.oe-g.oi, g.ne-g.ni)
		for x := 0; x < k; x++ {
			p.value(s, g.oi+x, old[g.oi+x], nw[g.ni+x], "-")
		}
		for i := g.oi + k; i < g.oe; i++ {
			p.add(opDelete, s, i)
		}
		if g.ni+k < g.ne {
			nodes := make([]*yaml.Node, 0, g.ne-g.ni-k)
			for _, v := range nw[g.ni+k : g.ne] {
				nodes = append(nodes, toNode(v))
			}
			p.add(opInsert, s, g.oi+k-1, nodes...)
		}
	}
	return true
}

// matchItems pairs equal items of old and nw, in order: the common prefix and suffix, and a longest common
// subsequence of the rest when that is small enough to compute.
func matchItems(old, nw []any) [][2]int {
	lo, ln := len(old), len(nw)
	pre := 0
	for pre < lo && pre < ln && equalValue(old[pre], nw[pre]) {
		pre++
	}
	suf := 0
	for suf < lo-pre && suf < ln-pre && equalValue(old[lo-1-suf], nw[ln-1-suf]) {
		suf++
	}
	var out [][2]int
	for i := 0; i < pre; i++ {
		out = append(out, [2]int{i, i})
	}
	a, b := old[pre:lo-suf], nw[pre:ln-suf]
	if len(a) > 0 && len(b) > 0 && len(a)*len(b) <= 1<<16 {
		lcs := make([][]int, len(a)+1)
		for i := range lcs {
			lcs[i] = make([]int, len(b)+1)
		}
		for i := len(a) - 1; i >= 0; i-- {
			for j := len(b) - 1; j >= 0; j-- {
				if equalValue(a[i], b[j]) {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		for i, j := 0, 0; i < len(a) && j < len(b); {
			switch {
			case equalValue(a[i], b[j]) && lcs[i][j] == lcs[i+1][j+1]+1:
				out = append(out, [2]int{pre + i, pre + j})
				i, j = i+1, j+1
			case lcs[i+1][j] >= lcs[i][j+1]:
				i++
			default:
				j++
			}
		}
	}
	for x := suf; x > 0; x-- {
		out = append(out, [2]int{lo - x, ln - x})
	}
	return out
}

// value plans the edit of parent.Content[index] from old to nw.
func (p *planner) value(parent *yaml.Node, index int, old, nw any, where string) {
	if equalValue(old, nw) {
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
	nn := toNode(nw)
	if n.Style&yaml.FlowStyle != 0 && len(n.Content) > 0 && nn.Kind == n.Kind && len(nn.Content) > 0 {
		nn.Style = yaml.FlowStyle // a changed [a, b] stays on its line
	}
	p.add(opReplace, parent, index, nn)
}

// keepAliases plans the replacement of each alias that stays in the document while its anchor goes away with a
// replaced or deleted node, by a copy of the value it had (an alias used as a mapping key is left to the final check).
func (p *planner) keepAliases(root *yaml.Node) {
	gone := map[*yaml.Node]bool{}
	for _, o := range p.ops {
		switch {
		case o.kind == opReplace:
			gone[o.parent.Content[o.index]] = true
		case o.kind == opDelete && o.parent.Kind == yaml.MappingNode:
			gone[o.parent.Content[o.index]], gone[o.parent.Content[o.index+1]] = true, true
		case o.kind == opDelete:
			gone[o.parent.Content[o.index]] = true
		}
	}
	anchors := map[*yaml.Node]bool{}
	var collect func(n *yaml.Node)
	collect = func(n *yaml.Node) {
		if n.Anchor != "" {
			anchors[n] = true
		}
		for _, c := range n.Content {
			collect(c)
		}
	}
	for n := range gone {
		collect(n)
	}
	if len(anchors) == 0 {
		return
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			switch {
			case gone[c]:
			case c.Kind == yaml.AliasNode && anchors[c.Alias]:
				if n.Kind != yaml.MappingNode || i%2 == 1 {
					conv := converter{limit: 1 << 20}
					p.add(opReplace, n, i, toNode(conv.value(c.Alias)))
				}
			default:
				walk(c)
			}
		}
	}
	walk(root)
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
	if err := encodeYAML(&buf, n, encodeChunkNodes); err != nil {
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
