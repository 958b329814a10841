// Package jsontree reads JSON text in one pass into the tree that
// encoding/json (with UseNumber) and spec.Normalize together make of it:
// map[string]any, []any, string, bool, nil, int64 for a number that is
// one, float64 for the others. It takes what it can read exactly as they
// would and holds exactly as written, and refuses the rest: a syntax
// error, which its callers then leave to encoding/json for its message; a
// number that is neither an int64 nor a float64 that writes back as the
// same decimal (1e400, a 30-digit integer, 0.1000000000000000000001), and
// a string that is not UTF-8 or holds half of a surrogate pair, which
// encoding/json would round or replace silently: FindFault says where.
// It exists for speed: a map made at its size, no json.Number boxes
// converted after, and, within one text, keys and short strings shared.
package jsontree

import (
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Decoder reads JSON text from a position on. Its methods report false
// for text they do not take; the position is then undefined.
type Decoder struct {
	data  []byte
	i     int
	depth int
	keys  map[string]string // keys seen, to share (nil: not shared)
	strs  map[string]any    // short strings seen, boxed, to share (nil: not shared)
	kvs   []member          // members of the objects being read
	elems []any             // elements of the arrays being read
}

type member struct {
	key   string
	value any
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// maxShared is the longest string value shared between objects.
const maxShared = 32

// New returns a decoder at the start of data. With share, keys and short
// strings read twice are one string (for a text of many alike objects).
func New(data []byte, share bool) *Decoder {
	d := &Decoder{data: data}
	if share {
		d.keys, d.strs = map[string]string{}, map[string]any{}
	}
	return d
}

// Object reads data, which must hold one JSON object and nothing else but
// blanks, without sharing strings.
func Object(data []byte) (map[string]any, bool) {
	d := Decoder{data: data}
	d.WS()
	if d.Peek() == '{' {
		if v, ok := d.object(); ok {
			if d.WS(); d.Done() {
				return v.(map[string]any), true
			}
		}
	}
	return nil, false
}

// Pos is the decoder's position in its data.
func (d *Decoder) Pos() int { return d.i }

// Since returns the text read since position start.
func (d *Decoder) Since(start int) []byte { return d.data[start:d.i] }

// Done reports whether all of the data has been read.
func (d *Decoder) Done() bool { return d.i == len(d.data) }

// Peek returns the byte at the position (0 at the end).
func (d *Decoder) Peek() byte {
	if d.i < len(d.data) {
		return d.data[d.i]
	}
	return 0
}

// Nest counts one more level of nesting for a caller that reads a
// container itself; it reports false past encoding/json's limit.
func (d *Decoder) Nest() bool {
	d.depth++
	return d.depth <= maxDepth
}

// Unnest ends a level begun with Nest.
func (d *Decoder) Unnest() { d.depth-- }

// WS skips blanks.
func (d *Decoder) WS() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// Consume reads c when it is next.
// Consume reads c when it is next.
func (d *Decoder) Consume(c byte) bool {
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

// Skip reads a value as Value does, building nothing.
func (d *Decoder) Skip() bool {
	if d.i >= len(d.data) {
		return false
	}
	switch d.data[d.i] {
	case '{', '[':
		if d.depth++; d.depth > maxDepth {
			return false
		}
		defer func() { d.depth-- }()
		closer := byte('}')
		if d.data[d.i] == '[' {
			closer = ']'
		}
		d.i++
		d.WS()
		if d.Consume(closer) {
			return true
		}
		for {
			d.WS()
			if closer == '}' {
				if !d.skipStr() {
					return false
				}
				d.WS()
				if !d.Consume(':') {
					return false
				}
				d.WS()
			}
			if !d.Skip() {
				return false
			}
			d.WS()
			if d.Consume(',') {
				continue
			}
			return d.Consume(closer)
		}
	case '"':
		return d.skipStr()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, _, ok := d.numberText()
	return ok
}

// skipStr reads a string as str does, unquoting nothing.
func (d *Decoder) skipStr() bool {
	_, _, ok := d.strText()
	return ok
}

// Value reads any value.
func (d *Decoder) Value() (any, bool) {
	if d.i >= len(d.data) {
		return nil, false
	}
	switch c := d.data[d.i]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		if len(s) > maxShared || d.strs == nil {
			return string(s), true
		}
		if v, ok := d.strs[string(s)]; ok {
			return v, true
		}
		var v any = string(s)
		d.strs[string(s)] = v
		return v, true
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	return d.Number()
}

func (d *Decoder) literal(word string) bool {
	if len(d.data)-d.i < len(word) || string(d.data[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

func (d *Decoder) object() (any, bool) {
	if d.depth++; d.depth > maxDepth {
		return nil, false
	}
	defer func() { d.depth-- }()
	d.i++ // {
	base := len(d.kvs)
	defer func() { d.kvs = d.kvs[:base] }()
	d.WS()
	if !d.Consume('}') {
		for {
			d.WS()
			key, ok := d.Key()
			if !ok {
				return nil, false
			}
			d.WS()
			if !d.Consume(':') {
				return nil, false
			}
			d.WS()
			v, ok := d.Value()
			if !ok {
				return nil, false
			}
			d.kvs = append(d.kvs, member{key, v})
			d.WS()
			if d.Consume(',') {
				continue
			}
			if !d.Consume('}') {
				return nil, false
			}
			break
		}
	}
	m := make(map[string]any, len(d.kvs)-base)
	for _, kv := range d.kvs[base:] {
		m[kv.key] = kv.value // a repeated key: the last wins, as in encoding/json
	}
	return m, true
}

func (d *Decoder) array() (any, bool) {
	if d.depth++; d.depth > maxDepth {
		return nil, false
	}
	defer func() { d.depth-- }()
	d.i++ // [
	base := len(d.elems)
	defer func() { d.elems = d.elems[:base] }()
	d.WS()
	if !d.Consume(']') {
		for {
			d.WS()
			v, ok := d.Value()
			if !ok {
				return nil, false
			}
			d.elems = append(d.elems, v)
			d.WS()
			if d.Consume(',') {
				continue
			}
			if !d.Consume(']') {
				return nil, false
			}
			break
		}
	}
	out := make([]any, len(d.elems)-base)
	copy(out, d.elems[base:])
	return out, true
}

// Key reads an object key (shared with the same key seen before, when
// the decoder shares).
func (d *Decoder) Key() (string, bool) {
	s, ok := d.str()
	if !ok {
		return "", false
	}
	if d.keys == nil {
		return string(s), true
	}
	if k, ok := d.keys[string(s)]; ok {
		return k, true
	}
	k := string(s)
	d.keys[k] = k
	return k, true
}

// str reads a string and returns its bytes as encoding/json unquotes them
// (escapes resolved): the text itself, in data, when it has no escape. A
// string that is not UTF-8, or holds half of a surrogate pair, is refused.
func (d *Decoder) str() ([]byte, bool) {
	s, plain, ok := d.strText()
	if !ok {
		return nil, false
	}
	if plain {
		return s, true
	}
	return unquote(s)
}

// strText reads a string, checking it as encoding/json does and refusing
// one that is not UTF-8, and returns the text between its quotes and
// whether that is the string itself (no escape).
func (d *Decoder) strText() (text []byte, plain, ok bool) {
	text, plain, utf8OK, ok := d.scanStr()
	return text, plain, ok && utf8OK
}

// scanStr reads a string as encoding/json does (ok), and tells whether
// its text is UTF-8. The position moves past it only when both hold.
func (d *Decoder) scanStr() (text []byte, plain, utf8OK, ok bool) {
	if d.i >= len(d.data) || d.data[d.i] != '"' {
		return nil, false, false, false
	}
	start := d.i + 1
	escaped, ascii := false, true
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			s := d.data[start:i]
			if !ascii && !utf8.Valid(s) {
				return s, false, false, true
			}
			d.i = i + 1
			return s, !escaped, true, true
		case c == '\\':
			i++ // the escaped byte: checked below
			escaped = true
			if i >= len(d.data) {
				return nil, false, false, false
			}
			switch d.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d.data) {
					return nil, false, false, false
				}
				for _, h := range d.data[i+1 : i+5] {
					if !isHex(h) {
						return nil, false, false, false
					}
				}
				i += 4
			default:
				return nil, false, false, false
			}
		case c < 0x20:
			return nil, false, false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unquote resolves the escapes of a string's text (checked: UTF-8, every
// escape one JSON allows) as encoding/json does, refusing half of a
// surrogate pair, which it would replace with U+FFFD.
func unquote(s []byte) ([]byte, bool) {
	out := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			switch e := s[r+1]; e {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(s[r+2 : r+6])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:r+6])); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							r += 6
							continue
						}
					}
					return nil, false
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // " \ /
				out = append(out, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			_, size := utf8.DecodeRune(s[r:])
			out = append(out, s[r:r+size]...)
			r += size
		}
	}
	return out, true
}

// hex4 reads four hex digits (checked).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r*16 + rune(c)
	}
	return r
}

// Number reads a number as spec.Normalize reads a json.Number: an int64
// when it is one, else a float64; one that is neither, or that a float64
// would not hold as written (see Exact), is refused.
func (d *Decoder) Number() (any, bool) {
	text, integer, ok := d.numberText()
	if !ok {
		return nil, false
	}
	return number(text, integer)
}

func number(text []byte, integer bool) (any, bool) {
	if integer { // an integer beyond int64 is held by no float64 as written
		n, err := strconv.ParseInt(string(text), 10, 64)
		return n, err == nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || !Exact(string(text), f) {
		return nil, false
	}
	return f, true
}

// numberText reads a number by JSON's grammar and returns its text and
// whether it is written as an integer.
func (d *Decoder) numberText() (text []byte, integer, ok bool) {
	end, integer, ok := NumberEnd(d.data, d.i)
	if !ok {
		return nil, false, false
	}
	text = d.data[d.i:end]
	d.i = end
	return text, integer, true
}

// NumberEnd reads a number by JSON's grammar in s from i on, and returns
// where it ends and whether it is written as an integer (no fraction, no
// exponent); ok is false when no number starts at i.
func NumberEnd[T ~string | ~[]byte](s T, i int) (end int, integer, ok bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > start
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return 0, false, false
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		integer = false
		i++
		if !digits() {
			return 0, false, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false, false
		}
	}
	return i, integer, true
}

// Count counts the nodes data is as YAML (JSON is YAML): one for the
// document and one for each string (keys too), number, literal, object and
// array, from its tokens, building nothing. It stops at the first node past
// limit and returns limit+1 and that node's offset; otherwise the count and
// 0. Text that is not JSON is counted as if it were, token by token.
func Count(data []byte, limit int) (n, offset int) {
	n = 1
	for i := 0; i < len(data); {
		c := data[i]
		switch c {
		case ' ', '\t', '\n', '\r', ',', ':', '}', ']':
			i++
			continue
		}
		if n++; n > limit {
			return n, i
		}
		switch c {
		case '{', '[':
			i++
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			i++
		default: // a number or a literal: up to the next delimiter
			for i < len(data) && !isDelimiter(data[i]) {
				i++
			}
		}
	}
	return n, 0
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}
