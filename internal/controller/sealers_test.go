package controller_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
)

const sealersPath = "/apis/integrations.k8smgmt.io/v3/projects/default/secretsealers"

func sealerYAML(name, description string) string {
	return "apiVersion: integrations.k8smgmt.io/v3\nkind: SecretSealer\nmetadata:\n  name: " + name +
		"\n  project: default\n  description: " + description + "\nspec:\n  type: KubeSeal\n  version: v-1\n"
}

// statusCert returns the certificate an answer's object shows in its
// status, parsed, after checking the answer holds no private key.
func statusCert(t *testing.T, a answer, obj map[string]any) (string, *rsa.PublicKey) {
	t.Helper()
	if strings.Contains(a.raw, "PRIVATE") {
		t.Fatalf("an API answer holds a private key: %.200s", a.raw)
	}
	st, _ := obj["status"].(map[string]any)
	certPEM, _ := st["certificate"].(string)
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("status %v holds no certificate", st)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := cert.PublicKey.(*rsa.PublicKey)
	fp, _ := sealing.Fingerprint(pub)
	if st["fingerprint"] != fp || st["notAfter"] == nil {
		t.Errorf("status fingerprint %v, notAfter %v; the certificate's fingerprint is %s", st["fingerprint"], st["notAfter"], fp)
	}
	return certPEM, pub
}

// A KubeSeal SecretSealer gets a key pair when it is created: its
// certificate is in its status (create, get, list) and through
// Sealers.Certificate, the same after an update; what is sealed with that
// certificate the project's sealer opens. The private key is in no answer
// nor event.
func TestSecretSealerGetsAKeyPair(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	if s, err := c.Store.Sealers().Sealer(ctx, "default"); err != nil || s != nil {
		t.Fatalf("a project without sealers has sealer %v (%v)", s, err)
	}
	created := admin(t, c, "POST", sealersPath, sealerYAML("sealer", "first"))
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.raw)
	}
	cert, pub := statusCert(t, created, created.body)
	got := admin(t, c, "GET", sealersPath+"/sealer", "")
	if c2, _ := statusCert(t, got, got.body); got.code != 200 || c2 != cert {
		t.Errorf("get: %d, certificate changed: %v", got.code, c2 != cert)
	}
	list := admin(t, c, "GET", sealersPath, "")
	items, _ := list.body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("list: %s", list.raw)
	}
	if c2, _ := statusCert(t, list, items[0].(map[string]any)); c2 != cert {
		t.Error("list: another certificate")
	}
	updated := admin(t, c, "POST", sealersPath, sealerYAML("sealer", "second"))
	if c2, _ := statusCert(t, updated, updated.body); updated.code != 200 || c2 != cert {
		t.Errorf("update: %d, certificate changed: %v", updated.code, c2 != cert)
	}
	shown, err := c.Store.Sealers().Certificate(ctx, "default", "sealer")
	if err != nil || shown.PEM != cert {
		t.Fatalf("Certificate: %v, same %v", err, shown.PEM == cert)
	}
	events := admin(t, c, "GET", "/apis/system.k8smgmt.io/v3/events?since=0", "")
	if strings.Contains(events.raw, "PRIVATE") || strings.Contains(events.raw, "CERTIFICATE") {
		t.Errorf("the event log holds a key: %s", events.raw)
	}
	// Stored resources hold no status: Git never gets it.
	st, _ := c.Store.Get(ctx, spec.Key{Kind: "SecretSealer", Project: "default", Name: "sealer"})
	if _, has := st.Object["status"]; has {
		t.Errorf("the stored sealer holds a status: %v", st.Object)
	}

	// Sealed with the certificate, as kubeseal --cert does: the project's sealer opens it.
	label := sealing.Label(sealing.Namespace, "creds", sealing.ScopeStrict)
	ct, err := sealing.Encrypt(rand.Reader, pub, []byte("pw-from-kubeseal"), label)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Store.Sealers().Sealer(ctx, "default")
	if err != nil || s == nil {
		t.Fatalf("Sealer: %v, %v", s, err)
	}
	obj := map[string]any{"kind": "Repository", "spec": map[string]any{"credentials": map[string]any{"password": "sealed://credentials.password"}}}
	art := &sealing.Artifact{Name: "creds", Namespace: sealing.Namespace, Scope: sealing.ScopeStrict,
		Data: map[string]string{"credentials.password": base64.StdEncoding.EncodeToString(ct)}}
	if errs := s.Unseal(obj, "creds", art, ""); len(errs) > 0 {
		t.Fatalf("Unseal: %v", errs)
	}
	if v, _ := spec.FieldAt(obj, "spec.credentials.password"); v != "pw-from-kubeseal" {
		t.Errorf("unsealed %v", v)
	}
}

// Of two sealers in a project, the first made seals; a deleted
// sealer no longer counts, and made again under its name it has its key
// back.
func TestSecretSealerDeletedAndMadeAgain(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	first := admin(t, c, "POST", sealersPath, sealerYAML("a-first", "x"))
	firstCert, _ := statusCert(t, first, first.body)
	second := admin(t, c, "POST", sealersPath, sealerYAML("b-second", "x"))
	statusCert(t, second, second.body)
	s, _ := c.Store.Sealers().Sealer(ctx, "default")
	clear := map[string]any{"kind": "Repository", "spec": map[string]any{"credentials": map[string]any{"password": "Pw-two-sealers"}}}
	art, _, errs := s.Seal(clear, "creds", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if d := admin(t, c, "DELETE", sealersPath+"/a-first", ""); d.code != 200 {
		t.Fatalf("delete: %d %s", d.code, d.raw)
	}
	if _, err := c.Store.Sealers().Certificate(ctx, "default", "a-first"); !isNotFound(err) {
		t.Errorf("the deleted sealer's certificate: %v", err)
	}
	// What the first sealed, the second alone cannot open.
	s, _ = c.Store.Sealers().Sealer(ctx, "default")
	obj := map[string]any{"kind": "Repository", "spec": map[string]any{"credentials": map[string]any{"password": "sealed://credentials.password"}}}
	if errs := s.Unseal(obj, "creds", art, ""); len(errs) != 1 {
		t.Fatalf("unsealed with the first sealer deleted: %v", errs)
	}
	again := admin(t, c, "POST", sealersPath, sealerYAML("a-first", "back"))
	if cert, _ := statusCert(t, again, again.body); again.code != http.StatusCreated || cert != firstCert {
		t.Errorf("made again: %d, same key %v", again.code, cert == firstCert)
	}
	s, _ = c.Store.Sealers().Sealer(ctx, "default")
	if errs := s.Unseal(obj, "creds", art, ""); len(errs) > 0 {
		t.Errorf("with the first sealer made again: %v", errs)
	}
	if other, err := c.Store.Sealers().Sealer(ctx, "elsewhere"); err != nil || other != nil {
		t.Errorf("another project's sealer: %v %v", other, err)
	}
}

func isNotFound(err error) bool {
	var e *controller.Error
	return errors.As(err, &e) && e.Code == http.StatusNotFound
}
