package sealing

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/systemsync/systemsync/internal/spec"
)

// testKeys are made once per test binary: a key pair costs a fraction of
// a second.
var (
	keysMu   sync.Mutex
	keysMade []*Key
	keysUsed = map[*testing.T]int{}
)

// testKey returns a key pair no other call of the same test got.
func testKey(t *testing.T) *Key {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	i := keysUsed[t]
	keysUsed[t] = i + 1
	for len(keysMade) <= i {
		k, err := NewKey(nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		keysMade = append(keysMade, k)
	}
	return keysMade[i]
}

func repository(name string, credentials map[string]any, endpoint string) map[string]any {
	return map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": name, "project": "p"},
		"spec":     map[string]any{"type": "Git", "endpoint": endpoint, "credentials": credentials}}
}

func at(obj map[string]any, path string) any {
	v, _ := spec.FieldAt(obj, path)
	return v
}

// Rafay's own export: the artifact reads, its values are kubeseal's format
// for a 2048-bit key, and rendering it again gives Rafay's bytes.
func TestRafaysArtifact(t *testing.T) {
	data, err := os.ReadFile("../../testdata/rafay-specs/repository/syncrepo-git-repo.SEALED-SECRET-ARTIFACT.yaml")
	if err != nil {
		t.Fatal(err)
	}
	art, err := ParseArtifact(data)
	if err != nil {
		t.Fatal(err)
	}
	if art.Name != "gke-system-sync" || art.Namespace != "default" || art.Scope != ScopeStrict || len(art.Data) != 1 {
		t.Fatalf("read %+v", art)
	}
	ct, err := base64.StdEncoding.DecodeString(art.Data["credentials.password"])
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.BigEndian.Uint16(ct); n != KeyBits/8 {
		t.Errorf("Rafay's RSA ciphertext is %d bytes; our keys make %d", n, KeyBits/8)
	}
	if got := art.Render(); !bytes.Equal(got, data) {
		t.Errorf("rendered:\n%s\nRafay's:\n%s", got, data)
	}
	if _, err := ParseArtifact([]byte("apiVersion: v1\nkind: Secret\n")); err == nil {
		t.Error("a Secret reads as a SealedSecret")
	}
}

// Every kind of secret spec.Secrets finds under spec is sealed, each as a
// whole value; unsealing gives the object back.
func TestSealAndUnseal(t *testing.T) {
	s := NewSealer("p", []*Key{testKey(t)}, nil)
	clear := repository("creds", map[string]any{"username": "bob", "password": "Pw-1234567890"},
		"https://bob:hunter2@git.example.org/x.git")
	spec0 := clear["spec"].(map[string]any)
	spec0["values"] = []any{"token: ghp_" + strings.Repeat("a1B2", 9), "plain"}
	spec0["variables"] = []any{map[string]any{"name": "db", "type": "Secret", "value": "Var-secret-1"}}
	obj := spec.Canonical(clear)
	art, changed, errs := s.Seal(obj, "creds", nil)
	if len(errs) > 0 || !changed {
		t.Fatalf("Seal: %v (changed %v)", errs, changed)
	}
	for path, ref := range map[string]string{
		"spec.credentials.password": "sealed://credentials.password",
		"spec.endpoint":             "sealed://endpoint",
		"spec.values[0]":            "sealed://values[0]",
		"spec.variables[0].value":   "sealed://variables[0].value",
	} {
		if got := at(obj, path); got != ref {
			t.Errorf("%s holds %v, want %s", path, got, ref)
		}
	}
	if at(obj, "spec.credentials.username") != "bob" || at(obj, "spec.values[1]") != "plain" {
		t.Errorf("a field that is no secret was sealed: %v", obj["spec"])
	}
	if len(spec.Secrets(&spec.Resource{Object: obj})) > 0 {
		t.Errorf("the sealed object still holds a secret: %v", spec.Secrets(&spec.Resource{Object: obj}))
	}
	rendered := string(art.Render())
	for _, v := range []string{"Pw-1234567890", "hunter2", "ghp_", "Var-secret-1"} {
		if strings.Contains(rendered, v) {
			t.Errorf("the artifact holds %q in clear", v)
		}
	}
	back, err := ParseArtifact(art.Render())
	if err != nil {
		t.Fatal(err)
	}
	// A fresh cache: the values are decrypted, not remembered.
	fresh := NewSealer("p", s.keys, nil)
	if errs := fresh.Unseal(obj, "creds", back, ""); len(errs) > 0 {
		t.Fatalf("Unseal: %v", errs)
	}
	if !spec.Equal(obj, spec.Canonical(clear)) {
		t.Errorf("unsealed %v\nwant %v", obj, spec.Canonical(clear))
	}
}

// Sealing the same values again keeps the artifact; a changed value gets
// a new ciphertext and the others keep theirs; a value no longer secret
// leaves the artifact.
func TestSealKeepsWhatDidNotChange(t *testing.T) {
	key := testKey(t)
	s := NewSealer("p", []*Key{key}, nil)
	clear := repository("creds", map[string]any{"password": "first-Pw-1"}, "https://bob:hunter2@git.example.org/x.git")
	first, _, errs := s.Seal(spec.Canonical(clear), "creds", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	prev, _ := ParseArtifact(first.Render())
	// A process that never sealed them (a restart) decrypts to compare.
	again, changed, errs := NewSealer("p", []*Key{key}, nil).Seal(spec.Canonical(clear), "creds", prev)
	if len(errs) > 0 || changed || !bytes.Equal(again.Render(), first.Render()) {
		t.Fatalf("the same values sealed again: changed %v, %v\n%s\nwas\n%s", changed, errs, again.Render(), first.Render())
	}
	clear["spec"].(map[string]any)["credentials"].(map[string]any)["password"] = "second-Pw-2"
	next, changed, errs := s.Seal(spec.Canonical(clear), "creds", prev)
	if len(errs) > 0 || !changed {
		t.Fatalf("a changed password: changed %v, %v", changed, errs)
	}
	if next.Data["endpoint"] != prev.Data["endpoint"] || next.Data["credentials.password"] == prev.Data["credentials.password"] {
		t.Errorf("after a password change: %v, was %v", next.Data, prev.Data)
	}
	delete(clear["spec"].(map[string]any), "credentials")
	clear["spec"].(map[string]any)["endpoint"] = "https://git.example.org/x.git"
	none, changed, errs := s.Seal(spec.Canonical(clear), "creds", prev)
	if len(errs) > 0 || none != nil || !changed {
		t.Errorf("no secret left: artifact %v, changed %v, %v", none, changed, errs)
	}
}

// A reference the system already holds keeps its entry; one whose entry
// is missing is refused on the way back, naming the field.
func TestRefsAlreadyHeld(t *testing.T) {
	s := NewSealer("p", []*Key{testKey(t)}, nil)
	clear := repository("creds", map[string]any{"password": "Pw-abcdefgh"}, "https://git.example.org/x.git")
	art, _, _ := s.Seal(spec.Canonical(clear), "creds", nil)
	held := repository("creds", map[string]any{"password": "sealed://credentials.password", "token": "ghp_" + strings.Repeat("x9Y8", 9)},
		"https://git.example.org/x.git")
	out, changed, errs := s.Seal(spec.Canonical(held), "creds", art)
	if len(errs) > 0 || !changed || out.Data["credentials.password"] != art.Data["credentials.password"] || out.Data["credentials.token"] == "" {
		t.Fatalf("Seal: %v %v %v", out, changed, errs)
	}
	obj := repository("creds", map[string]any{"password": "sealed://credentials.pasword"}, "https://git.example.org/x.git")
	errs = s.Unseal(obj, "creds", art, "")
	if len(errs) != 1 || errs[0].Path != "spec.credentials.password" || !strings.Contains(errs[0].Message, `no entry "credentials.pasword"`) {
		t.Errorf("a misspelt reference: %v", errs)
	}
}

// What cannot be unsealed is an error naming the field, and leaves the
// reference in place; what cannot be sealed fails the whole resource.
func TestUnsealAndSealRefusals(t *testing.T) {
	key, other := testKey(t), testKey(t)
	s := NewSealer("p", []*Key{key}, nil)
	clear := repository("creds", map[string]any{"password": "Pw-abcdefgh"}, "https://git.example.org/x.git")
	art, _, _ := s.Seal(spec.Canonical(clear), "creds", nil)
	ref := func() map[string]any {
		return repository("creds", map[string]any{"password": "sealed://credentials.password"}, "https://git.example.org/x.git")
	}
	cases := map[string]struct {
		s    *Sealer
		name string
		art  *Artifact
		want string
	}{
		"no sealer":      {nil, "creds", art, "the project has no SecretSealer"},
		"no artifact":    {s, "creds", nil, "projects/p/repositories/artifacts/creds/sealed-secret.yaml is missing"},
		"another key":    {NewSealer("p", []*Key{other}, nil), "creds", art, "no key of the project's SecretSealers opens it"},
		"another name":   {s, "other", art, `sealed for "creds", not for "other"`},
		"another scope":  {s, "creds", &Artifact{Name: "creds", Namespace: "default", Scope: ScopeClusterWide, Data: art.Data}, "sealed cluster-wide"},
		"not base64":     {s, "creds", &Artifact{Name: "creds", Namespace: "default", Scope: ScopeStrict, Data: map[string]string{"credentials.password": "%%%"}}, "not base64"},
		"another secret": {s, "creds", &Artifact{Name: "creds", Namespace: "team", Scope: ScopeStrict, Data: art.Data}, "opens it"},
	}
	for what, c := range cases {
		obj := ref()
		errs := c.s.Unseal(obj, c.name, c.art, "projects/p/repositories/artifacts/creds/sealed-secret.yaml is missing")
		if len(errs) != 1 || errs[0].Path != "spec.credentials.password" || !strings.Contains(errs[0].Message, c.want) ||
			!strings.HasPrefix(errs[0].Message, "sealed://credentials.password cannot be unsealed: ") {
			t.Errorf("%s: %v, want %q", what, errs, c.want)
		}
		if at(obj, "spec.credentials.password") != "sealed://credentials.password" {
			t.Errorf("%s: the reference was replaced", what)
		}
	}
	ghs := "ghs_" + strings.Repeat("Q1w2", 9)
	for what, obj := range map[string]map[string]any{
		"in a key":        repository("creds", map[string]any{ghs: "x"}, "https://git.example.org/x.git"),
		"outside of spec": {"kind": "Namespace", "metadata": map[string]any{"name": "n", "description": "https://bob:pw12345@h.example/x"}, "spec": map[string]any{}},
	} {
		art, _, errs := s.Seal(obj, "creds", nil)
		if art != nil || len(errs) != 1 || strings.Contains(errs[0].Error(), ghs) || strings.Contains(errs[0].Error(), "pw12345") {
			t.Errorf("a secret %s: %v %v", what, art, errs)
		}
	}
}

// A key pair reads back from its PEM, as sealed-secrets makes its
// certificate.
func TestKeyPEM(t *testing.T) {
	k := testKey(t)
	back, err := ParseKey(k.PrivatePEM(), k.CertificatePEM())
	if err != nil {
		t.Fatal(err)
	}
	if back.Fingerprint() != k.Fingerprint() || !strings.HasPrefix(k.Fingerprint(), "SHA256:") {
		t.Errorf("fingerprints %q and %q", back.Fingerprint(), k.Fingerprint())
	}
	c := k.Certificate
	if !c.IsCA || c.KeyUsage != x509.KeyUsageEncipherOnly || c.NotAfter.Sub(c.NotBefore) != CertificateValidity || k.Private.N.BitLen() != KeyBits {
		t.Errorf("certificate: CA %v, usage %v, valid %v, %d bits", c.IsCA, c.KeyUsage, c.NotAfter.Sub(c.NotBefore), k.Private.N.BitLen())
	}
	if _, err := ParseKey(k.PrivatePEM(), testKey(t).CertificatePEM()); err == nil {
		t.Error("a key pair of another key's certificate")
	}
	if shown := k.Shown(); strings.Contains(shown.PEM, "PRIVATE") || !strings.Contains(shown.PEM, "BEGIN CERTIFICATE") {
		t.Errorf("shown: %s", shown.PEM)
	}
}

// The cost of one value sealed and opened, as an export and a load pay it.
func BenchmarkSeal(b *testing.B) {
	k, err := NewKey(nil, "bench")
	if err != nil {
		b.Fatal(err)
	}
	label := Label(Namespace, "creds", ScopeStrict)
	b.Run("encrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := Encrypt(rand.Reader, k.Public(), []byte("Pw-000001-bench"), label); err != nil {
				b.Fatal(err)
			}
		}
	})
	ct, _ := Encrypt(rand.Reader, k.Public(), []byte("Pw-000001-bench"), label)
	b.Run("decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decrypt(k.Private, ct, label); err != nil {
				b.Fatal(err)
			}
		}
	})
}
