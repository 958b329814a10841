package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// sealHint is how every secret problem tells the user what to do instead.
const sealHint = "seal it with a SecretSealer and reference it as sealed://…"

// Secrets reports the clear-text secrets a file in Git must not hold,
// wherever they are in the spec (mapping keys, values, list items, at any
// depth, inside multi-line strings such as Helm values):
//
//   - a value under a key named like a secret: password, passwd, pwd,
//     passphrase, token, secret, privateKey, accessKey, secretKey, apiKey,
//     clientSecret (case and '-', '_', '.' ignored, the name ending in one
//     of them, so sshPrivateKey and webhookSecret count but syncSecrets and
//     enableSecretRotation do not), or credential or credentials as the
//     whole key (cloudCredentials names a credential object), when it is a
//     non-empty string, not a `sealed://` or `file://` reference nor a
//     placeholder (${X}, $X, $(X), {{ .x }}, ***, <password>);
//   - the value of a mapping typed secret: type or valueType `Secret` or
//     `Secure`, or `sensitive: true` (or options.sensitive), with a
//     non-empty value that is not such a reference; and the value of an
//     entry whose name is named like a secret, as Kubernetes writes an
//     environment variable ({name: DB_PASSWORD, value: …}), but for a
//     placeholder;
//   - in a multi-line string (Helm values, an environment file, a script,
//     JSON), a line setting a key named like a secret, `password: v`,
//     `"token": "v"`, `DB_PASSWORD=v`, `export API_TOKEN=v`, unless the
//     value is empty, a placeholder, a reference, a boolean or null, or
//     opens a nested block; and a line `Authorization: Basic …`;
//   - a string that is an HTTP Authorization credential: `Basic`, `Bearer`
//     or `Token` and 8 or more characters of a token;
//   - in any string: a URL whose user info holds a password
//     (https://bob:…@host; a user without a password, or a placeholder such
//     as ${TOKEN}, $TOKEN, $(TOKEN), {{ .Token }} or ***, is fine), or is a
//     token alone (https://glpat-…@host: a known token prefix, or 20 or more
//     letters, digits, '-' and '_' with both letters and digits); a GitHub
//     token (ghp_, gho_, ghu_, ghs_, ghr_ and 36 or more letters and digits,
//     github_pat_ and 82 or more); an AWS access key ID (AKIA or ASIA and 16
//     capitals or digits), and a secret access key next to it (40 characters
//     of base64 in the same string or mapping, or after
//     aws_secret_access_key in a text); a PEM private key block.
//
// A SealedSecret's values are ciphertext: only what the form of a value
// gives away counts in one, not the names of its keys.
//
// Each problem's message names what was found without repeating it (nor
// does its field, when the secret is a key: its first letters stand for it) and
// points at the Secret Sealer (e.g. "clear-text GitHub token (ghp_…): seal
// it with a SecretSealer and reference it as sealed://…"). Problems are
// ordered by line. Most resources hold no secret, which is found without
// building a field path.
func Secrets(r *Resource) []Problem {
	found := secretsOf(r.Object)
	if len(found) == 0 {
		return nil
	}
	probs := make([]Problem, 0, len(found))
	for _, f := range found {
		probs = append(probs, Problem{File: r.File, Line: r.LineOf(f.field), Field: f.shown, Message: f.msg + ": " + sealHint})
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

// SecretField is one clear-text secret of an object, as Secrets finds it.
type SecretField struct {
	// Path is the field that holds the secret, as FieldAt reads it
	// ("spec.credentials.password", "spec.values[0]"); for a secret in a
	// mapping key, the path of that key's entry.
	Path string
	// Shown is Path as a problem shows it: for a secret in a key, with the
	// key cut to its first letters.
	Shown string
	// InKey: the secret is the mapping key itself, not the value at Path,
	// so it cannot be replaced by a reference.
	InKey bool
	// Message names what was found without repeating it ("clear-text
	// password in a URL (https://bob:…@host)").
	Message string
}

// SecretFields returns the clear-text secrets Secrets reports for obj,
// ordered by path: each is a whole string value a reference
// (`sealed://…`) can stand for, unless InKey. Most objects hold none,
// which costs no path.
func SecretFields(obj map[string]any) []SecretField {
	found := secretsOf(obj)
	if len(found) == 0 {
		return nil
	}
	out := make([]SecretField, 0, len(found))
	for _, f := range found {
		sf := SecretField{Path: f.field, Shown: f.shown, InKey: f.inKey, Message: f.msg}
		if !slices.ContainsFunc(out, func(o SecretField) bool { return o.Path == sf.Path && o.InKey == sf.InKey }) {
			out = append(out, sf) // one field, however many ways it holds a secret
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// secretsOf finds the secrets of obj, with their paths: none at the cost
// of a walk that builds no path.
func secretsOf(obj map[string]any) []secretFound {
	sealed := obj["kind"] == "SealedSecret"
	quick := secretScan{sealed: sealed}
	if !quick.walk(obj, nil) {
		return nil
	}
	full := secretScan{all: true, sealed: sealed}
	full.walk(obj, nil)
	return full.found
}

// secretScan walks an object for secrets: to the first one (all false),
// or to every one, with its field path.
type secretScan struct {
	all    bool
	sealed bool // a SealedSecret: its values are ciphertext, whatever their keys say
	found  []secretFound
}

type secretFound struct {
	field string // the path, to find the line
	shown string // the path as a problem shows it: a key holding a secret is not repeated
	msg   string
	inKey bool // the secret is the key of the entry at field
}

// step is one step of a field path, kept on the stack while walking: the
// path is written out only for a secret found.
type step struct {
	up    *step
	key   string
	index int // -1 for a key
}

func (s *step) String() string {
	if s == nil {
		return ""
	}
	if s.index >= 0 {
		return joinIndex(s.up.String(), s.index)
	}
	return joinKey(s.up.String(), s.key)
}

// add records a secret at field at; it reports whether the walk stops.
func (s *secretScan) add(at *step, msg string) bool {
	if !s.all {
		return true
	}
	p := at.String()
	s.found = append(s.found, secretFound{p, p, msg, false})
	return false
}

// addKey records a secret in the key of field at, shown without it.
func (s *secretScan) addKey(at *step, msg string) bool {
	if !s.all {
		return true
	}
	shown := at.key
	if len(shown) > 4 {
		shown = shown[:4] + "…"
	}
	up := at.up.String()
	s.found = append(s.found, secretFound{joinKey(up, at.key), joinKey(up, shown), msg, true})
	return false
}

// walk scans v, at field path at (nil, unless every secret is wanted);
// it reports whether it found a secret and stopped (never, when all is set).
func (s *secretScan) walk(v any, at *step) bool {
	switch x := v.(type) {
	case map[string]any:
		if val, ok := x["value"].(string); ok && val != "" && !isSecretRef(val) && isSecretTyped(x) {
			if s.add(s.key(at, "value"), "clear-text secret: a Secret-typed value must not be stored in Git") {
				return true
			}
		}
		if !s.all {
			for k, e := range x {
				if s.entry(x, k, e, nil) {
					return true
				}
			}
			return false
		}
		var buf [16]string
		for _, k := range sortedMapKeys(buf[:0], x) {
			s.entry(x, k, x[k], at)
		}
	case []any:
		for i, e := range x {
			var ip *step
			if s.all {
				ip = &step{up: at, index: i}
			}
			switch e := e.(type) {
			case string:
				if msg := secretIn(e); msg != "" && s.add(ip, msg) {
					return true
				}
			case map[string]any, []any:
				if s.walk(e, ip) {
					return true
				}
			}
		}
	}
	return false
}

// key is the path of key k under at, when paths are kept.
func (s *secretScan) key(at *step, k string) *step {
	if !s.all {
		return nil
	}
	return &step{up: at, key: k, index: -1}
}

// entry scans the entry k: e of mapping m, which is at at.
func (s *secretScan) entry(m map[string]any, k string, e any, at *step) bool {
	kp := s.key(at, k)
	if msg := secretIn(k); msg != "" && s.addKey(kp, msg+" in a key") {
		return true
	}
	switch e := e.(type) {
	case string:
		msg := secretIn(e)
		switch {
		case msg != "":
		case !s.sealed && isSecretKeyName(k) && !isPlaceholderValue(e):
			msg = "clear-text secret"
		case isAWSSecretKey(e) && holdsAWSKeyName(m):
			msg = "clear-text AWS secret access key"
		case k == "value" && !s.sealed && secretNamed(m["name"]) && !isPlaceholderValue(e) && !isSecretTyped(m):
			msg = "clear-text secret: the value of an entry named like a secret (as an environment variable is)"
		}
		return msg != "" && s.add(kp, msg)
	case map[string]any, []any:
		return s.walk(e, kp)
	}
	return false
}

// secretNamed reports whether the name of a {name, value} entry names a
// secret (DB_PASSWORD, API_TOKEN).
func secretNamed(name any) bool {
	n, ok := name.(string)
	return ok && len(n) <= 128 && isSecretKeyName(n)
}

// holdsAWSKeyName reports whether a value of m is an AWS access key ID, or
// names a secret access key (as in {name: AWS_SECRET_ACCESS_KEY, value: …}):
// a 40-character base64 value beside it is then a secret access key.
func holdsAWSKeyName(m map[string]any) bool {
	for _, e := range m {
		if str, ok := e.(string); ok && len(str) >= 15 && len(str) <= 64 {
			if hasAWSKeyID(str) {
				return true
			}
			if endsLike(str, "secretaccesskey") {
				return true
			}
		}
	}
	return false
}

// secretIn names the secrets text s holds ("clear-text GitHub token
// (ghp_…) and AWS access key (AKIA…)"), or returns "".
func secretIn(s string) string {
	if len(s) < 11 { // shorter than the shortest secret found by its form (a://b:c@d.e)
		return ""
	}
	var found []string
	if hasPrivateKeyBlock(s) {
		found = append(found, "private key (PEM block)")
	}
	if prefix := githubToken(s); prefix != "" {
		found = append(found, "GitHub token ("+prefix+"…)")
	}
	if i := awsKeyIDAt(s); i >= 0 {
		found = append(found, "AWS access key ("+s[i:i+4]+"…)")
	} else if hasAWSSecretAssignment(s) {
		found = append(found, "AWS secret access key")
	}
	if u := urlWithPassword(s); u != "" {
		found = append(found, "password in a URL ("+u+")")
	}
	if u := urlWithTokenUser(s); u != "" {
		found = append(found, "token as the user of a URL ("+u+")")
	}
	if scheme := authCredential(strings.TrimSpace(s)); scheme != "" {
		found = append(found, "HTTP Authorization credential ("+scheme+" …)")
	}
	if strings.IndexByte(s, '\n') >= 0 {
		if what := textSecret(s); what != "" {
			found = append(found, what)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return "clear-text " + strings.Join(found, " and ")
}

// textSecret looks at each line of a multi-line text (Helm values, an
// environment file, a script, JSON) for a setting of a key named like a
// secret, `password: v`, `"token": "v",`, `DB_PASSWORD=v`, `export
// API_TOKEN=v`, or of an HTTP Authorization credential, and names the first
// it finds ("value of "password" on line 3 of the text"), or returns "". A
// value that is empty, a placeholder, a reference, a boolean or null, or
// that opens a nested block, is not a secret.
func textSecret(text string) string {
	for n, rest := 1, text; rest != ""; n++ {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		key, val, ok := settingIn(line)
		if !ok {
			continue
		}
		if isSecretKeyName(key) && !isPlaceholderValue(val) {
			return fmt.Sprintf("value of %q on line %d of the text", shortKey(key), n)
		}
		if scheme := authCredential(val); scheme != "" && endsLike(key, "authorization") {
			return fmt.Sprintf("HTTP Authorization credential (%s …) on line %d of the text", scheme, n)
		}
	}
	return ""
}

// settingIn splits a line that sets a key, `key: value` or `KEY=value`
// (the key a word of letters, digits, '_', '-' and '.', quoted or not,
// after list dashes, `export` or `--`), into its key and its value, trimmed
// of blanks, quotes, a trailing comma and a ` #` comment.
func settingIn(line string) (key, val string, ok bool) {
	line = strings.TrimLeft(line, " \t")
	for strings.HasPrefix(line, "- ") {
		line = strings.TrimLeft(line[2:], " \t")
	}
	line = strings.TrimPrefix(line, "export ")
	end := 0
	quote := byte(0)
	if line != "" && (line[0] == '"' || line[0] == '\'') {
		quote, end = line[0], 1
	}
	start := end
	for end < len(line) && (isAlnum(line[end]) || strings.IndexByte("_-.", line[end]) >= 0) {
		end++
	}
	key = line[start:end]
	if key == "" || quote != 0 && (end == len(line) || line[end] != quote) {
		return "", "", false
	}
	if quote != 0 {
		end++
	}
	rest := strings.TrimLeft(line[end:], " \t")
	switch {
	case strings.HasPrefix(rest, ": ") || rest == ":" || quote != 0 && strings.HasPrefix(rest, ":"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "="):
		rest = rest[1:]
	default:
		return "", "", false
	}
	val = strings.TrimSpace(rest)
	if i := strings.Index(val, " #"); i >= 0 {
		val = strings.TrimSpace(val[:i])
	}
	val = strings.TrimSuffix(val, ",")
	if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
		val = val[1 : len(val)-1]
	}
	return key, val, true
}

// isPlaceholderValue reports whether a value set under a secret's name does
// not hold one: empty, a reference (sealed://, file://), a placeholder
// (${X}, $X, {{ .x }}, ***, <your-password>), a boolean, null or none, or the
// start of a nested value (|, >, {, [, &anchor, *alias).
func isPlaceholderValue(v string) bool {
	if v == "" || isSecretRef(v) || isPlaceholder(v) {
		return true
	}
	switch v[0] {
	case '|', '>', '{', '[', '&', '*', '!':
		return true
	case '<':
		return v[len(v)-1] == '>'
	}
	switch strings.ToLower(v) {
	case "~", "null", "none", "nil", "true", "false", "yes", "no", "on", "off", `""`, "''":
		return true
	}
	return strings.Contains(v, "{{") || strings.Contains(v, "${")
}

// shortKey is a key as a message names it: not more than 40 bytes.
func shortKey(k string) string {
	if len(k) > 40 {
		return k[:40] + "…"
	}
	return k
}

// authSchemes are the HTTP authentication schemes whose credential is a
// secret as written.
var authSchemes = []string{"Basic", "Bearer", "Token"}

// authCredential returns the scheme of s when s is an HTTP Authorization
// value, `Basic <base64>`, `Bearer <token>` or `Token <token>` (any case),
// whose credential is 8 or more characters of a token (letters, digits and
// -._~+/=), not a placeholder; "" otherwise.
func authCredential(s string) string {
	for _, scheme := range authSchemes {
		if len(s) < len(scheme)+9 || !strings.EqualFold(s[:len(scheme)], scheme) || s[len(scheme)] != ' ' {
			continue
		}
		cred := strings.TrimLeft(s[len(scheme):], " ")
		if len(cred) < 8 {
			return ""
		}
		for i := 0; i < len(cred); i++ {
			if !isAlnum(cred[i]) && strings.IndexByte("-._~+/=", cred[i]) < 0 {
				return ""
			}
		}
		return scheme
	}
	return ""
}

// tokenPrefixes start the tokens a user name of a URL may be (GitLab's,
// GitHub's, Slack's).
var tokenPrefixes = []string{"glpat-", "gldt-", "glptt-", "glrt-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xoxb-", "xoxp-"}

// urlWithTokenUser returns the first URL in s whose user info is a token
// and nothing more (https://glpat-…@gitlab.example.com, as GitLab and GitHub
// take one), shown without it (https://…@host), or "". A token is one of
// tokenPrefixes, or a user name of 20 or more letters, digits, '-' and '_'
// with both letters and digits; a placeholder is not one.
func urlWithTokenUser(s string) string {
	return firstURLUserinfo(s, func(scheme, userinfo, host string) string {
		if strings.IndexByte(userinfo, ':') >= 0 || !isTokenUser(userinfo) {
			return ""
		}
		return scheme + "…@" + host
	})
}

// firstURLUserinfo finds each URL in s with user info (scheme://userinfo@host)
// and returns what show makes of the first one it makes something of
// (scheme is "https://", say), or "".
func firstURLUserinfo(s string, show func(scheme, userinfo, host string) string) string {
	for from := 0; ; {
		i := strings.Index(s[from:], "://")
		if i < 0 {
			return ""
		}
		i += from
		from = i + 3
		scheme := i
		for scheme > 0 && (isAlnum(s[scheme-1]) || strings.IndexByte("+.-", s[scheme-1]) >= 0) {
			scheme--
		}
		if c := s[scheme] | 0x20; scheme == i || c < 'a' || c > 'z' {
			continue
		}
		authority := s[i+3:]
		if end := strings.IndexAny(authority, "/?#\"'`<>\\ \t\r\n,;|"); end >= 0 {
			authority = authority[:end]
		}
		at := strings.LastIndexByte(authority, '@')
		if at < 0 {
			continue
		}
		if out := show(s[scheme:i+3], authority[:at], authority[at+1:]); out != "" {
			return out
		}
	}
}

func isTokenUser(u string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(u, p) && len(u) > len(p)+8 {
			return true
		}
	}
	if len(u) < 20 {
		return false
	}
	var letter, digit bool
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case '0' <= c && c <= '9':
			digit = true
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			letter = true
		case c == '-' || c == '_':
		default:
			return false
		}
	}
	return letter && digit
}

// isSecretRef reports whether s points at a secret instead of holding it.
func isSecretRef(s string) bool {
	return strings.HasPrefix(s, "sealed://") || strings.HasPrefix(s, "file://")
}

// secretKeySuffixes are the normalized key endings that name a secret.
var secretKeySuffixes = []string{"password", "passwd", "pwd", "passphrase", "token", "secret", "privatekey", "accesskey", "secretkey", "apikey", "clientsecret"}

// secretKeyNames are the normalized keys that name a secret only as the
// whole key: cloudCredentials names a credential object, credentials holds one.
var secretKeyNames = []string{"credential", "credentials"}

// isSecretKeyName reports whether a mapping key names a secret value.
func isSecretKeyName(k string) bool {
	if endsLike(k, secretKeySuffixes...) {
		return true
	}
	return isLike(k, secretKeyNames...)
}

// isLike reports whether k, lower-cased and without '-', '_' and '.', is
// one of names (each at most 16 bytes).
func isLike(k string, names ...string) bool {
	var buf [16]byte
	got := 0
	for i := 0; i < len(k); i++ {
		switch b := k[i]; {
		case b == '-' || b == '_' || b == '.':
		case got == len(buf):
			return false
		case b >= 'A' && b <= 'Z':
			buf[got] = b + 'a' - 'A'
			got++
		default:
			buf[got] = b
			got++
		}
	}
	for _, n := range names {
		if string(buf[:got]) == n {
			return true
		}
	}
	return false
}

// endsLike reports whether k, lower-cased and without '-', '_' and '.',
// ends with one of suffixes (each at most 16 bytes).
func endsLike(k string, suffixes ...string) bool {
	// The last letters are enough to compare: written backwards into a
	// small buffer.
	var buf [16]byte
	got := 0
	for i := len(k) - 1; i >= 0 && got < len(buf); i-- {
		switch b := k[i]; {
		case b == '-' || b == '_' || b == '.':
		case b >= 'A' && b <= 'Z':
			buf[len(buf)-1-got] = b + 'a' - 'A'
			got++
		default:
			buf[len(buf)-1-got] = b
			got++
		}
	}
	end := string(buf[len(buf)-got:])
	for _, suf := range suffixes {
		if strings.HasSuffix(end, suf) {
			return true
		}
	}
	return false
}

// isSecretTyped reports whether mapping m declares its value secret.
func isSecretTyped(m map[string]any) bool {
	for _, k := range []string{"type", "valueType"} {
		if t, ok := m[k].(string); ok && (strings.EqualFold(t, "secret") || strings.EqualFold(t, "secure")) {
			return true
		}
	}
	if b, ok := m["sensitive"].(bool); ok && b {
		return true
	}
	if o, ok := m["options"].(map[string]any); ok {
		if b, ok := o["sensitive"].(bool); ok && b {
			return true
		}
	}
	return false
}

// hasPrivateKeyBlock reports whether s holds a PEM private key.
func hasPrivateKeyBlock(s string) bool {
	for {
		i := strings.Index(s, "-----BEGIN ")
		if i < 0 {
			return false
		}
		s = s[i+len("-----BEGIN "):]
		end := strings.Index(s, "-----")
		if end < 0 {
			return false
		}
		if strings.HasSuffix(s[:end], "PRIVATE KEY") {
			return true
		}
	}
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// githubToken returns the prefix of the GitHub token s holds, or "": one
// of GitHub's token prefixes, not preceded by a letter, digit or '_', and
// at least as many letters and digits after it as GitHub's tokens have
// (36 for ghp_ and its kind, 82 letters, digits and '_' for github_pat_).
func githubToken(s string) string {
	for from := 0; ; {
		i := strings.Index(s[from:], "gh")
		if i < 0 {
			break
		}
		i += from
		from = i + 2
		if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '_') {
			continue
		}
		if i+4 <= len(s) && s[i+3] == '_' && strings.IndexByte("pousr", s[i+2]) >= 0 {
			if runOf(s[i+4:], false) >= 36 {
				return s[i : i+4]
			}
		}
	}
	for from := 0; ; {
		i := strings.Index(s[from:], "github_pat_")
		if i < 0 {
			return ""
		}
		i += from
		from = i + 1
		if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '_') {
			continue
		}
		if runOf(s[i+len("github_pat_"):], true) >= 82 {
			return "github_pat_"
		}
	}
}

// runOf counts the letters and digits (and '_', with underscore) s starts with.
func runOf(s string, underscore bool) int {
	n := 0
	for n < len(s) && (isAlnum(s[n]) || underscore && s[n] == '_') {
		n++
	}
	return n
}

// awsKeyIDAt returns where the AWS access key ID in s starts, or -1: AKIA
// or ASIA and 16 capitals or digits, standing alone (no letter or digit on
// either side).
func awsKeyIDAt(s string) int {
	for from := 0; from+20 <= len(s); {
		i := strings.Index(s[from:], "A")
		if i < 0 || from+i+20 > len(s) {
			return -1
		}
		i += from
		from = i + 1
		if p := s[i : i+4]; p != "AKIA" && p != "ASIA" || i > 0 && isAlnum(s[i-1]) {
			continue
		}
		n := 4
		for n < 20 && ('A' <= s[i+n] && s[i+n] <= 'Z' || '0' <= s[i+n] && s[i+n] <= '9') {
			n++
		}
		if n == 20 && (i+20 == len(s) || !isAlnum(s[i+20])) {
			return i
		}
	}
	return -1
}

func hasAWSKeyID(s string) bool { return awsKeyIDAt(s) >= 0 }

// isAWSSecretKey reports whether s has the form of an AWS secret access
// key: 40 characters of base64 (letters, digits, '/', '+'), with at least
// one digit, lower- and upper-case letter.
func isAWSSecretKey(s string) bool {
	if len(s) != 40 {
		return false
	}
	var lower, upper, digit bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case c == '/' || c == '+':
		default:
			return false
		}
	}
	return lower && upper && digit
}

// hasAWSSecretAssignment reports whether a text sets an AWS secret access
// key, as a credentials file or an environment does:
// aws_secret_access_key = <40 characters>, in any case, quoted or not.
func hasAWSSecretAssignment(s string) bool {
	if len(s) < 40 {
		return false
	}
	for from := 0; ; {
		i := indexFold(s[from:], "secret_access_key")
		if i < 0 {
			return false
		}
		i += from + len("secret_access_key")
		from = i
		rest := strings.TrimLeft(s[i:], " \t\"'")
		if rest == "" || rest[0] != '=' && rest[0] != ':' {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t\"'")
		end := 0
		for end < len(rest) && (isAlnum(rest[end]) || rest[end] == '/' || rest[end] == '+') {
			end++
		}
		if isAWSSecretKey(rest[:end]) {
			return true
		}
	}
}

// indexFold is strings.Index of the lower-case ASCII word in s, in any
// case, without lower-casing s.
func indexFold(s, word string) int {
	first, upper := word[0], word[0]-'a'+'A'
	for i := 0; i+len(word) <= len(s); i++ {
		if (s[i] == first || s[i] == upper) && strings.EqualFold(s[i:i+len(word)], word) {
			return i
		}
	}
	return -1
}

// urlWithPassword returns the first URL in s whose user info holds a
// password, shown with the password left out (https://bob:…@host), or "".
// A placeholder for a password is not one.
func urlWithPassword(s string) string {
	return firstURLUserinfo(s, func(scheme, userinfo, host string) string {
		user, pass, hasPass := strings.Cut(userinfo, ":")
		if !hasPass || pass == "" || isPlaceholder(pass) {
			return ""
		}
		return scheme + user + ":…@" + host
	})
}

// isPlaceholder reports whether a password in a URL stands for one:
// ${NAME}, $(NAME), {{ … }}, $NAME, %s or a mask of asterisks.
func isPlaceholder(p string) bool {
	switch {
	case strings.HasPrefix(p, "${") && strings.HasSuffix(p, "}"),
		strings.HasPrefix(p, "$(") && strings.HasSuffix(p, ")"),
		strings.HasPrefix(p, "{{") && strings.HasSuffix(p, "}}"),
		p == "%s", strings.Trim(p, "*") == "":
		return true
	case p[0] == '$' && len(p) > 1:
		for i := 1; i < len(p); i++ {
			if !isAlnum(p[i]) && p[i] != '_' {
				return false
			}
		}
		return true
	}
	return false
}
