package spec

import (
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/spec/spectest"
)

func wantSecret(t *testing.T, r *Resource, line int, field string) {
	t.Helper()
	ps := Secrets(r)
	if len(ps) != 1 {
		t.Fatalf("got %v, want one secret on %s", ps, field)
	}
	p := ps[0]
	if p.File != "f.yaml" || p.Line != line || p.Field != field || !strings.Contains(p.Message, "seal it with a SecretSealer and reference it as sealed://") {
		t.Errorf("got %v, want f.yaml:%d: %s: … SecretSealer …", p, line, field)
	}
}

const gitRepo = `apiVersion: integrations.k8smgmt.io/v3
kind: Repository
metadata:
  name: r
  project: p
spec:
  credentials:
    password: PASSWORD
    username: bot
  endpoint: https://github.com/acme/r.git
  secret:
    name: file://artifacts/r/sealed-secret.yaml
  type: Git
`

func TestSecretsClearTextPassword(t *testing.T) {
	wantSecret(t, parseOne(t, strings.Replace(gitRepo, "PASSWORD", "hunter2", 1)), 8, "spec.credentials.password")
}

func TestSecretsSealedAndFileRefsAllowed(t *testing.T) {
	for _, v := range []string{"sealed://credentials.password", "file://artifacts/r/password.txt", `""`} {
		if ps := Secrets(parseOne(t, strings.Replace(gitRepo, "PASSWORD", v, 1))); len(ps) != 0 {
			t.Errorf("%s flagged: %v", v, ps)
		}
	}
}

func TestSecretsKeyNames(t *testing.T) {
	flagged := []string{"token", "accessToken", "github_token", "secret", "clientSecret", "webhookSecret", "privateKey",
		"sshPrivateKey", "accessKey", "secretKey", "awsSecretAccessKey", "apiKey", "api-key", "passwd", "adminPassword", "PASSWORD"}
	for _, k := range flagged {
		r := parseOne(t, "spec:\n  auth:\n    "+k+": s3cr3t\n")
		ps := Secrets(r)
		if len(ps) != 1 || ps[0].Line != 3 || ps[0].Field != "spec.auth."+k {
			t.Errorf("%s: got %v", k, ps)
		}
	}
	notFlagged := []string{"syncSecrets", "enableSecretRotation", "secretName", "tokenTTL", "passwordPolicy", "username", "keyId"}
	for _, k := range notFlagged {
		if ps := Secrets(parseOne(t, "spec:\n  "+k+": value\n")); len(ps) != 0 {
			t.Errorf("%s flagged: %v", k, ps)
		}
	}
	// Non-string values under secret-like names are not secrets.
	if ps := Secrets(parseOne(t, "spec:\n  enableCsiSecretStore: true\n  secret:\n    name: x\n  token: 12\n")); len(ps) != 0 {
		t.Errorf("flagged: %v", ps)
	}
}

func TestSecretsPEMKey(t *testing.T) {
	data := `apiVersion: integrations.k8smgmt.io/v3
kind: Repository
metadata:
  name: r
  project: p
spec:
  endpoint: git@github.com:acme/r.git
  sshConfig:
    key: |
      -----BEGIN OPENSSH PRIVATE KEY-----
      b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
      -----END OPENSSH PRIVATE KEY-----
  type: Git
`
	wantSecret(t, parseOne(t, data), 9, "spec.sshConfig.key")
	cert := strings.ReplaceAll(data, "OPENSSH PRIVATE KEY", "CERTIFICATE")
	if ps := Secrets(parseOne(t, cert)); len(ps) != 0 {
		t.Errorf("a certificate flagged: %v", ps)
	}
	inList := "spec:\n  keys:\n  - \"-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----\\n\"\n"
	wantSecret(t, parseOne(t, inList), 3, "spec.keys[0]")
}

func TestSecretsSecretTypedVariable(t *testing.T) {
	data := `apiVersion: gitops.k8smgmt.io/v3
kind: InfraProvisioner
metadata:
  name: tf
  project: p
spec:
  config:
    inputVars:
    - key: region
      type: Text
      value: us-west-2
    - key: db_pass
      type: Secret
      value: hunter2
    - key: api
      valueType: Secure
      value: sealed://api
    envVars:
    - key: TF_TOKEN
      options:
        sensitive: true
      value: abc
  type: Terraform
`
	r := parseOne(t, data)
	ps := Secrets(r)
	if len(ps) != 2 {
		t.Fatalf("got %v, want the Secret-typed and the sensitive value", ps)
	}
	if ps[0].Line != 14 || ps[0].Field != "spec.config.inputVars[1].value" || ps[1].Line != 22 || ps[1].Field != "spec.config.envVars[0].value" {
		t.Errorf("got %v", ps)
	}
	for _, p := range ps {
		if !strings.Contains(p.Message, "SecretSealer") {
			t.Errorf("message %q does not point at the SecretSealer", p.Message)
		}
	}
	if vp := Validate(r, Context{Kind: "InfraProvisioner"}); len(vp) != 0 {
		t.Errorf("Validate: %v", vp)
	}
}

// secretKeyNameAsWritten is the rule of isSecretKeyName as its comment
// reads: lower-cased, without '-', '_' and '.', ending in a secret word.
func secretKeyNameAsWritten(k string) bool {
	n := strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == '_' || r == '.':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, k)
	for _, suf := range secretKeySuffixes {
		if strings.HasSuffix(n, suf) {
			return true
		}
	}
	return false
}

func TestSecretKeyNameFollowsTheRule(t *testing.T) {
	for _, k := range []string{"", "password", "PASSWORD", "db-Pass.Word", "passwd", "x_token", "Token", "tokens", "secret",
		"webhookSecret", "syncSecrets", "enableSecretRotation", "sshPrivateKey", "private_key", "privateKeyPath",
		"AccessKey", "aws.secret.key", "secretKey", "apiKey", "api-key", "clientSecret", "client__secret", "CLIENT-SECRET",
		"pässword", "passwörd", "\xffpassword", "password\xff", "tokén", "a---token---", "_.-", "key", "monkey", "secretkeyx",
		"ClientSecretClientSecret", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxclient-secret"} {
		if got, want := isSecretKeyName(k), secretKeyNameAsWritten(k); got != want {
			t.Errorf("isSecretKeyName(%q) = %v, the rule says %v", k, got, want)
		}
	}
}

// TestHoldsSecretAgreesWithTheScan: the quick check finds a secret exactly
// when the full scan reports one, over the real and generated files.
func TestHoldsSecretAgreesWithTheScan(t *testing.T) {
	objs := []map[string]any{
		{"spec": map[string]any{"password": "x"}},
		{"spec": map[string]any{"password": "sealed://x"}},
		{"spec": map[string]any{"password": ""}},
		{"spec": []any{"-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"}},
		{"spec": map[string]any{"vars": []any{map[string]any{"type": "Secret", "value": "v"}}}},
		{"spec": map[string]any{"vars": []any{map[string]any{"valueType": "secure", "value": "file://v"}}}},
		{"spec": map[string]any{"v": map[string]any{"options": map[string]any{"sensitive": true}, "value": "v"}}},
		{"spec": map[string]any{"v": map[string]any{"sensitive": false, "value": "v"}}},
	}
	for _, f := range spectest.Generate(500, 3) {
		rs, _ := Parse(f.Path, f.Data)
		for _, r := range rs {
			objs = append(objs, r.Object)
		}
	}
	objs = append(objs, realObjects(t)...)
	found := 0
	for i, o := range objs {
		full := secretScan{r: &Resource{Object: o}}
		full.walk(o, "")
		if got, want := holdsSecret(o), len(full.probs) > 0; got != want {
			t.Errorf("object %d: holdsSecret = %v, the scan found %d", i, got, len(full.probs))
		}
		if len(full.probs) > 0 {
			found++
		}
	}
	if found < 5 {
		t.Fatalf("only %d objects hold secrets: the test checks too little", found)
	}
}
