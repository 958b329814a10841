package sealing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/systemsync/systemsync/internal/spec"
)

// Scheme starts a sealed field's reference: sealed://<field path under spec>.
const Scheme = "sealed://"

// Keyring gives each project's sealer; the embedded controller's
// (controller.Sealers) is one.
type Keyring interface {
	// Sealer returns project's sealer, nil when the project has no
	// SecretSealer of type KubeSeal.
	Sealer(ctx context.Context, project string) (*Sealer, error)
}

// Sealer seals a project's secrets with the first of its keys and unseals
// them with any. It is safe for concurrent use.
type Sealer struct {
	project string
	keys    []*Key
	cache   *Cache
	rand    io.Reader
}

// NewSealer returns the sealer of project with keys (the first seals);
// cache, which may be shared by every sealer, keeps what was opened or
// sealed so that the same ciphertext is not decrypted twice (nil: none).
func NewSealer(project string, keys []*Key, cache *Cache) *Sealer {
	if cache == nil {
		cache = NewCache()
	}
	return &Sealer{project: project, keys: keys, cache: cache, rand: rand.Reader}
}

// Project is the project whose keys the sealer holds.
func (s *Sealer) Project() string { return s.project }

// ID names the sealer's keys (their fingerprints, in order): two sealers
// with the same ID seal and unseal alike.
func (s *Sealer) ID() string {
	if s == nil {
		return ""
	}
	fps := make([]string, len(s.keys))
	for i, k := range s.keys {
		fps[i] = k.fingerprint
	}
	return strings.Join(fps, ",")
}

// Ref returns the reference that stands for the field at path, a field
// under spec ("spec.credentials.password" → "sealed://credentials.password"),
// and false for a field outside spec.
func Ref(path string) (string, bool) {
	entry, ok := entryOf(path)
	if !ok {
		return "", false
	}
	return Scheme + entry, true
}

// entryOf is the artifact entry of the field at path: its path under spec.
func entryOf(path string) (string, bool) {
	if rest, ok := strings.CutPrefix(path, "spec."); ok && rest != "" {
		return rest, true
	}
	if rest, ok := strings.CutPrefix(path, "spec["); ok && !strings.HasPrefix(rest, "]") {
		return "[" + rest, true
	}
	return "", false
}

// RefField is one field that holds a sealed:// reference.
type RefField struct {
	Path  string // where the reference is ("spec.credentials.password")
	Entry string // the artifact entry it names ("credentials.password")
}

// Refs returns the fields of obj that hold a sealed:// reference, in
// path order.
func Refs(obj map[string]any) []RefField {
	var out []RefField
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, spec.JoinKey(at, k))
			}
		case []any:
			for i, e := range x {
				walk(e, spec.JoinIndex(at, i))
			}
		case string:
			if entry, ok := strings.CutPrefix(x, Scheme); ok {
				out = append(out, RefField{Path: at, Entry: entry})
			}
		}
	}
	walk(obj, "")
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// HasRefs reports whether obj holds a sealed:// reference anywhere, at
// the cost of a walk that builds no path.
func HasRefs(obj map[string]any) bool { return hasRef(obj) }

func hasRef(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if hasRef(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasRef(e) {
				return true
			}
		}
	case string:
		return strings.HasPrefix(x, Scheme)
	}
	return false
}

// FieldError is a field that cannot be sealed or unsealed, and why.
type FieldError struct {
	Path    string // the field, as a problem names it (a key holding a secret cut to its first letters)
	Message string // never the secret
}

func (e FieldError) Error() string { return e.Path + ": " + e.Message }

// Seal seals, in place, the clear-text secrets of obj (the object of the
// resource named name, which the caller owns): each field
// spec.SecretFields finds under spec then holds sealed://<its path under
// spec>, and the artifact returned holds its value sealed, keyed by that
// path. A value prev (the artifact Git holds) already seals keeps its
// ciphertext, so the artifact changes only when a value does; the others
// are sealed anew with the sealer's first key. An entry of prev that a
// reference obj held already names is kept as it is; the entries no
// reference names are dropped. The artifact is nil when obj references
// nothing; changed reports whether it differs from prev.
//
// A secret no reference can stand for (a mapping key, a field outside
// spec) fails the whole resource: the errors name each one.
func (s *Sealer) Seal(obj map[string]any, name string, prev *Artifact) (art *Artifact, changed bool, errs []FieldError) {
	fields := spec.SecretFields(obj)
	for _, f := range fields {
		if f.InKey {
			errs = append(errs, FieldError{f.Shown, f.Message + ": a key cannot be sealed, only a value"})
		} else if _, ok := entryOf(f.Path); !ok {
			errs = append(errs, FieldError{f.Shown, f.Message + ": only fields under spec can be sealed"})
		}
	}
	if len(errs) > 0 {
		return nil, false, errs
	}
	reuse := prev != nil && prev.Scope == ScopeStrict && prev.Name == name
	art = &Artifact{Name: name, Namespace: Namespace, Scope: ScopeStrict, Data: map[string]string{}}
	if reuse {
		art.Namespace = prev.Namespace
	}
	label := art.label()
	sealed := map[string]bool{}
	for _, f := range fields {
		clear, _ := spec.FieldAt(obj, f.Path)
		value, _ := clear.(string)
		entry, _ := entryOf(f.Path)
		if reuse {
			if old, ok := prev.Data[entry]; ok {
				if v, err := s.open(old, label); err == nil && v == value {
					art.Data[entry] = old
					sealed[entry] = true
					spec.SetField(obj, f.Path, Scheme+entry)
					continue
				}
			}
		}
		ct, err := s.seal(value, label)
		if err != nil {
			return nil, false, []FieldError{{f.Path, err.Error()}}
		}
		art.Data[entry] = ct
		sealed[entry] = true
		spec.SetField(obj, f.Path, Scheme+entry)
	}
	for _, r := range Refs(obj) {
		if !sealed[r.Entry] && prev != nil {
			if old, ok := prev.Data[r.Entry]; ok {
				art.Data[r.Entry] = old
			}
		}
	}
	if len(art.Data) == 0 {
		return nil, prev != nil, nil
	}
	changed = prev == nil || !reuse || !sameData(prev.Data, art.Data)
	return art, changed, nil
}

// Unseal replaces, in obj (the object of the resource named name), each
// sealed:// reference with its clear value: the entry it names in art,
// opened with one of the sealer's keys. Each reference that cannot be
// unsealed is an error naming its field: no sealer (s nil), no artifact
// (art nil; missing says why), no such entry, an artifact sealed for
// another resource or with a wider scope, or a value no key of the
// project's sealers opens.
func (s *Sealer) Unseal(obj map[string]any, name string, art *Artifact, missing string) []FieldError {
	refs := Refs(obj)
	var errs []FieldError
	fail := func(r RefField, format string, args ...any) {
		errs = append(errs, FieldError{r.Path, Scheme + r.Entry + " cannot be unsealed: " + fmt.Sprintf(format, args...)})
	}
	for _, r := range refs {
		switch {
		case s == nil:
			fail(r, "the project has no SecretSealer (spec.type KubeSeal) to unseal it with")
		case art == nil:
			fail(r, "%s", missing)
		case art.Scope != ScopeStrict:
			fail(r, "its SealedSecret is sealed %s: only the strict scope (for this resource's name) is unsealed", art.Scope)
		case art.Name != name:
			fail(r, "its SealedSecret is sealed for %q, not for %q", art.Name, name)
		default:
			old, ok := art.Data[r.Entry]
			if !ok {
				fail(r, "its SealedSecret has no entry %q in spec.encryptedData", r.Entry)
				continue
			}
			v, err := s.open(old, art.label())
			if err != nil {
				fail(r, "%v", err)
				continue
			}
			spec.SetField(obj, r.Path, v)
		}
	}
	return errs
}

// errNoKey is why a value no key opens cannot be unsealed.
var errNoKey = errors.New("no key of the project's SecretSealers opens it (sealed with another key, or for another name)")

// open returns the clear value of a sealed value (base64, as
// spec.encryptedData holds it) sealed with label.
func (s *Sealer) open(value string, label []byte) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return "", fmt.Errorf("not base64: %w", err)
	}
	for _, k := range s.keys {
		if v, ok := s.cache.get(k, label, ct); ok {
			return v, nil
		}
	}
	for _, k := range s.keys {
		pt, err := Decrypt(k.Private, ct, label)
		if err != nil {
			continue
		}
		if !utf8.Valid(pt) {
			return "", errors.New("its clear value is not UTF-8 text")
		}
		s.cache.put(k, label, ct, string(pt))
		return string(pt), nil
	}
	return "", errNoKey
}

// seal returns value sealed with the first key for label, as base64.
func (s *Sealer) seal(value string, label []byte) (string, error) {
	if len(s.keys) == 0 {
		return "", errors.New("the project's SecretSealer has no key")
	}
	k := s.keys[0]
	ct, err := Encrypt(s.rand, k.Public(), []byte(value), label)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	s.cache.put(k, label, ct, value)
	return base64.StdEncoding.EncodeToString(ct), nil
}

// maxCached bounds the values a Cache holds; past it, it starts afresh.
const maxCached = 1 << 16

// Cache remembers the clear value of each ciphertext a key opened or
// sealed, so that a value read back from Git, or compared with its new
// value, costs no RSA decryption. It lives in the process only. It is
// safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[[32]byte]string
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{m: map[[32]byte]string{}} }

// id is the cache key of ciphertext ct for key k and label: a value is
// found again only for the key and label it was opened or sealed with.
func cacheID(k *Key, label, ct []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(k.fingerprint))
	h.Write([]byte{0})
	h.Write(label)
	h.Write([]byte{0})
	h.Write(ct)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

func (c *Cache) get(k *Key, label, ct []byte) (string, bool) {
	id := cacheID(k, label, ct)
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *Cache) put(k *Key, label, ct []byte, v string) {
	id := cacheID(k, label, ct)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		c.m = map[[32]byte]string{}
	}
	c.m[id] = v
}
