package jsontree

import (
	"math"
	"strconv"
	"strings"
)

// Exact reports whether f holds the number text writes: f is finite, and
// the shortest text that reads back as f (what is written out again) is
// the same decimal as text. So 0.1, 1.10 and 1e21 are exact, and 1e400
// (beyond float64), 1e-400 (below it) and 0.1000000000000000000001 (more
// digits than a float64 holds) are not. text is a number in JSON's grammar
// or in YAML's (a leading '+' or '.', a trailing '.'; no underscores).
func Exact(text string, f float64) bool {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	a, ok := parseDecimal(text)
	if !ok {
		return false
	}
	b, _ := parseDecimal(strconv.FormatFloat(f, 'g', -1, 64))
	return a == b
}

// decimal is a number as sign, significant digits (no leading or trailing
// zeros; "" for zero) and the power of ten of its last digit.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal reads [+-]digits[.digits][(e|E)[+-]digits]; ok is false
// for anything else, and for an exponent too large to matter.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if s != "" && (s[0] == '+' || s[0] == '-') {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	mant, expText := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], s[i+1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return d, false
	}
	exp := 0
	if expText != "" || strings.ContainsAny(s, "eE") {
		sign := 1
		switch {
		case strings.HasPrefix(expText, "-"):
			sign, expText = -1, expText[1:]
		case strings.HasPrefix(expText, "+"):
			expText = expText[1:]
		}
		if expText == "" || !allDigits(expText) {
			return d, false
		}
		expText = strings.TrimLeft(expText, "0")
		if len(expText) > 9 {
			return decimal{}, strings.Trim(intPart+frac, "0") == "" // only zero is exact at such a power
		}
		n, _ := strconv.Atoi("0" + expText)
		exp = sign * n
	}
	digits := intPart + frac
	exp -= len(frac)
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	trimmed = strings.TrimLeft(trimmed, "0")
	if trimmed == "" {
		return decimal{}, true // zero, of either sign
	}
	d.digits, d.exp = trimmed, exp
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// A Fault is what makes a JSON text one that the tree cannot hold as
// written.
type Fault struct {
	Offset int    // where the value at fault starts in the text
	Path   []any  // the keys (string) and indexes (int) that lead to it
	Number string // a number held by no int64 or float64 as written; else ""
	String string // else, what is wrong with a string (or key): "is not UTF-8", …
}

// FindFault returns the first value of data's JSON value that the tree
// cannot hold as written (see the package comment), or nil when there is
// none, or when the text is not JSON before one is found.
func FindFault(data []byte) *Fault {
	d := Decoder{data: data}
	var path []any
	var fault *Fault
	var walk func() bool // false: stop (a fault, or not JSON)
	walk = func() bool {
		d.WS()
		start := d.i
		switch d.Peek() {
		case '{', '[':
			if !d.Nest() {
				return false
			}
			defer d.Unnest()
			closer, object := byte(']'), d.Peek() == '{'
			if object {
				closer = '}'
			}
			d.i++
			d.WS()
			if d.Consume(closer) {
				return true
			}
			for n := 0; ; n++ {
				d.WS()
				if object {
					keyStart := d.i
					key, ok := d.Key()
					if !ok {
						fault = stringFault(data, keyStart, path)
						return false
					}
					path = append(path, key)
					d.WS()
					if !d.Consume(':') {
						return false
					}
				} else {
					path = append(path, n)
				}
				if !walk() {
					return false
				}
				path = path[:len(path)-1]
				d.WS()
				if d.Consume(',') {
					continue
				}
				return d.Consume(closer)
			}
		case '"':
			if _, ok := d.str(); !ok {
				fault = stringFault(data, start, path)
				return false
			}
			return true
		case 't', 'f', 'n':
			return d.Skip()
		}
		text, integer, ok := d.numberText()
		if !ok {
			return false
		}
		if _, ok := number(text, integer); !ok {
			fault = &Fault{Offset: start, Path: append([]any(nil), path...), Number: string(text)}
			return false
		}
		return true
	}
	walk()
	return fault
}

// stringFault says what is wrong with the string at start, when it is
// JSON at all (nil otherwise).
func stringFault(data []byte, start int, path []any) *Fault {
	d := Decoder{data: data, i: start}
	_, _, utf8OK, ok := d.scanStr()
	if !ok {
		return nil
	}
	f := &Fault{Offset: start, Path: append([]any(nil), path...)}
	if !utf8OK {
		f.String = "is not UTF-8"
	} else {
		f.String = "holds half of a UTF-16 surrogate pair (an escape from \\ud800 to \\udfff not in a pair), which is no character"
	}
	return f
}
