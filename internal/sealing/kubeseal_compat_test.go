package sealing

// The compatibility of our sealing with kubeseal's, checked against
// sealed-secrets' own code: its pkg/crypto (HybridEncrypt, HybridDecrypt),
// imported as a test dependency (github.com/bitnami-labs/sealed-secrets,
// Apache License 2.0; the package needs nothing of Kubernetes). The label
// rule and the SealedSecret's JSON fields below are as sealed-secrets
// documents them (a strict scope's label is "<namespace>/<name>", a
// namespace-wide one's the namespace, a cluster-wide one's empty). The
// project publishes no fixed test vectors: its tests seal with a fresh key
// as these do.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"testing"

	ssc "github.com/bitnami-labs/sealed-secrets/pkg/crypto"
	"go.yaml.in/yaml/v3"
)

// --- the SealedSecret as Kubernetes decodes it (types.go's JSON tags) ---

type ssObjectMeta struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type ssSealedSecret struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	ObjectMeta ssObjectMeta `json:"metadata"`
	Spec       struct {
		Template struct {
			ObjectMeta ssObjectMeta      `json:"metadata"`
			Data       map[string]string `json:"data,omitempty"`
		} `json:"template,omitempty"`
		Data          []byte            `json:"data,omitempty"`
		EncryptedData map[string]string `json:"encryptedData"`
	} `json:"spec"`
}

// labelFor is the label a SealedSecret with metadata o is sealed with, by its scope.
func labelFor(o ssObjectMeta) []byte {
	switch {
	case o.Annotations["sealedsecrets.bitnami.com/cluster-wide"] == "true":
		return []byte("")
	case o.Annotations["sealedsecrets.bitnami.com/namespace-wide"] == "true":
		return []byte(o.Namespace)
	}
	return []byte(fmt.Sprintf("%s/%s", o.Namespace, o.Name))
}

// recoveryUnseal is what `kubeseal --recovery-unseal --recovery-private-key
// key.pem` does with a SealedSecret: the private key read from PEM
// (keyutil.ParsePrivateKeyPEM), the YAML decoded as Kubernetes decodes it
// (to JSON, then the API types), and SealedSecret.Unseal's encryptedData
// path: each value base64-decoded and opened with the SealedSecret's own
// label. It returns the Secret's data.
func recoveryUnseal(t *testing.T, artifact, privatePEM []byte) (map[string]string, error) {
	t.Helper()
	block, _ := pem.Decode(privatePEM)
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("the private key is not an RSA PRIVATE KEY PEM block")
	}
	priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := yaml.Unmarshal(artifact, &generic); err != nil {
		t.Fatalf("the artifact is not YAML: %v", err)
	}
	js, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	var ss ssSealedSecret
	if err := json.Unmarshal(js, &ss); err != nil {
		t.Fatalf("the artifact does not decode as a SealedSecret: %v", err)
	}
	if ss.APIVersion != "bitnami.com/v1alpha1" || ss.Kind != "SealedSecret" {
		t.Fatalf("apiVersion %q, kind %q", ss.APIVersion, ss.Kind)
	}
	if ss.Spec.Data != nil {
		t.Fatalf("the artifact uses the deprecated spec.data")
	}
	keys := map[string]*rsa.PrivateKey{"only": priv}
	out := map[string]string{}
	for k, v := range ss.Spec.EncryptedData {
		ct, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		pt, err := ssc.HybridDecrypt(rand.Reader, keys, ct, labelFor(ss.ObjectMeta))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = string(pt)
	}
	if ss.Spec.Template.ObjectMeta.Name != ss.ObjectMeta.Name || ss.Spec.Template.ObjectMeta.Namespace != ss.ObjectMeta.Namespace {
		t.Errorf("the template makes Secret %s/%s, the SealedSecret is %s/%s", ss.Spec.Template.ObjectMeta.Namespace,
			ss.Spec.Template.ObjectMeta.Name, ss.ObjectMeta.Namespace, ss.ObjectMeta.Name)
	}
	return out, nil
}

// What we seal, kubeseal's recovery reads with the sealer's private key,
// and with no other key.
func TestKubesealRecoveryReadsWhatWeSeal(t *testing.T) {
	key := testKey(t)
	s := NewSealer("p", []*Key{key}, nil)
	obj := repository("creds", map[string]any{"username": "bob", "password": "s3cret-Pa55"},
		"https://bob:hunter2@git.example.org/x.git")
	art, changed, errs := s.Seal(obj, "creds", nil)
	if len(errs) > 0 || !changed || art == nil {
		t.Fatalf("Seal: %v, changed %v, artifact %v", errs, changed, art)
	}
	got, err := recoveryUnseal(t, art.Render(), key.PrivatePEM())
	if err != nil {
		t.Fatalf("kubeseal's recovery: %v", err)
	}
	want := map[string]string{"credentials.password": "s3cret-Pa55", "endpoint": "https://bob:hunter2@git.example.org/x.git"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("kubeseal's recovery reads %v, want %v", got, want)
	}
	other := testKey(t)
	if _, err := recoveryUnseal(t, art.Render(), other.PrivatePEM()); err == nil {
		t.Errorf("another key opens what we sealed")
	}
	// The label binds the name: renamed, the SealedSecret no longer opens.
	renamed := bytes.ReplaceAll(art.Render(), []byte("name: creds"), []byte("name: other"))
	if _, err := recoveryUnseal(t, renamed, key.PrivatePEM()); err == nil {
		t.Errorf("a SealedSecret renamed to another resource still opens")
	}
}

// What kubeseal's HybridEncrypt seals (as `kubeseal --cert` does, with the
// sealer's certificate, for the resource's name in namespace default), we
// unseal into the resource; sealed for another name, or cluster-wide, we
// refuse it.
func TestWeUnsealWhatKubesealSeals(t *testing.T) {
	key := testKey(t)
	certBlock, _ := pem.Decode(key.CertificatePEM())
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := cert.PublicKey.(*rsa.PublicKey)
	sealFor := func(ns, name, value string) string {
		ct, err := ssc.HybridEncrypt(rand.Reader, pub, []byte(value), labelFor(ssObjectMeta{Namespace: ns, Name: name}))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(ct)
	}
	file := fmt.Sprintf(`apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  creationTimestamp: null
  name: creds
  namespace: team-a
spec:
  encryptedData:
    credentials.password: %s
  template:
    metadata:
      creationTimestamp: null
      name: creds
      namespace: team-a
`, sealFor("team-a", "creds", "from-kubeseal"))
	art, err := ParseArtifact([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSealer("p", []*Key{testKey(t), key}, nil) // the key that opens it need not be the first
	obj := repository("creds", map[string]any{"username": "bob", "password": "sealed://credentials.password"}, "https://git.example.org/x.git")
	if errs := s.Unseal(obj, "creds", art, ""); len(errs) > 0 {
		t.Fatalf("Unseal: %v", errs)
	}
	if got := obj["spec"].(map[string]any)["credentials"].(map[string]any)["password"]; got != "from-kubeseal" {
		t.Errorf("unsealed password %q", got)
	}

	// Sealed by kubeseal for another name: the label does not match.
	art.Data["credentials.password"] = sealFor("team-a", "other", "from-kubeseal")
	obj = repository("creds", map[string]any{"password": "sealed://credentials.password"}, "https://git.example.org/x.git")
	errs := s.Unseal(obj, "creds", art, "")
	if len(errs) != 1 || errs[0].Path != "spec.credentials.password" {
		t.Fatalf("a value sealed for another name: %v", errs)
	}
	// Cluster-wide (kubeseal --scope cluster-wide): refused, whatever opens.
	cw := []byte(fmt.Sprintf("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: creds\n  namespace: team-a\n"+
		"  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\nspec:\n  encryptedData:\n    credentials.password: %s\n",
		base64.StdEncoding.EncodeToString(must(ssc.HybridEncrypt(rand.Reader, pub, []byte("x"), labelFor(ssObjectMeta{
			Annotations: map[string]string{"sealedsecrets.bitnami.com/cluster-wide": "true"}}))))))
	art, err = ParseArtifact(cw)
	if err != nil {
		t.Fatal(err)
	}
	obj = repository("creds", map[string]any{"password": "sealed://credentials.password"}, "https://git.example.org/x.git")
	if errs := s.Unseal(obj, "creds", art, ""); len(errs) != 1 {
		t.Fatalf("a cluster-wide SealedSecret is unsealed: %v", errs)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
