package controller

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/systemsync/systemsync/internal/spec"
)

// parseBody is spec.ParseBody, with a faster path for the JSON bodies
// clients send: spec reads JSON with encoding/json into interface values
// and then copies the whole tree through spec.Normalize; fastJSON builds
// the normalized tree in one pass. It takes only plain JSON (no invalid
// UTF-8, no surrogate escapes, numbers that encoding/json and Normalize
// read without error, bounded depth) and leaves anything else, valid or
// not, to spec.ParseBody, which then answers as it always did. For what it
// takes, its result is spec.ParseBody's (checked against it in tests).
func parseBody(contentType string, body []byte) (*spec.Resource, []spec.Problem) {
	// A body whose text starts with '{' is JSON to spec.ParseBody,
	// whatever its content type.
	p := fastJSON{s: body}
	p.ws()
	if obj, ok := p.object(0); ok {
		if p.ws(); p.i == len(body) {
			delete(obj, "status")
			return &spec.Resource{Object: obj, Line: 1}, nil
		}
	}
	return spec.ParseBody(contentType, body)
}

// fastJSON reads plain JSON text into the values spec.Normalize gives
// for encoding/json's (with UseNumber): map[string]any, []any, string,
// bool, nil, int64 for a number json.Number.Int64 reads, float64 for the
// others. Every method reports false for what it does not take.
type fastJSON struct {
	s []byte
	i int
}

// maxFastDepth bounds nesting (encoding/json's limit is 10000; deeper
// bodies go to spec.ParseBody).
const maxFastDepth = 200

func (p *fastJSON) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastJSON) value(depth int) (any, bool) {
	p.ws()
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		m, ok := p.object(depth + 1)
		return m, ok
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return nil, false
}

func (p *fastJSON) lit(w string) bool {
	if !bytes.HasPrefix(p.s[p.i:], []byte(w)) {
		return false
	}
	p.i += len(w)
	return true
}

func (p *fastJSON) object(depth int) (map[string]any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	p.ws()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, false
	}
	p.i++
	m := map[string]any{}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return m, true
	}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v // a repeated key: the last one wins, as in encoding/json
		p.ws()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (p *fastJSON) array(depth int) (any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	p.i++ // '['
	a := []any{}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		p.ws()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, true
		default:
			return nil, false
		}
	}
}

// str reads a string: valid UTF-8 without control characters, escapes
// other than \u surrogates.
func (p *fastJSON) str() (string, bool) {
	p.i++ // '"'
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			s := string(p.s[start:p.i])
			p.i++
			return s, true
		case c == '\\':
			return p.escapedStr(start)
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, n := utf8.DecodeRune(p.s[p.i:])
			if r == utf8.RuneError {
				return "", false
			}
			p.i += n
		}
	}
	return "", false
}

// escapedStr reads the rest of a string that holds an escape, from
// p.i at the first backslash; start is where its text began.
func (p *fastJSON) escapedStr(start int) (string, bool) {
	b := make([]byte, 0, p.i-start+16)
	b = append(b, p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), true
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", false
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				if p.i+4 > len(p.s) {
					return "", false
				}
				v, err := strconv.ParseUint(string(p.s[p.i:p.i+4]), 16, 16)
				if err != nil || 0xD800 <= v && v < 0xE000 {
					return "", false // surrogates: left to encoding/json
				}
				b = utf8.AppendRune(b, rune(v))
				p.i += 4
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			b = append(b, c)
			p.i++
		default:
			r, n := utf8.DecodeRune(p.s[p.i:])
			if r == utf8.RuneError {
				return "", false
			}
			b = append(b, p.s[p.i:p.i+n]...)
			p.i += n
		}
	}
	return "", false
}

// number reads a JSON number as Normalize reads a json.Number: int64 when
// it is an integer that fits, float64 otherwise.
func (p *fastJSON) number() (any, bool) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	n := digits()
	if n == 0 || n > 1 && p.s[intStart] == '0' {
		return nil, false
	}
	integer := true
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
		integer = false
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
		integer = false
	}
	text := string(p.s[start:p.i])
	if integer {
		v, err := strconv.ParseInt(text, 10, 64)
		return v, err == nil // out of range: json.Number.Float64 would read it, left to spec
	}
	f, err := strconv.ParseFloat(text, 64)
	return f, err == nil
}
