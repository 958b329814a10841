package controller

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/systemsync/systemsync/internal/jsontree"
	"github.com/systemsync/systemsync/internal/spec"
)

// A list answer is written from the stored bodies as they are: each is
// already the JSON of a canonical object as json.Marshal writes it, so
// decoding it into maps and encoding it again (most of a list's cost) only
// to add three metadata fields is avoided. The fields are written into the
// body's metadata at their place in key order, so the answer is byte for
// byte what encoding Stored.View gives. A body that encoding its decoded
// value would change (whitespace, keys out of order or repeated, numbers or
// escapes json.Marshal writes otherwise, invalid JSON), or that has no
// metadata object, is decoded as before.

// appendRowView appends the JSON of r's Stored.View to dst, as
// json.Marshal writes it.
func appendRowView(dst []byte, r storedRow, kind, project string) ([]byte, error) {
	if out, ok := appendRawView(dst, r); ok {
		return out, nil
	}
	st, err := r.decode(kind, project)
	if err != nil {
		return dst, err
	}
	return appendView(dst, st)
}

// appendRawView writes r's body with metadata.createdAt, modifiedAt and
// resourceVersion added, or reports false (dst unchanged) when the body
// needs decoding.
func appendRawView(dst []byte, r storedRow) ([]byte, bool) {
	created, err := time.Parse(time.RFC3339Nano, r.created)
	if err != nil {
		return dst, false
	}
	modified, err := time.Parse(time.RFC3339Nano, r.modified)
	if err != nil {
		return dst, false
	}
	return appendBodyView(dst, r.body, created, modified, r.rv, false)
}

// appendBodyView writes body, the stored JSON of a canonical object, with
// metadata.createdAt, modifiedAt and resourceVersion added: the JSON of
// the View of a Stored with these stamps. It reports false (dst unchanged)
// when the body needs decoding. own says the body is one this process just
// encoded (appendJSON of a canonical object): it is then read only up to
// the end of its metadata, which comes before spec.
func appendBodyView(dst []byte, body string, created, modified time.Time, rv int64, own bool) ([]byte, bool) {
	var stamps [2][len(time.RFC3339Nano) + 8]byte
	added := [3]struct{ key, value string }{
		{"createdAt", string(created.UTC().AppendFormat(stamps[0][:0], time.RFC3339Nano))},
		{"modifiedAt", string(modified.UTC().AppendFormat(stamps[1][:0], time.RFC3339Nano))},
		{"resourceVersion", strconv.FormatInt(rv, 10)},
	}
	sc := normalScan{s: body, metaStart: -1, stopAfterMeta: own}
	if !sc.value() || sc.metaStart < 0 || !own && sc.i != len(body) {
		return dst, false
	}
	for _, f := range sc.metaFields {
		for _, a := range added {
			if f.key == a.key {
				return dst, false // the stored body carries one already: View replaces it
			}
		}
	}
	dst = append(dst, body[:sc.metaStart]...)
	dst = append(dst, '{')
	next, wrote := 0, false
	sep := func() {
		if wrote {
			dst = append(dst, ',')
		}
		wrote = true
	}
	addUpTo := func(key string, all bool) {
		for ; next < len(added) && (all || added[next].key < key); next++ {
			sep()
			dst = append(dst, '"')
			dst = append(dst, added[next].key...)
			dst = append(dst, `":"`...)
			dst = append(dst, added[next].value...)
			dst = append(dst, '"')
		}
	}
	for _, f := range sc.metaFields {
		addUpTo(f.key, false)
		sep()
		dst = append(dst, body[f.start:f.end]...)
	}
	addUpTo("", true)
	dst = append(dst, '}')
	dst = append(dst, body[sc.metaEnd:]...)
	return dst, true
}

// member is one member of an object: where it starts (its key's opening
// quote) and ends (after its value), its key, and where its value is.
type member struct {
	key                  string
	start, end           int
	valueStart, valueEnd int
}

// normalScan checks that JSON text is exactly what json.Marshal writes for
// the value encoding/json decodes from it, numbers read as spec.Normalize
// reads a json.Number: no whitespace, object keys in byte order (so none
// repeated) and without escapes, numbers and strings written as
// json.Marshal writes them. When the text is an object whose metadata is
// an object, it records where that is and its members.
type normalScan struct {
	s     string
	i     int
	depth int
	// The top-level object's metadata object (metaStart -1 when none) and
	// its members.
	metaStart, metaEnd int
	metaFields         []member
	// stopAfterMeta ends the scan, successfully, once the top-level
	// metadata object is read.
	stopAfterMeta bool
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

func (p *normalScan) value() bool {
	if p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '{':
		return p.object(nil)
	case c == '[':
		return p.array()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

func (p *normalScan) literal(word string) bool {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return false
	}
	p.i += len(word)
	return true
}

// object reads an object; with members set, it appends each member to it.
func (p *normalScan) object(members *[]member) bool {
	if p.depth++; p.depth > maxJSONDepth {
		return false
	}
	defer func() { p.depth-- }()
	top := p.depth == 1
	p.i++ // {
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return true
	}
	prev := ""
	for first := true; ; first = false {
		m := member{start: p.i}
		if !p.key() {
			return false
		}
		m.key = p.s[m.start+1 : p.i-1]
		if !first && m.key <= prev {
			return false
		}
		prev = m.key
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return false
		}
		p.i++
		m.valueStart = p.i
		var ok bool
		if top && m.key == "metadata" && p.i < len(p.s) && p.s[p.i] == '{' {
			ok = p.object(&p.metaFields)
			p.metaStart, p.metaEnd = m.valueStart, p.i
			if ok && p.stopAfterMeta {
				return true
			}
		} else {
			ok = p.value()
		}
		if !ok {
			return false
		}
		m.valueEnd, m.end = p.i, p.i
		if members != nil {
			*members = append(*members, m)
		}
		if p.i >= len(p.s) {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *normalScan) array() bool {
	if p.depth++; p.depth > maxJSONDepth {
		return false
	}
	defer func() { p.depth-- }()
	p.i++ // [
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return true
	}
	for {
		if !p.value() {
			return false
		}
		if p.i >= len(p.s) {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

// key reads an object key: a string as json.Marshal writes it, with no
// escape (so that its text is the key).
func (p *normalScan) key() bool {
	start := p.i
	if !p.str() {
		return false
	}
	return !strings.Contains(p.s[start:p.i], `\`)
}

// str reads a string written as json.Marshal writes the string it decodes
// to: printable ASCII raw except ", \, <, > and &; valid UTF-8 raw except
// invalid bytes, U+2028 and U+2029; \", \\,
// \b, \f, \n, \r, \t; \u00XX (lower-case hex) for the other control
// characters and <, >, &; \u2028 and \u2029.
func (p *normalScan) str() bool {
	s := p.s
	if p.i >= len(s) || s[p.i] != '"' {
		return false
	}
	for i := p.i + 1; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			return true
		case c == '\\':
			if i+1 >= len(s) {
				return false
			}
			switch s[i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !marshalEscape(s[i+2:i+6]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			return false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				return false
			}
			i += size
		}
	}
	return false
}

// marshalEscape reports whether \u followed by hex is an escape
// json.Marshal writes.
func marshalEscape(hex string) bool {
	switch hex {
	case "003c", "003e", "0026", "2028", "2029":
		return true
	}
	if !strings.HasPrefix(hex, "00") || !isLowerHex(hex[2]) || !isLowerHex(hex[3]) {
		return false
	}
	v, _ := strconv.ParseUint(hex, 16, 8)
	switch v {
	case '\b', '\f', '\n', '\r', '\t':
		return false // written short
	}
	return v < 0x20
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// number reads a number written as json.Marshal writes the value
// spec.Normalize makes of it: an integer within int64 as its digits, any
// other number as its float64 in encoding/json's format.
func (p *normalScan) number() bool {
	end, integer, ok := jsontree.NumberEnd(p.s, p.i)
	if !ok {
		return false
	}
	text := p.s[p.i:end]
	p.i = end
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return integer && strconv.FormatInt(n, 10) == text // not -0
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return false // out of range: decoded as a string
	}
	return string(spec.AppendJSONFloat(nil, f)) == text
}
