package controller

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends v encoded exactly as json.Marshal encodes it (keys
// sorted, HTML characters escaped), for the trees resources are made of:
// maps, slices, strings, int64, float64, bool and nil. It walks them
// directly instead of through reflection, which makes the apply path's two
// encodings (the stored body, the answer) several times cheaper; anything
// else goes to json.Marshal.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x)
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		return appendJSONFloat(b, x)
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSONString(b, k); err != nil {
				return b, err
			}
			b = append(b, ':')
			if b, err = appendJSON(b, x[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	return appendMarshal(b, v)
}

// appendView appends st.View() as appendJSON encodes it, without building
// the view's two maps.
func appendView(b []byte, st Stored) ([]byte, error) {
	added := [...]struct{ key, value string }{
		{"createdAt", st.CreatedAt.UTC().Format(time.RFC3339Nano)},
		{"modifiedAt", st.ModifiedAt.UTC().Format(time.RFC3339Nano)},
		{"resourceVersion", strconv.FormatInt(st.ResourceVersion, 10)},
	}
	keys := make([]string, 0, len(st.Object)+1)
	for k := range st.Object {
		keys = append(keys, k)
	}
	if _, ok := st.Object["metadata"]; !ok {
		keys = append(keys, "metadata")
	}
	slices.Sort(keys)
	meta, _ := st.Object["metadata"].(map[string]any)
	b = append(b, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendJSONString(b, k); err != nil {
			return b, err
		}
		b = append(b, ':')
		if k != "metadata" {
			if b, err = appendJSON(b, st.Object[k]); err != nil {
				return b, err
			}
			continue
		}
		mkeys := make([]string, 0, len(meta)+len(added))
		for mk := range meta {
			mkeys = append(mkeys, mk)
		}
		for _, a := range added {
			if _, ok := meta[a.key]; !ok {
				mkeys = append(mkeys, a.key)
			}
		}
		slices.Sort(mkeys)
		b = append(b, '{')
	metaKeys:
		for j, mk := range mkeys {
			if j > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSONString(b, mk); err != nil {
				return b, err
			}
			b = append(b, ':')
			for _, a := range added {
				if a.key == mk {
					if b, err = appendJSONString(b, a.value); err != nil {
						return b, err
					}
					continue metaKeys
				}
			}
			if b, err = appendJSON(b, meta[mk]); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendJSONString appends s quoted and escaped as encoding/json does:
// '"', '\\' and control characters, '<', '>' and '&' (HTML-safe), invalid
// UTF-8 as U+FFFD, and U+2028 and U+2029.
func appendJSONString(b []byte, s string) ([]byte, error) {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

// appendJSONFloat formats f as encoding/json does.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return appendMarshal(b, f) // json.Marshal's error
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b) - start; n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b, nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("encode JSON: %w", err)
	}
	return append(b, data...), nil
}
