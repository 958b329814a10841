package reconcile

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/systemsync/systemsync/internal/spec"
)

// FieldDiff is one field that differs between the system's object and
// Git's: Old is the system's value, New Git's, rendered compactly; a
// missing side is marked.
type FieldDiff struct {
	Field      string
	Old, New   string
	OldMissing bool
	NewMissing bool
}

// String renders the difference as `field: old → new`.
func (d FieldDiff) String() string {
	old, nw := d.Old, d.New
	if d.OldMissing {
		old = "(absent)"
	}
	if d.NewMissing {
		nw = "(absent)"
	}
	return fmt.Sprintf("%s: %s → %s", d.Field, old, nw)
}

// Diff lists the fields whose values differ between old and new, compared
// in canonical form (server-owned fields ignored), sorted by field path.
// A clear-text secret is never shown: its value is spec.SecretMask on
// both sides, or spec.SecretMaskChanged on new's where it changed (see
// spec.MaskSecrets).
func Diff(old, new map[string]any) []FieldDiff {
	var out []FieldDiff
	var a, b any
	var am, bm map[string]any
	if old != nil {
		am = spec.Canonical(old)
		a = am
	}
	if new != nil {
		bm = spec.Canonical(new)
		b = bm
	}
	spec.MaskSecrets(am, bm)
	diffValue("", a, b, old == nil, new == nil, &out)
	return out
}

func diffValue(path string, a, b any, aMissing, bMissing bool, out *[]FieldDiff) {
	if !aMissing && !bMissing {
		am, aIsMap := a.(map[string]any)
		bm, bIsMap := b.(map[string]any)
		if aIsMap && bIsMap {
			keys := map[string]bool{}
			for k := range am {
				keys[k] = true
			}
			for k := range bm {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				av, aok := am[k]
				bv, bok := bm[k]
				diffValue(join(path, k), av, bv, !aok, !bok, out)
			}
			return
		}
		al, aIsList := a.([]any)
		bl, bIsList := b.([]any)
		if aIsList && bIsList {
			for i := 0; i < max(len(al), len(bl)); i++ {
				var av, bv any
				if i < len(al) {
					av = al[i]
				}
				if i < len(bl) {
					bv = bl[i]
				}
				diffValue(fmt.Sprintf("%s[%d]", path, i), av, bv, i >= len(al), i >= len(bl), out)
			}
			return
		}
		if render(a) == render(b) {
			return
		}
	}
	if aMissing && bMissing {
		return
	}
	d := FieldDiff{Field: path, OldMissing: aMissing, NewMissing: bMissing}
	if !aMissing {
		d.Old = render(a)
	}
	if !bMissing {
		d.New = render(b)
	}
	if d.Field == "" {
		d.Field = "(resource)"
	}
	*out = append(*out, d)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func render(v any) string {
	if s, ok := v.(string); ok {
		b, _ := json.Marshal(s)
		return string(b)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
