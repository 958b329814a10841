package spec

import (
	"sort"
	"strings"
)

// sealHint is how every secret problem tells the user what to do instead.
const sealHint = "seal it with a SecretSealer and reference it as sealed://…"

// Secrets reports clear-text secret values a file in Git must not hold: a
// credentials.password / token / privateKey (any key named like password, passwd, token,
// secret, privateKey, accessKey, secretKey, apiKey, clientSecret holding a non-empty string that is not a
// `sealed://` reference and not a `file://` reference), any PEM private key block, and any
// mapping with type or valueType `Secret`/`Secure` and a non-empty `value`. Each problem's
// message points at the Secret Sealer (e.g. "clear-text secret: seal it with a SecretSealer and reference it as sealed://…").
//
// Key names match case-insensitively, ignoring '-', '_' and '.', when they
// end in one of those words (so sshPrivateKey and webhookSecret count, but
// syncSecrets and enableSecretRotation do not). A mapping marked
// `sensitive: true` (or options.sensitive) with a non-empty value counts
// like a Secret-typed one. Problems are ordered by line.
func Secrets(r *Resource) []Problem {
	if !holdsSecret(r.Object) {
		return nil // the common case, found without building a field path
	}
	s := secretScan{r: r}
	s.walk(r.Object, "")
	sort.SliceStable(s.probs, func(i, j int) bool { return s.probs[i].Line < s.probs[j].Line })
	return s.probs
}

type secretScan struct {
	r     *Resource
	probs []Problem
}

func (s *secretScan) add(field, msg string) {
	s.probs = append(s.probs, Problem{File: s.r.File, Line: s.r.LineOf(field), Field: field, Message: msg + ": " + sealHint})
}

func (s *secretScan) walk(v any, p string) {
	switch x := v.(type) {
	case map[string]any:
		if val, ok := x["value"].(string); ok && !isSecretRef(val) && isSecretTyped(x) {
			s.add(joinKey(p, "value"), "clear-text secret: a Secret-typed value must not be stored in Git")
		}
		for _, k := range sortedKeys(x) {
			kp := joinKey(p, k)
			if str, ok := x[k].(string); ok {
				switch {
				case hasPrivateKeyBlock(str):
					s.add(kp, "clear-text private key (PEM block)")
				case str != "" && !isSecretRef(str) && isSecretKeyName(k):
					s.add(kp, "clear-text secret")
				}
				continue
			}
			s.walk(x[k], kp)
		}
	case []any:
		for i, e := range x {
			ip := joinIndex(p, i)
			if str, ok := e.(string); ok {
				if hasPrivateKeyBlock(str) {
					s.add(ip, "clear-text private key (PEM block)")
				}
				continue
			}
			s.walk(e, ip)
		}
	}
}

// holdsSecret reports whether the walk of secretScan would find anything.
func holdsSecret(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if val, ok := x["value"].(string); ok && !isSecretRef(val) && isSecretTyped(x) {
			return true
		}
		for k, e := range x {
			if str, ok := e.(string); ok {
				if hasPrivateKeyBlock(str) || str != "" && !isSecretRef(str) && isSecretKeyName(k) {
					return true
				}
				continue
			}
			if holdsSecret(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if str, ok := e.(string); ok {
				if hasPrivateKeyBlock(str) {
					return true
				}
				continue
			}
			if holdsSecret(e) {
				return true
			}
		}
	}
	return false
}

// isSecretRef reports whether s points at a secret instead of holding it.
func isSecretRef(s string) bool {
	return strings.HasPrefix(s, "sealed://") || strings.HasPrefix(s, "file://")
}

// secretKeySuffixes are the normalized key endings that name a secret.
var secretKeySuffixes = []string{"password", "passwd", "token", "secret", "privatekey", "accesskey", "secretkey", "apikey", "clientsecret"}

// isSecretKeyName reports whether a mapping key names a secret value.
func isSecretKeyName(k string) bool {
	// The last letters, lower-cased and without separators, are enough
	// to compare with the suffixes: written backwards into a small buffer.
	var tail [len("clientsecret")]byte
	n := 0
	for i := len(k) - 1; i >= 0 && n < len(tail); i-- {
		switch b := k[i]; {
		case b == '-' || b == '_' || b == '.':
		case b >= 'A' && b <= 'Z':
			tail[len(tail)-1-n] = b + 'a' - 'A'
			n++
		default:
			tail[len(tail)-1-n] = b
			n++
		}
	}
	end := string(tail[len(tail)-n:])
	for _, suf := range secretKeySuffixes {
		if strings.HasSuffix(end, suf) {
			return true
		}
	}
	return false
}

// isSecretTyped reports whether mapping m declares its value secret.
func isSecretTyped(m map[string]any) bool {
	for _, k := range []string{"type", "valueType"} {
		if t, ok := m[k].(string); ok {
			switch strings.ToLower(t) {
			case "secret", "secure":
				return true
			}
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
	i := strings.Index(s, "-----BEGIN ")
	if i < 0 {
		return false
	}
	rest := s[i+len("-----BEGIN "):]
	end := strings.Index(rest, "-----")
	return end >= 0 && strings.HasSuffix(rest[:end], "PRIVATE KEY")
}
