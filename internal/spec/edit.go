package spec

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// EditFile returns the bytes of a spec file that holds obj, starting from
// the file's current bytes, for review-friendly commits:
//   - existing already holds obj (Equal): existing, byte for byte;
//   - existing is empty: Render(obj), a new Rafay-style file;
//   - otherwise the file's YAML node tree is edited in place: unchanged
//     values keep their text, style and comments; changed scalars get the
//     new value (keeping a quoted style where the value allows); new keys go
//     at the end of their mapping (sorted among themselves); removed keys
//     go with their comments; sequences are edited element by element.
//
// The edited tree is written with 2-space indent and sequences not
// indented under their key. Files already in that style (Rafay's own)
// change only on the edited lines; one in another style, or with a plain
// scalar folded over several lines, is re-flowed where yaml.v3 writes it
// differently. obj should be canonical (server-owned fields removed).
func EditFile(existing []byte, obj map[string]any) ([]byte, error) {
	if len(bytes.TrimSpace(existing)) == 0 {
		return Render(obj)
	}
	if rs, probs := Parse("", existing); len(probs) == 0 && len(rs) == 1 && Equal(rs[0].Object, obj) {
		return existing, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(existing, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return Render(obj) // not one YAML document: write it anew
	}
	var want yaml.Node
	if err := want.Encode(obj); err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	merge(doc.Content[0], &want)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("write edited file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write edited file: %w", err)
	}
	return b.Bytes(), nil
}

// merge makes dst hold src's value, changing as little of dst as it can.
func merge(dst, src *yaml.Node) {
	switch {
	case dst.Kind == yaml.MappingNode && src.Kind == yaml.MappingNode:
		want := map[string]*yaml.Node{}
		var order []string
		for i := 0; i+1 < len(src.Content); i += 2 {
			want[src.Content[i].Value] = src.Content[i+1]
			order = append(order, src.Content[i].Value)
		}
		seen := map[string]bool{}
		var content []*yaml.Node
		for i := 0; i+1 < len(dst.Content); i += 2 {
			k, v := dst.Content[i], dst.Content[i+1]
			w, ok := want[k.Value]
			if !ok || seen[k.Value] {
				continue // removed: the key, its value and their comments go
			}
			seen[k.Value] = true
			merge(v, w)
			content = append(content, k, v)
		}
		for _, k := range order {
			if !seen[k] {
				content = append(content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, want[k])
			}
		}
		dst.Content = content
	case dst.Kind == yaml.SequenceNode && src.Kind == yaml.SequenceNode:
		n := min(len(dst.Content), len(src.Content))
		for i := 0; i < n; i++ {
			merge(dst.Content[i], src.Content[i])
		}
		dst.Content = append(dst.Content[:n], src.Content[n:]...)
	case dst.Kind == yaml.ScalarNode && src.Kind == yaml.ScalarNode:
		if sameScalar(dst, src) {
			return
		}
		style := dst.Style
		if src.ShortTag() != "!!str" || style == yaml.LiteralStyle || style == yaml.FoldedStyle {
			if !(src.ShortTag() == "!!str" && (style == yaml.LiteralStyle || style == yaml.FoldedStyle) && bytes.ContainsRune([]byte(src.Value), '\n')) {
				style = src.Style
			}
		}
		dst.Value, dst.Tag, dst.Style = src.Value, src.Tag, style
	default:
		head, line, foot := dst.HeadComment, dst.LineComment, dst.FootComment
		*dst = *src
		dst.HeadComment, dst.LineComment, dst.FootComment = head, line, foot
	}
}

// sameScalar reports whether two scalars hold the same value as a spec
// reads it (a date-like plain scalar is a string to a spec).
func sameScalar(a, b *yaml.Node) bool {
	if a.Value != b.Value {
		return false
	}
	at, bt := a.ShortTag(), b.ShortTag()
	return at == bt || (bt == "!!str" && at == "!!timestamp")
}
