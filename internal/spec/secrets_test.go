package spec

import (
	"fmt"
	"os"
	"path/filepath"
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
	for _, whole := range secretKeyNames {
		if n == whole {
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
		"ClientSecretClientSecret", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxclient-secret", "passphrase", "sshPassphrase", "pwd", "DB_PWD",
		"credential", "Credentials", "CREDENTIALS", "cloud_credentials", "cloudCredentials", "credentialType", "credentials.x",
		"credentialscredentials", "c-r-e-d-e-n-t-i-a-l-s", "xcredentials", "credential-s"} {
		if got, want := isSecretKeyName(k), secretKeyNameAsWritten(k); got != want {
			t.Errorf("isSecretKeyName(%q) = %v, the rule says %v", k, got, want)
		}
	}
}

// TestHoldsSecretAgreesWithTheScan: the quick walk finds a secret exactly
// when the full one reports one, over the real and generated files.
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
		{"spec": map[string]any{"endpoint": "https://bob:" + testPassword + "@git.example.org/x.git"}},
		{"spec": map[string]any{"endpoint": "https://bob@git.example.org/x.git"}},
		{"spec": []any{map[string]any{"a": []any{"x", testGHP}}}},
		{"metadata": map[string]any{"labels": map[string]any{testGHS: "1"}}},
		{"spec": map[string]any{"k": testAWSID, "s": testAWSSecret}},
		{"spec": map[string]any{"name": "AWS_SECRET_ACCESS_KEY", "value": testAWSSecret}},
		{"spec": map[string]any{"name": "AWS_REGION", "value": testAWSSecret}},
		{"spec": map[string]any{"env": []any{map[string]any{"name": "DB_PASSWORD", "value": "v"}}}},
		{"spec": map[string]any{"env": []any{map[string]any{"name": "DB_PASSWORD", "value": "${V}"}}}},
		{"spec": map[string]any{"values": "db:\n  password: v\n"}},
		{"spec": map[string]any{"values": "db:\n  password: ''\n"}},
		{"spec": map[string]any{"headers": map[string]any{"Authorization": "Basic ZGVwbG95Omh1bnRlcjI="}}},
		{"spec": map[string]any{"endpoint": "https://glpat-AbCdEfGhIjKlMnOpQrSt@gitlab.example.com/x.git"}},
		{"spec": map[string]any{"passphrase": "v", "cloudCredentials": "c"}},
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
		quick, full := secretScan{}, secretScan{all: true}
		full.walk(o, nil)
		if got, want := quick.walk(o, nil), len(full.found) > 0; got != want {
			t.Errorf("object %d: the quick walk says %v, the full one found %d", i, got, len(full.found))
		}
		if len(full.found) > 0 {
			found++
		}
	}
	if found < 5 {
		t.Fatalf("only %d objects hold secrets: the test checks too little", found)
	}
}

// Planted secrets: made up, of the forms the scanners look for.
const (
	testPassword  = "Tr0ub4dor-and-3"
	testGHP       = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
	testGHS       = "ghs_" + "z9Y8x7W6v5U4t3S2r1Q0p9O8n7M6l5K4j3I2"
	testPAT       = "github_pat_" + "11ABCDEFG0abcdefghijkl_" + "mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghi"
	testAWSID     = "AKIA" + "Q3EGRLT7FXY2NB4K"
	testAWSSecret = "Wq8r/2Lx+Yt5Zp1Km7Nc3Vb6Hj9Gf4Ds0Ae" + "XPlmo"
)

// TestSecretsWhereverTheyHide plants each kind of secret found by its form
// in keys, values, list items, nested and inside multi-line strings, and
// expects each problem at its field and line, naming what it found and
// never repeating the secret.
func TestSecretsWhereverTheyHide(t *testing.T) {
	data := `apiVersion: integrations.k8smgmt.io/v3
kind: Repository
metadata:
  name: r
  project: p
  labels:
    ` + testGHS + `: "true"
spec:
  endpoint: https://bob:` + testPassword + `@git.example.org/x.git
  mirrors:
  - https://git.example.org/x.git
  - notes: see https://alice:` + testPassword + `@mirror.example.org/x.git
  helm:
    values: |
      image:
        pullSecret: none
      git:
        token: ` + testGHP + `
      aws: |
        [default]
        aws_access_key_id = ` + testAWSID + `
  pat: "` + testPAT + `"
  creds:
    id: ` + testAWSID + `
    key: ` + testAWSSecret + `
  envVars:
  - name: AWS_SECRET_ACCESS_KEY
    value: ` + testAWSSecret + `
  type: Git
`
	ps := Secrets(parseOne(t, data))
	want := []struct {
		line  int
		field string
		what  string
	}{
		{7, "metadata.labels.ghs_…", "GitHub token (ghs_…) in a key"},
		{9, "spec.endpoint", "password in a URL (https://bob:…@git.example.org)"},
		{12, "spec.mirrors[1].notes", "password in a URL (https://alice:…@mirror.example.org)"},
		{14, "spec.helm.values", "GitHub token (ghp_…) and AWS access key (AKIA…)"},
		{22, "spec.pat", "GitHub token (github_pat_…)"},
		{24, "spec.creds.id", "AWS access key (AKIA…)"},
		{25, "spec.creds.key", "AWS secret access key"},
		{28, "spec.envVars[0].value", "AWS secret access key"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i, w := range want {
		p := ps[i]
		if p.Line != w.line || p.Field != w.field || !strings.Contains(p.Message, "clear-text "+w.what) || !strings.Contains(p.Message, "SecretSealer") {
			t.Errorf("problem %d = %v, want line %d %s: clear-text %s … SecretSealer", i, p, w.line, w.field, w.what)
		}
		for _, secret := range []string{testPassword, testGHP, testGHS, testPAT, testAWSID, testAWSSecret} {
			if strings.Contains(p.Message+p.Field, secret) || strings.Contains(p.Message+p.Field, secret[4:]) {
				t.Errorf("problem %d repeats the secret: %s", i, p.Message)
			}
		}
	}
}

// SecretFields finds what Secrets finds, with paths that FieldAt and
// SetField read and write, and says which secrets are keys.
func TestSecretFieldsAreAddressable(t *testing.T) {
	obj := map[string]any{"kind": "Repository", "metadata": map[string]any{"name": "r",
		"labels": map[string]any{testGHS: "true"}},
		"spec": map[string]any{"endpoint": "https://bob:" + testPassword + "@git.example.org/x.git",
			"mirrors": []any{"https://git.example.org/x.git", map[string]any{"notes": "token " + testGHP}},
			"a.b":     map[string]any{"password": "plain-" + testPassword}}}
	fields := SecretFields(obj)
	var got []string
	for _, f := range fields {
		got = append(got, fmt.Sprintf("%s %s %v", f.Path, f.Shown, f.InKey))
		if f.InKey {
			continue
		}
		v, ok := FieldAt(obj, f.Path)
		if s, _ := v.(string); !ok || SecretFields(map[string]any{"x": map[string]any{"password": s}}) == nil {
			t.Errorf("FieldAt(%s) = %v, %v", f.Path, v, ok)
		}
		if !SetField(obj, f.Path, "sealed://x") {
			t.Errorf("SetField(%s) failed", f.Path)
		}
	}
	want := []string{
		"metadata.labels." + testGHS + " metadata.labels.ghs_… true",
		"spec.endpoint spec.endpoint false",
		"spec.mirrors[1].notes spec.mirrors[1].notes false",
		`spec["a.b"].password spec["a.b"].password false`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("SecretFields:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(SecretFields(obj)); n != 1 {
		t.Errorf("after SetField, %d secrets are left, want the key's alone", n)
	}
	if SetField(obj, "spec.nothing", "x") || SetField(obj, "spec.mirrors[5]", "x") || SetField(obj, "spec.endpoint.x", "x") {
		t.Error("SetField made a field")
	}
	if _, ok := FieldAt(obj, "spec.mirrors[0]"); !ok {
		t.Error("FieldAt of a list item")
	}
}

// TestSecretsLookalikesAreNotSecrets: references, placeholders, users
// without passwords and strings that only resemble a secret's form.
func TestSecretsLookalikesAreNotSecrets(t *testing.T) {
	for _, v := range []string{
		"https://bob@git.example.org/x.git", "ssh://git@github.com/acme/x.git", "git@github.com:acme/x.git",
		"https://git.example.org:8443/x.git", "https://bob:@git.example.org/x.git",
		"https://bob:${GIT_PASSWORD}@git.example.org/x.git", "https://x-access-token:$TOKEN@github.com/a/b.git",
		"https://u:$(cat /run/secret)@h/x", "https://u:{{ .Values.token }}@h/x", "https://u:****@h/x", "https://u:%s@h/x",
		"sealed://credentials.password", "file://artifacts/x/sealed-secret.yaml", "postgres://postgres@127.0.0.1:5432/db",
		"ghp_short", "ghp_" + strings.Repeat("a", 35), "xghp_" + strings.Repeat("a", 36), "my_github_pat_is_elsewhere",
		"AKIA" + "SHORT", "AKIA" + strings.Repeat("X", 17), "XAKIA" + strings.Repeat("X", 16), "arn:aws:iam::123456789012:role/x",
		"mailto:bob@example.org", "contact: bob@example.org, https://example.org/x",
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
	} {
		obj := map[string]any{"spec": map[string]any{"endpoint": v, "list": []any{v}, "m": map[string]any{v: ""}}}
		if ps := Secrets(&Resource{Object: obj}); len(ps) != 0 {
			t.Errorf("%q flagged: %v", v, ps)
		}
	}
	// 40 characters of base64 are only a secret next to an AWS key.
	if ps := Secrets(&Resource{Object: map[string]any{"spec": map[string]any{"digest": testAWSSecret, "id": "AKIA"}}}); len(ps) != 0 {
		t.Errorf("a lone 40-character value flagged: %v", ps)
	}
}

// TestSecretsNoneInTheRealSyncRepositories: the real System Sync
// repositories' files hold sealed references, never clear text (see
// SOURCES.txt): none is flagged.
func TestSecretsNoneInTheRealSyncRepositories(t *testing.T) {
	for _, rel := range realFiles(t) {
		data, err := os.ReadFile(filepath.Join(testdataRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := Parse(rel, data)
		for _, r := range rs {
			if ps := Secrets(r); len(ps) > 0 && strings.Contains(rel, "syncrepo-") {
				t.Errorf("%s flagged: %v", rel, ps)
			}
		}
	}
}

// TestSecretsCommonFormsTheReviewFound: the forms the security review
// found exported to Git in clear, each reported at its field and line,
// naming what it is without repeating it.
func TestSecretsCommonFormsTheReviewFound(t *testing.T) {
	const pw = "hunter2hunter2"
	cases := []struct {
		name, yaml   string
		line         int
		field, found string
	}{
		{"a password in an Override's values text", "apiVersion: apps.k8smgmt.io/v3\nkind: Override\nmetadata:\n  name: o\n  project: default\nspec:\n" +
			"  type: ClusterOverrideTypeHelm\n  overrideValues: |\n    db:\n      host: db.example.org\n      password: " + pw + " # dev\n",
			8, "spec.overrideValues", `value of "password" on line 3 of the text`},
		{"an environment file in a text", "kind: Workload\nspec:\n  script: |\n    export DB_HOST=db\n    export DB_PASSWORD='" + pw + "'\n",
			3, "spec.script", `value of "DB_PASSWORD" on line 2 of the text`},
		{"JSON in a text", "kind: Workload\nspec:\n  config: |\n    {\n      \"apiToken\": \"" + pw + "\",\n      \"x\": 1\n    }\n",
			3, "spec.config", `value of "apiToken" on line 2 of the text`},
		{"a Kubernetes env entry", "apiVersion: apps.k8smgmt.io/v3\nkind: Workload\nmetadata:\n  name: w\n  project: default\nspec:\n  env:\n  - name: DB_PASSWORD\n    value: " + pw + "\n",
			9, "spec.env[0].value", "value of an entry named like a secret"},
		{"a passphrase", "kind: Namespace\nspec:\n  passphrase: " + pw + "\n", 3, "spec.passphrase", "clear-text secret"},
		{"a pwd", "kind: Namespace\nspec:\n  dbPwd: " + pw + "\n", 3, "spec.dbPwd", "clear-text secret"},
		{"credentials", "kind: Namespace\nspec:\n  credentials: " + pw + "\n", 3, "spec.credentials", "clear-text secret"},
		{"a token as the user of a URL", "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n  name: r\n  project: default\nspec:\n" +
			"  endpoint: https://glpat-AbCdEfGhIjKlMnOpQrSt@gitlab.example.com/x.git\n", 7, "spec.endpoint", "token as the user of a URL (https://…@gitlab.example.com)"},
		{"a long user-only user info", "kind: Repository\nspec:\n  endpoint: https://a1B2c3D4e5F6g7H8i9J0k1L2@git.example.org/x.git\n",
			3, "spec.endpoint", "token as the user of a URL"},
		{"a Basic Authorization header", "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: n\n  project: default\nspec:\n" +
			"  headers:\n    Authorization: Basic ZGVwbG95Omh1bnRlcjI=\n", 8, "spec.headers.Authorization", "HTTP Authorization credential (Basic …)"},
		{"a Bearer header as a name and value", "kind: Namespace\nspec:\n  headers:\n  - name: Authorization\n    value: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc\n",
			5, "spec.headers[0].value", "HTTP Authorization credential (Bearer …)"},
		{"an Authorization line in a text", "kind: Namespace\nspec:\n  curl: |\n    -H 'x: y'\n    Authorization: Bearer abcdefgh12345678\n",
			3, "spec.curl", "HTTP Authorization credential (Bearer …) on line 2 of the text"},
	}
	for _, c := range cases {
		rs, probs := Parse("f.yaml", []byte(c.yaml))
		if len(probs) > 0 || len(rs) != 1 {
			t.Fatalf("%s: parse: %v", c.name, probs)
		}
		ps := Secrets(rs[0])
		if len(ps) != 1 {
			t.Errorf("%s: %d problems %v, want one (exported to Git in clear)", c.name, len(ps), ps)
			continue
		}
		p := ps[0]
		if p.Line != c.line || p.Field != c.field || !strings.Contains(p.Message, c.found) || !strings.Contains(p.Message, "SecretSealer") {
			t.Errorf("%s: %v, want line %d %s: … %s … SecretSealer", c.name, p, c.line, c.field, c.found)
		}
		for _, secret := range []string{pw, "AbCdEfGhIjKlMnOpQrSt", "ZGVwbG95Omh1bnRlcjI=", "eyJhbGciOiJIUzI1NiJ9", "abcdefgh12345678", "a1B2c3D4e5F6"} {
			if strings.Contains(p.Message+p.Field, secret) {
				t.Errorf("%s: the problem repeats the secret: %v", c.name, p)
			}
		}
	}
}

// TestSecretsNewFormsLookalikes: what the new forms must leave alone:
// placeholders, references, names of secrets rather than secrets, empty
// and nested values, prose, short user names.
func TestSecretsNewFormsLookalikes(t *testing.T) {
	texts := []string{
		"image:\n  pullSecret: none\ndb:\n  password: \"\"\n  existingSecret:\n  token: ${TOKEN}\n  apiKey: '{{ .Values.key }}'\n  secret: |\n    nested\n",
		"password: <Password>\npasswordFile: /etc/pw\nsecretName: db-creds\nenabled: true\ncreateSecret: false\ntoken: null\n",
		"Use a strong password: it is checked.\nThe token=is explained below\nDB_PASSWORD=\nexport API_TOKEN=$API_TOKEN\n",
		"{\n  \"password\": \"\",\n  \"tokenUrl\": \"https://example.org/token\"\n}\n",
		"Authorization: Bearer ${TOKEN}\nauthorization: Basic ***\nBearer tokens are described here.\n",
	}
	for _, text := range texts {
		obj := map[string]any{"spec": map[string]any{"values": text}}
		if ps := Secrets(&Resource{Object: obj}); len(ps) != 0 {
			t.Errorf("text flagged: %v\n%s", ps, text)
		}
	}
	values := []string{"https://git@github.com/a/b.git", "https://deploy-bot@git.example.org/x.git", "https://${GITLAB_TOKEN}@gitlab.example.com/x.git",
		"https://my-service-account-name@git.example.org/x.git", "Bearer ${TOKEN}", "Basic ***", "Bearer tokens are described here",
		"aws-cloud-credential", "Webhook"}
	for _, v := range values {
		obj := map[string]any{"spec": map[string]any{"endpoint": v, "authorization": v, "cloudCredentials": v, "credentialType": v}}
		if ps := Secrets(&Resource{Object: obj}); len(ps) != 0 {
			t.Errorf("%q flagged: %v", v, ps)
		}
	}
	for _, entry := range []map[string]any{
		{"name": "DB_PASSWORD", "value": ""}, {"name": "DB_PASSWORD", "value": "${DB_PASSWORD}"}, {"name": "DB_PASSWORD", "value": "sealed://db.password"},
		{"name": "DB_HOST", "value": "db.example.org"}, {"name": "cloudCredentials", "value": "aws-cloud-credential"},
	} {
		obj := map[string]any{"spec": map[string]any{"env": []any{entry}}}
		if ps := Secrets(&Resource{Object: obj}); len(ps) != 0 {
			t.Errorf("env entry %v flagged: %v", entry, ps)
		}
	}
	// A SealedSecret's entries are ciphertext whatever they are named.
	sealed := map[string]any{"kind": "SealedSecret", "spec": map[string]any{"env": []any{map[string]any{"name": "DB_PASSWORD", "value": "AgBy3i4OJSWK"}}}}
	if ps := Secrets(&Resource{Object: sealed}); len(ps) != 0 {
		t.Errorf("a SealedSecret's entry flagged: %v", ps)
	}
}

// TestSecretsFindNothingWithoutAllocating: the quick walk of a resource
// without a secret, the common case on every load, allocates nothing.
func TestSecretsFindNothingWithoutAllocating(t *testing.T) {
	objs := realObjects(t)
	objs = append(objs, map[string]any{"spec": map[string]any{"overrideValues": "image:\n  tag: v1\ndb:\n  host: db\n  password: ''\n",
		"env": []any{map[string]any{"name": "DB_HOST", "value": "db"}}, "endpoint": "https://git@github.com/a/b.git"}})
	for i, o := range objs {
		r := &Resource{Object: o}
		if len(Secrets(r)) > 0 {
			continue
		}
		if n := testing.AllocsPerRun(20, func() { Secrets(r) }); n != 0 {
			t.Errorf("object %d: Secrets allocates %.0f times finding nothing", i, n)
		}
	}
}
