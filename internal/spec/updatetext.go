package spec

// The text back end of Update: the ops planned on the node tree become edits of the file's lines, located
// through the nodes' positions, so that the lines of unchanged values stay byte for byte.

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// srcText is a file split into lines, each kept with its own line terminator.
type srcText struct {
	lines []string // text without the terminator
	terms []string // "\n", "\r\n", or "" for a last line without one
	eol   string   // terminator for new lines

	// finalEOL makes the result end with a line terminator even where the file does not, for when the text at
	// the end changes and reads otherwise without one (a block scalar's last line)
	finalEOL bool
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
	return n.Kind == yaml.ScalarNode && n.Value == "" && n.Style == 0 && n.Anchor == "" && (n.Tag == "!!null" || n.Tag == "")
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
	optional bool // the removal of a blank line left doubled by a deletion, made only when no other edit touches it
}

// applyText turns ops into line edits of src and applies them.
func applyText(src *srcText, ops []op) ([]byte, error) {
	var edits, optional []textEdit
	for _, o := range ops {
		es, err := src.edits(o)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.optional {
				optional = append(optional, e)
			} else {
				edits = append(edits, e)
			}
		}
	}
	// an optional removal of a blank line is dropped when it touches an edit that writes lines, or repeats another
	touched := map[int]bool{}
	for _, e := range edits {
		if len(e.lines) > 0 {
			for l := e.from - 1; l <= max(e.to, e.from-1)+1; l++ {
				touched[l] = true
			}
		}
	}
	kept := edits
	for _, e := range optional {
		if !touched[e.from] {
			touched[e.from] = true
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
		for i, l := range e.lines {
			term := src.eol
			if i == len(e.lines)-1 && e.to >= e.from {
				term = src.terms[e.to-1] // the last line of a replacement ends as the line it replaces
			}
			out = append(out, outLine{l, term})
		}
		if e.to >= e.from {
			cur, lastTo = e.to+1, e.to
		}
	}
	for ; cur <= len(src.lines); cur++ {
		out = append(out, outLine{src.lines[cur-1], src.terms[cur-1]})
	}
	// each line keeps its own terminator and new lines get the file's; a line without one (the file's last) keeps
	// lacking it only while it stays last
	var buf bytes.Buffer
	for i, l := range out {
		term := l.term
		if term == "" && (i < len(out)-1 || src.finalEOL) {
			term = src.eol
		}
		buf.WriteString(l.text)
		buf.WriteString(term)
	}
	return buf.Bytes(), nil
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
		if t.deepCommentAt(el+1, indent) {
			quoteMultiline(o.nodes[0])
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
			es = append(es, textEdit{from: to + 1, to: to + 1, optional: true})
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
	if t.deepCommentAt(at, indent) {
		quoteMultiline(wrapper)
	}
	lines, err := encodeLines(wrapper)
	if err != nil {
		return nil, err
	}
	return []textEdit{{from: at, to: at - 1, lines: indentLines(lines, indent)}}, nil
}

// deepCommentAt reports whether the first non-blank line from l on is a comment indented deeper than new
// lines indented by indent hold a block scalar's content: such a comment would read as part of the block.
func (t *srcText) deepCommentAt(l, indent int) bool {
	for l <= len(t.lines) && isBlankLine(t.line(l)) {
		l++
	}
	return l <= len(t.lines) && isCommentLine(t.line(l)) && indentOf(t.line(l)) >= indent+2
}

// quoteMultiline makes the multi-line strings under n double-quoted instead of block scalars.
func quoteMultiline(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "\n") {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		quoteMultiline(c)
	}
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
	if el < len(t.lines) || t.terms[el-1] != "" || t.finalEOL {
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
