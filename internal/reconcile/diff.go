package reconcile

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/systemsync/systemsync/internal/spec"
)

// SecretHidden is what a diff shows for a value spec.Secrets flags (on
// either side), and for a key that is itself a secret: the diff says that
// the field changed, never what it holds.
const SecretHidden = "(secret, not shown)"

// FieldDiff is one field that differs between the system's object and
// Git's: Old is the system's value, New Git's, rendered compactly; a
// missing side is marked. Secret says the field is a secret on one side
// or both: Old and New are then SecretHidden.
type FieldDiff struct {
	Field      string
	Old, New   string
	OldMissing bool
	NewMissing bool
	Secret     bool
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
// What spec.Secrets flags in either object is compared but not shown: a
// secret field that differs is one FieldDiff with Secret set, and a value
// that holds secrets deeper down is rendered with them as SecretHidden, so
// that every renderer of a plan (the PR comment, the check run, the
// console) shows none of them.
func Diff(old, new map[string]any) []FieldDiff {
	var out []FieldDiff
	var a, b map[string]any
	if old != nil {
		a = spec.Canonical(old)
	}
	if new != nil {
		b = spec.Canonical(new)
	}
	secrets := secretTree(spec.SecretFields(a), spec.SecretFields(b))
	var av, bv any
	if a != nil {
		av = a
	}
	if b != nil {
		bv = b
	}
	diffValue("", av, bv, old == nil, new == nil, secrets, &out)
	return out
}

// secretNode is a tree of the secret places of the two sides of a diff.
type secretNode struct {
	secret    bool // the value here is a secret
	keySecret bool // the key that leads here is a secret
	keys      map[string]*secretNode
	items     map[int]*secretNode
}

func secretTree(sides ...[]spec.SecretField) *secretNode {
	var root *secretNode
	for _, fields := range sides {
		for _, f := range fields {
			if root == nil {
				root = &secretNode{}
			}
			n := root
			for _, step := range f.Steps() {
				n = n.add(step)
			}
			if f.InKey {
				n.keySecret = true
			} else {
				n.secret = true
			}
		}
	}
	return root
}

func (n *secretNode) add(step any) *secretNode {
	switch s := step.(type) {
	case string:
		if n.keys == nil {
			n.keys = map[string]*secretNode{}
		}
		if n.keys[s] == nil {
			n.keys[s] = &secretNode{}
		}
		return n.keys[s]
	case int:
		if n.items == nil {
			n.items = map[int]*secretNode{}
		}
		if n.items[s] == nil {
			n.items[s] = &secretNode{}
		}
		return n.items[s]
	}
	return n
}

func (n *secretNode) key(k string) *secretNode {
	if n == nil {
		return nil
	}
	return n.keys[k]
}

func (n *secretNode) item(i int) *secretNode {
	if n == nil {
		return nil
	}
	return n.items[i]
}

// shownKey is how a diff names key k: SecretHidden when k is a secret.
func (n *secretNode) shownKey(k string) string {
	if c := n.key(k); c != nil && c.keySecret {
		return SecretHidden
	}
	return k
}

// masked returns v with the secrets n marks in it as SecretHidden.
func (n *secretNode) masked(v any) any {
	switch {
	case n == nil:
		return v
	case n.secret:
		return SecretHidden
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[n.shownKey(k)] = n.key(k).masked(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = n.item(i).masked(e)
		}
		return out
	}
	return v
}

func diffValue(path string, a, b any, aMissing, bMissing bool, secrets *secretNode, out *[]FieldDiff) {
	if secrets != nil && secrets.secret {
		if aMissing && bMissing || !aMissing && !bMissing && render(a) == render(b) {
			return
		}
		d := FieldDiff{Field: path, OldMissing: aMissing, NewMissing: bMissing, Secret: true}
		if !aMissing {
			d.Old = SecretHidden
		}
		if !bMissing {
			d.New = SecretHidden
		}
		if d.Field == "" {
			d.Field = "(resource)"
		}
		*out = append(*out, d)
		return
	}
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
				diffValue(join(path, secrets.shownKey(k)), av, bv, !aok, !bok, secrets.key(k), out)
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
				diffValue(fmt.Sprintf("%s[%d]", path, i), av, bv, i >= len(al), i >= len(bl), secrets.item(i), out)
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
		d.Old = render(secrets.masked(a))
	}
	if !bMissing {
		d.New = render(secrets.masked(b))
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
