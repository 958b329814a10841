package controller

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
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
		return spec.AppendJSONString(b, x), nil
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
			b = spec.AppendJSONString(b, k)
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
		b = spec.AppendJSONString(b, k)
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
			b = spec.AppendJSONString(b, mk)
			b = append(b, ':')
			for _, a := range added {
				if a.key == mk {
					b = spec.AppendJSONString(b, a.value)
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

// appendJSONFloat formats f as encoding/json does (its error for NaN and infinities).
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return appendMarshal(b, f)
	}
	return spec.AppendJSONFloat(b, f), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("encode JSON: %w", err)
	}
	return append(b, data...), nil
}
