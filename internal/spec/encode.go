package spec

import (
	"bytes"
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"
)

// encodeChunkNodes bounds the nodes one yaml.v3 Encoder is given. Its
// emitter keeps every event of a document until the document ends (about
// 270 bytes each, never reused), so a tree of 200,000 nodes held 100 MB of
// spent events and peaked at three times that while the queue grew; written
// in pieces of this size, what encoding holds is proportional to one piece.
const encodeChunkNodes = 512

// encodeYAML appends n to buf in the Rafay style (2-space indent, sequences
// not indented under their key), exactly as one yaml.v3 Encoder with
// SetIndent(2) and CompactSeqIndent writes it, but with the emitter given at
// most about chunk nodes at a time: a large block mapping or sequence is
// written entry by entry (groups of small entries through one encoder, a
// large entry's key line and then its value the same way, recursively), and
// the pieces are indented to where they belong. A collection whose own
// entries carry comments, an anchor or a tag is written whole (the encoder
// moves comments between neighbouring entries).
func encodeYAML(buf *bytes.Buffer, n *yaml.Node, chunk int) error {
	return encodeYAMLUpTo(buf, n, chunk, 0)
}

// errOverLimit is encodeYAMLUpTo's answer for a node written past its limit.
var errOverLimit = errors.New("over the limit")

// encodeYAMLUpTo is encodeYAML, stopped with errOverLimit once buf holds
// more than limit bytes (0: no limit).
func encodeYAMLUpTo(buf *bytes.Buffer, n *yaml.Node, chunk, limit int) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 && !hasComments(n) {
		n = n.Content[0]
	}
	e := chunkEncoder{buf: buf, chunk: chunk, limit: limit}
	return e.node(n, 0, "")
}

type chunkEncoder struct {
	buf   *bytes.Buffer
	chunk int
	limit int
	piece bytes.Buffer // one encoder's output
}

// node writes n as yaml.v3 writes it alone, each line indented by indent
// and the first one led by lead (such as "- " for a sequence item), which
// the other lines are indented past.
func (e *chunkEncoder) node(n *yaml.Node, indent int, lead string) error {
	if !e.splittable(n) || countNodes(n, e.chunk+1) <= e.chunk {
		return e.whole(n, indent, lead)
	}
	base := indent + len(lead)
	step := 2 // a mapping's entries: one item per key/value pair
	if n.Kind == yaml.SequenceNode {
		step = 1
	}
	group := &yaml.Node{Kind: n.Kind, Tag: n.Tag}
	size := 0
	flush := func() error {
		if len(group.Content) == 0 {
			return nil
		}
		err := e.whole(group, indent, lead)
		indent, lead = base, ""
		group.Content, size = group.Content[:0:0], 0
		return err
	}
	for i := 0; i+step <= len(n.Content); i += step {
		entry := n.Content[i : i+step]
		last := entry[step-1]
		c := 0
		for _, x := range entry {
			c += countNodes(x, e.chunk+1)
		}
		if c <= e.chunk || !e.splittable(last) {
			if size+c > e.chunk {
				if err := flush(); err != nil {
					return err
				}
			}
			group.Content = append(group.Content, entry...)
			size += c
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if n.Kind == yaml.SequenceNode {
			if err := e.node(last, indent, lead+"- "); err != nil {
				return err
			}
		} else {
			ok, err := e.keyLine(entry[0], indent, lead)
			if err != nil {
				return err
			}
			if !ok { // a key yaml.v3 writes in another form (such as `? long key`)
				group.Content = append(group.Content, entry...)
				if err := flush(); err != nil {
					return err
				}
				continue
			}
			valueIndent := base
			if last.Kind == yaml.MappingNode {
				valueIndent += 2
			}
			if err := e.node(last, valueIndent, ""); err != nil {
				return err
			}
		}
		indent, lead = base, ""
	}
	return flush()
}

// splittable reports whether n is a block collection that can be written
// in pieces: no comments, anchors or tags of its own or on its entries.
func (e *chunkEncoder) splittable(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return false
	}
	if n.Style != 0 || n.Anchor != "" || hasComments(n) || !defaultTag(n) {
		return false
	}
	for i, c := range n.Content {
		if hasComments(c) {
			return false
		}
		if n.Kind == yaml.MappingNode && i%2 == 0 && (c.Kind != yaml.ScalarNode || isMergeKey(c) || c.Anchor != "") {
			return false
		}
	}
	return true
}

func defaultTag(n *yaml.Node) bool {
	switch n.Tag {
	case "":
		return true
	case "!!map", "tag:yaml.org,2002:map":
		return n.Kind == yaml.MappingNode
	case "!!seq", "tag:yaml.org,2002:seq":
		return n.Kind == yaml.SequenceNode
	}
	return false
}

func hasComments(n *yaml.Node) bool {
	return n.HeadComment != "" || n.LineComment != "" || n.FootComment != ""
}

// keyLine writes the line of a mapping key whose value follows on the next
// lines ("key:"), as yaml.v3 writes it. It reports false, writing nothing,
// for a key it writes otherwise.
func (e *chunkEncoder) keyLine(k *yaml.Node, indent int, lead string) (bool, error) {
	probe := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{k, {Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}}}
	text, err := e.encode(probe)
	if err != nil {
		return false, err
	}
	line, ok := strings.CutSuffix(text, ": {}\n")
	if !ok || strings.Contains(line, "\n") {
		return false, nil
	}
	e.write(line+":\n", indent, lead)
	return true, nil
}

// whole writes n through one encoder.
func (e *chunkEncoder) whole(n *yaml.Node, indent int, lead string) error {
	text, err := e.encode(n)
	if err != nil {
		return err
	}
	e.write(text, indent, lead)
	if e.limit > 0 && e.buf.Len() > e.limit {
		return errOverLimit
	}
	return nil
}

func (e *chunkEncoder) encode(n *yaml.Node) (string, error) {
	e.piece.Reset()
	enc := yaml.NewEncoder(&e.piece)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return e.piece.String(), nil
}

// write appends text, indented, its first line led by lead. Lines end at
// every line break the emitter writes (\n, and \r, U+0085, U+2028, U+2029
// inside a single-quoted scalar, which it follows with its indentation);
// an empty line stays empty, as the encoder writes it.
func (e *chunkEncoder) write(text string, indent int, lead string) {
	first, start := true, true
	for i := 0; i < len(text); {
		if n := breakLen(text[i:]); n > 0 {
			e.buf.WriteString(text[i : i+n])
			i += n
			start = true
			continue
		}
		if start {
			pad := indent
			if !first {
				pad += len(lead)
			}
			for range pad {
				e.buf.WriteByte(' ')
			}
			if first {
				e.buf.WriteString(lead)
			}
			first, start = false, false
		}
		j := i + 1
		for j < len(text) && breakLen(text[j:]) == 0 {
			j++
		}
		e.buf.WriteString(text[i:j])
		i = j
	}
}

// breakLen is the length of the line break s starts with, or 0.
func breakLen(s string) int {
	switch {
	case s[0] == '\n' || s[0] == '\r':
		return 1
	case strings.HasPrefix(s, "\u0085"):
		return 2
	case strings.HasPrefix(s, "\u2028"), strings.HasPrefix(s, "\u2029"):
		return 3
	}
	return 0
}

// countNodes counts the nodes of n's tree, stopping at limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 1
	for _, c := range n.Content {
		if count >= limit {
			break
		}
		count += countNodes(c, limit-count)
	}
	return count
}
