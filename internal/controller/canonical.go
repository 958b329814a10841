package controller

import (
	"math"
	"strings"

	"github.com/systemsync/systemsync/internal/spec"
)

// canonicalOwned is spec.Canonical(obj) made in place, for a tree the
// caller owns and does not use afterwards, of the values parseBody builds
// (maps, slices, strings, bools, nil, int64 and float64): spec.Canonical
// copies the whole tree to change, in most bodies, nothing but a few
// metadata fields. Any other value type makes it fall back to
// spec.Canonical. For what it takes, its result is spec.Canonical's
// (checked against it in tests).
func canonicalOwned(obj map[string]any) map[string]any {
	if obj == nil || !canonicalizeInPlace(obj) {
		return spec.Canonical(obj)
	}
	delete(obj, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		for _, f := range [...]string{"resourceVersion", "createdAt", "modifiedAt", "id"} {
			delete(md, f)
		}
		for _, f := range [...]string{"labels", "annotations"} {
			if v, has := md[f]; has {
				if m, ok := v.(map[string]any); v == nil || ok && len(m) == 0 {
					delete(md, f)
				}
			}
		}
	}
	if av, ok := obj["apiVersion"].(string); ok {
		kind, _ := obj["kind"].(string)
		if k, known := spec.LookupKind(kind); known {
			if group, version, _ := strings.Cut(av, "/"); version == "v3" && acceptsGroup(k, group) {
				obj["apiVersion"] = k.APIVersion()
			}
		}
	}
	return obj
}

// acceptsGroup reports whether group is k's group or one of its others.
func acceptsGroup(k *spec.Kind, group string) bool {
	if group == k.Group {
		return true
	}
	for _, g := range k.AltGroups {
		if g == group {
			return true
		}
	}
	return false
}

// canonicalizeInPlace turns the integral floats of v that an int64 holds
// exactly into int64, as spec.Canonical does, and reports false (v then
// possibly half done, which spec.Canonical's copy does not mind) when v
// holds a type other than parseBody's.
func canonicalizeInPlace(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch y := e.(type) {
			case float64:
				if y == math.Trunc(y) && math.Abs(y) <= 1<<53 {
					x[k] = int64(y)
				}
			case map[string]any, []any:
				if !canonicalizeInPlace(y) {
					return false
				}
			case nil, string, bool, int64:
			default:
				return false
			}
		}
	case []any:
		for i, e := range x {
			switch y := e.(type) {
			case float64:
				if y == math.Trunc(y) && math.Abs(y) <= 1<<53 {
					x[i] = int64(y)
				}
			case map[string]any, []any:
				if !canonicalizeInPlace(y) {
					return false
				}
			case nil, string, bool, int64:
			default:
				return false
			}
		}
	}
	return true
}
