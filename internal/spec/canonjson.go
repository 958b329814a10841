package spec

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AppendCanonicalJSON appends to dst exactly the bytes
// json.Marshal(Canonical(obj)) gives, and returns the extended slice, or
// json.Marshal's error (a NaN or infinite number, a value it cannot
// encode). It writes the canonical form straight from obj, without
// building Canonical's copy, whenever obj holds only the values Parse and
// Normalize produce; anything else takes the long way round, with the same
// result.
func AppendCanonicalJSON(dst []byte, obj map[string]any) ([]byte, error) {
	n := len(dst)
	if out, ok := appendCanonicalObject(dst, obj); ok {
		return out, nil
	}
	data, err := json.Marshal(Canonical(obj))
	if err != nil {
		return dst[:n], err
	}
	return append(dst[:n], data...), nil
}

// appendCanonicalObject writes Canonical(obj)'s top level: status left
// out, metadata without its server-owned fields and empty labels or
// annotations, apiVersion in the kind's primary group.
func appendCanonicalObject(dst []byte, obj map[string]any) ([]byte, bool) {
	var buf [8]string
	keys := sortedMapKeys(buf[:0], obj)
	dst = append(dst, '{')
	first := true
	for _, k := range keys {
		if k == "status" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		v := obj[k]
		var ok bool
		switch k {
		case "metadata":
			if md, isMap := v.(map[string]any); isMap {
				dst, ok = appendCanonicalMetadata(dst, md)
			} else {
				dst, ok = appendCanonicalValue(dst, v, 1)
			}
		case "apiVersion":
			if av, isString := v.(string); isString {
				dst, ok = AppendJSONString(dst, primaryAPIVersion(av, obj["kind"])), true
			} else {
				dst, ok = appendCanonicalValue(dst, v, 1)
			}
		default:
			dst, ok = appendCanonicalValue(dst, v, 1)
		}
		if !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// primaryAPIVersion is Canonical's rewrite of apiVersion: an accepted
// group of a known kind becomes the kind's primary group.
func primaryAPIVersion(av string, kind any) string {
	name, _ := kind.(string)
	k, known := LookupKind(name)
	if !known {
		return av
	}
	if group, version, _ := strings.Cut(av, "/"); version == "v3" && k.acceptsGroup(group) {
		return k.APIVersion()
	}
	return av
}

func appendCanonicalMetadata(dst []byte, md map[string]any) ([]byte, bool) {
	var buf [16]string
	keys := sortedMapKeys(buf[:0], md)
	dst = append(dst, '{')
	first := true
	for _, k := range keys {
		if slices.Contains(serverOwnedMetadata, k) {
			continue
		}
		v := md[k]
		if k == "labels" || k == "annotations" {
			if m, isMap := v.(map[string]any); v == nil || isMap && len(m) == 0 {
				continue
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		var ok bool
		if dst, ok = appendCanonicalValue(dst, v, 2); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// maxCanonicalDepth bounds the nesting written directly; anything deeper
// takes the long way.
const maxCanonicalDepth = 1000

// appendCanonicalValue writes canonicalValue(v) as json.Marshal would. It
// reports false for a value it does not write itself.
func appendCanonicalValue(dst []byte, v any, depth int) ([]byte, bool) {
	if depth > maxCanonicalDepth {
		return dst, false
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return AppendJSONString(dst, x), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case float64:
		return appendCanonicalFloat(dst, x)
	case map[string]any:
		var buf [16]string
		keys := sortedMapKeys(buf[:0], x)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendCanonicalValue(dst, x[k], depth+1); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendCanonicalValue(dst, e, depth+1); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
	return dst, false
}

// appendCanonicalFloat writes a float64 as Canonical and json.Marshal
// together do: an integral value within ±2^53 as an integer, others as
// encoding/json formats them (ES6 style). NaN and infinities are not
// written.
func appendCanonicalFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	if n, ok := canonicalInt(f); ok {
		return strconv.AppendInt(dst, n, 10), true
	}
	return AppendJSONFloat(dst, f), true
}

// canonicalInt is the int64 a canonical object holds for f: f integral and
// within ±2^53 (where every integer is exactly a float64).
func canonicalInt(f float64) (int64, bool) {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return int64(f), true
	}
	return 0, false
}

// AppendJSONFloat appends the finite f as json.Marshal formats a float64
// (ES6 style: exponent form below 1e-6 and from 1e21, e-09 written e-9).
func AppendJSONFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// sortedMapKeys appends m's keys to buf in byte order.
func sortedMapKeys(buf []string, m map[string]any) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s quoted as json.Marshal writes it: HTML-sensitive
// <, > and & escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
