package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
)

// TestSealedSecretsRoundTrip, in local mode over real HTTP and Git: a
// SecretSealer made through the API shows its certificate (never its
// private key); a Repository with a clear password, a token in its URL and
// an SSH key goes to Git sealed, each field a sealed:// reference and its
// value in the artifact; a change from Git comes back with the clear
// values; a value sealed with the certificate (as kubeseal --cert does)
// reaches the system; a reference that cannot be unsealed is that file's
// invalid row naming the field; the artifact is not rewritten when no
// value changed; and no commit, object, run row or log line holds a clear
// value.
func TestSealedSecretsRoundTrip(t *testing.T) {
	a := startLocal(t)
	const sealers = "/apis/integrations.k8smgmt.io/v3/projects/default/secretsealers"
	code, body := a.send(t, "POST", sealers, "application/yaml",
		[]byte("apiVersion: integrations.k8smgmt.io/v3\nkind: SecretSealer\nmetadata:\n  name: sealer\n  project: default\nspec:\n  type: KubeSeal\n  version: v-1\n"))
	if code != 201 {
		t.Fatalf("create the sealer: %d %s", code, body)
	}
	var sealer struct {
		Status struct{ Certificate, Fingerprint string } `json:"status"`
	}
	json.Unmarshal([]byte(body), &sealer)
	block, _ := pem.Decode([]byte(sealer.Status.Certificate))
	if block == nil || sealer.Status.Fingerprint == "" {
		t.Fatalf("the sealer's status shows no certificate: %s", body)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{sealers, sealers + "/sealer"} {
		if _, body := a.send(t, "GET", path, "", nil); strings.Contains(body, "PRIVATE") || !strings.Contains(body, "BEGIN CERTIFICATE") {
			t.Errorf("GET %s: %.300s", path, body)
		}
	}

	p := newPlanted("sealed")
	kubesealed := "Pw-kubesealed-" + p.awsSecret[:10]
	repo := func(username string) map[string]any {
		return map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
			"metadata": map[string]any{"name": "creds", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": "https://x-access-token:" + p.ghp + "@github.com/acme/x.git",
				"credentials": map[string]any{"username": username, "password": p.password, "sshPrivateKey": p.pem()}}}
	}
	a.apply(t, repo("bob"))
	const file, artifact = "projects/default/repositories/creds.yaml", "projects/default/repositories/artifacts/creds/sealed-secret.yaml"
	show := func(path string) string { return gitOut(a.demo, "show", "main:"+path) }
	a.eventually(t, "creds.yaml and its artifact in Git", func() bool {
		return strings.Contains(show(file), "sealed://") && show(artifact) != ""
	})
	for _, want := range []string{"endpoint: sealed://endpoint", "password: sealed://credentials.password",
		"sshPrivateKey: sealed://credentials.sshPrivateKey", "username: bob"} {
		if !strings.Contains(show(file), want) {
			t.Errorf("%s lacks %q:\n%s", file, want, show(file))
		}
	}
	art, err := sealing.ParseArtifact([]byte(show(artifact)))
	if err != nil || art.Name != "creds" || art.Namespace != "default" || len(art.Data) != 3 {
		t.Fatalf("the artifact: %v %+v\n%s", err, art, show(artifact))
	}

	system := func() map[string]any {
		_, body := a.send(t, "GET", "/apis/integrations.k8smgmt.io/v3/projects/default/repositories/creds", "", nil)
		var obj map[string]any
		json.Unmarshal([]byte(body), &obj)
		return obj
	}
	field := func(obj map[string]any, path string) any {
		v, _ := spec.FieldAt(obj, path)
		return v
	}
	// From Git: the file changes, the system keeps the clear values.
	git(t, a.work, "pull", "-q", "origin", "main")
	a.push(t, "alice", map[string]string{file: strings.Replace(show(file), "username: bob", "username: alice", 1)})
	a.eventually(t, "username alice in the system", func() bool { return field(system(), "spec.credentials.username") == "alice" })
	if got := system(); !spec.Equal(spec.Canonical(got), spec.Canonical(repo("alice"))) {
		t.Fatalf("after the change from Git the system holds %v", got)
	}

	// A password sealed as kubeseal --cert seals it, from the sealer's certificate.
	ct, err := sealing.Encrypt(rand.Reader, cert.PublicKey.(*rsa.PublicKey), []byte(kubesealed), sealing.Label("default", "creds", sealing.ScopeStrict))
	if err != nil {
		t.Fatal(err)
	}
	art.Data["credentials.password"] = base64.StdEncoding.EncodeToString(ct)
	a.push(t, "a password sealed with the certificate", map[string]string{artifact: string(art.Render())})
	a.eventually(t, "the kubesealed password in the system", func() bool { return field(system(), "spec.credentials.password") == kubesealed })

	// A reference with no artifact: that file's invalid row, naming the field.
	broken := strings.NewReplacer("name: creds", "name: broken", "username: alice", "username: eve").Replace(show(file))
	a.push(t, "a reference without its artifact", map[string]string{"projects/default/repositories/broken.yaml": broken})
	a.eventually(t, "broken.yaml's invalid row", func() bool {
		rows, _ := a.rows(t, "system-sync")
		for _, r := range rows {
			if r.Name == "broken" && r.Action == "invalid" && strings.Contains(r.Message, "spec.credentials.password") &&
				strings.Contains(r.Message, "cannot be unsealed") && strings.Contains(r.Message, "artifacts/broken/sealed-secret.yaml is missing") {
				return true
			}
		}
		return false
	})
	if code, _ := a.send(t, "GET", "/apis/integrations.k8smgmt.io/v3/projects/default/repositories/broken", "", nil); code != 404 {
		t.Errorf("the unsealable broken was applied: %d", code)
	}

	// A change of another field through the API: the spec file alone.
	artBlob := gitOut(a.demo, "rev-parse", "main:"+artifact)
	a.apply(t, func() map[string]any {
		r := repo("frank")
		spec.SetField(r, "spec.credentials.password", kubesealed)
		return r
	}())
	a.eventually(t, "username frank in Git", func() bool { return strings.Contains(show(file), "username: frank") })
	if got := gitOut(a.demo, "rev-parse", "main:"+artifact); got != artBlob {
		t.Errorf("the artifact was rewritten though no value changed:\n%s", gitOut(a.demo, "log", "-3", "--stat", "main"))
	}
	if out, err := exec.Command("git", "-C", a.demo, "fsck", "--strict", "--no-dangling").CombinedOutput(); err != nil {
		t.Fatalf("git fsck: %v %s", err, out)
	}

	values := append(p.values(), kubesealed)
	scanRepo(t, a.demo, values, nil)
	rows, _ := a.rows(t, "system-sync")
	shown, _ := json.Marshal(rows)
	for _, v := range values {
		if strings.Contains(string(shown), v) {
			t.Errorf("a run row holds the planted %.12s…", v)
		}
	}
	logs := a.stdout.String() + a.stderr.String()
	for _, v := range values {
		if strings.Contains(logs, v) {
			t.Errorf("the server's log holds the planted %.12s…", v)
		}
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Error("the server's log holds a private key")
	}
}
