package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Steps is f.Path as its steps from the object's root: a mapping key
// (string) or a sequence index (int).
func (f SecretField) Steps() []any {
	segs := splitPath(f.Path)
	out := make([]any, len(segs))
	for i, sg := range segs {
		if sg.isIndex {
			out[i] = sg.index
		} else {
			out[i] = sg.key
		}
	}
	return out
}

// SecretMask is what MaskSecrets writes in place of the n-th secret (from
// 1) of an object: "(secret n, not shown)".
func SecretMask(n int) string { return "(secret " + strconv.Itoa(n) + ", not shown)" }

// maskNumber returns n when s is SecretMask(n).
func maskNumber(s string) (int, bool) {
	rest, ok := strings.CutPrefix(s, "(secret ")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, ", not shown)")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}

// MaskSecrets returns obj with the n-th of SecretFields(obj) replaced by
// SecretMask(n): a value, or a key (the value under it kept). It is a
// copy when obj holds a secret, obj itself when it holds none.
func MaskSecrets(obj map[string]any) map[string]any {
	fields := SecretFields(obj)
	if len(fields) == 0 {
		return obj
	}
	out := copyTree(obj).(map[string]any)
	// Keys are renamed last, and deepest first, so that every path still
	// names what it named in obj when it is used.
	for i, f := range fields {
		if !f.InKey {
			setSecretAt(out, f.Steps(), SecretMask(i+1))
		}
	}
	for i := len(fields) - 1; i >= 0; i-- {
		if f := fields[i]; f.InKey {
			steps := f.Steps()
			if m, ok := valueAt(out, steps[:len(steps)-1]).(map[string]any); ok {
				k := steps[len(steps)-1].(string)
				m[SecretMask(i+1)] = m[k]
				delete(m, k)
			}
		}
	}
	return out
}

// HoldsSecretMask reports whether text may hold a SecretMask.
func HoldsSecretMask(text string) bool { return strings.Contains(text, "(secret ") }

// RestoreSecrets undoes MaskSecrets(stored) in obj, an edited copy of it,
// and returns the result (a copy; obj is not changed): every SecretMask(n)
// left where MaskSecrets wrote it, a value or a key, is the n-th secret of
// stored again, so that saving a masked resource keeps the secrets it was
// shown without. A mask elsewhere (moved to another field, or naming no
// secret of stored) is an error naming its field: a masked secret keeps
// its place; to change or move it, type its value.
func RestoreSecrets(obj, stored map[string]any) (map[string]any, error) {
	obj = copyTree(obj).(map[string]any)
	fields := SecretFields(stored)
	var errs []string
	var walk func(v any, path []any) any
	walk = func(v any, path []any) any {
		switch x := v.(type) {
		case string:
			if n, ok := maskNumber(x); ok {
				if n <= len(fields) && !fields[n-1].InKey && slices.Equal(fields[n-1].Steps(), path) {
					return valueAt(stored, path)
				}
				errs = append(errs, fmt.Sprintf("%s: %q is not where that secret was (type its value to change or move it)", fieldPathText(path), x))
			}
		case map[string]any:
			var renames [][2]string
			for k, e := range x {
				kp := append(slices.Clip(path), k)
				if n, ok := maskNumber(k); ok {
					var f SecretField
					var steps []any
					if n <= len(fields) {
						f, steps = fields[n-1], fields[n-1].Steps()
					}
					if f.InKey && len(steps) == len(kp) && slices.Equal(steps[:len(path)], path) {
						orig := steps[len(path)].(string)
						renames = append(renames, [2]string{k, orig})
						kp[len(path)] = orig
					} else {
						errs = append(errs, fmt.Sprintf("%s: the key %q is not where that secret was (type it to change or move it)", fieldPathText(path), k))
					}
				}
				x[k] = walk(e, kp)
			}
			for _, r := range renames {
				x[r[1]] = x[r[0]]
				delete(x, r[0])
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e, append(slices.Clip(path), i))
			}
		}
		return v
	}
	walk(obj, nil)
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, fmt.Errorf("masked secrets moved: %s", strings.Join(errs, "; "))
	}
	return obj, nil
}

// fieldPathText writes path as a field path (spec.credentials.password),
// "(resource)" when it is empty.
func fieldPathText(path []any) string {
	if s := pathText(path); s != "" {
		return s
	}
	return "(resource)"
}

// pathText writes path (keys and indexes) as a field path.
func pathText(path []any) string {
	s := ""
	for _, p := range path {
		switch p := p.(type) {
		case string:
			s = joinKey(s, p)
		case int:
			s = joinIndex(s, p)
		}
	}
	return s
}

// valueAt returns what path leads to in v, or nil.
func valueAt(v any, path []any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			l, _ := v.([]any)
			if p < 0 || p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

// setSecretAt sets what path leads to in root (which holds it) to val.
func setSecretAt(root map[string]any, path []any, val any) {
	parent := valueAt(root, path[:len(path)-1])
	switch p := path[len(path)-1].(type) {
	case string:
		if m, ok := parent.(map[string]any); ok {
			m[p] = val
		}
	case int:
		if l, ok := parent.([]any); ok && p >= 0 && p < len(l) {
			l[p] = val
		}
	}
}

// copyTree copies the maps and slices of v; other values are shared.
func copyTree(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyTree(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = copyTree(e)
		}
		return l
	}
	return v
}
