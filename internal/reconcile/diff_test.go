package reconcile

import (
	"reflect"
	"strings"
	"testing"
)

const diffToken = "ghp_" + "0123456789abcdefghijklmnopqrstuvwxyzAB"

func repository(spec map[string]any) map[string]any {
	return map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "git-creds", "project": "default"}, "spec": spec}
}

// A field spec.Secrets flags on either side is compared, and shown as
// changed, but its value never is: not when it is a leaf, not inside a
// value that is added or removed whole, not as a key.
func TestDiffShowsNoSecret(t *testing.T) {
	system := repository(map[string]any{"type": "Git", "endpoint": "https://example.com/r.git",
		"credentials": map[string]any{"username": "deploy", "password": "hunter2-SYSTEM-SECRET"},
		"mirrors":     []any{"https://bob:mirror-PASS@example.org/m.git"},
		"proxy":       map[string]any{"url": "http://proxy", "token": "proxy-TOKEN-value"},
		"labels":      map[string]any{diffToken: "x"}})
	git := repository(map[string]any{"type": "Git", "endpoint": "https://example.com/r.git",
		"credentials": map[string]any{"username": "deploy", "password": "sealed://git-creds/password"},
		"mirrors":     []any{"https://example.org/m.git"},
		"labels":      map[string]any{}})
	got := Diff(system, git)
	want := []FieldDiff{
		{Field: "spec.credentials.password", Old: SecretHidden, New: SecretHidden, Secret: true},
		{Field: "spec.labels." + SecretHidden, Old: `"x"`, NewMissing: true},
		{Field: "spec.mirrors[0]", Old: SecretHidden, New: SecretHidden, Secret: true},
		{Field: "spec.proxy", Old: `{"token":"` + SecretHidden + `","url":"http://proxy"}`, NewMissing: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff:\n got %#v\nwant %#v", got, want)
	}
	for _, d := range append(got, Diff(git, system)...) {
		for _, s := range []string{"hunter2", "mirror-PASS", "proxy-TOKEN", diffToken} {
			if strings.Contains(d.String(), s) {
				t.Errorf("the diff shows %q: %s", s, d)
			}
		}
	}
	// A secret that did not change is not a difference; nor is anything
	// else that did not.
	if d := Diff(system, system); len(d) != 0 {
		t.Errorf("no change: %v", d)
	}
	// A secret is still compared: another value is a change, not shown.
	other := repository(map[string]any{"type": "Git", "endpoint": "https://example.com/r.git",
		"credentials": map[string]any{"username": "deploy", "password": "another-SECRET"},
		"mirrors":     []any{"https://bob:mirror-PASS@example.org/m.git"},
		"proxy":       map[string]any{"url": "http://proxy", "token": "proxy-TOKEN-value"},
		"labels":      map[string]any{diffToken: "x"}})
	if d := Diff(system, other); len(d) != 1 || d[0].Field != "spec.credentials.password" || !d[0].Secret || d[0].Old != SecretHidden {
		t.Errorf("a changed secret: %v", d)
	}
	// Whole resources (a create's or delete's other side is missing).
	if d := Diff(nil, system); len(d) != 1 || strings.Contains(d[0].String(), "hunter2") || !strings.Contains(d[0].New, SecretHidden) {
		t.Errorf("a new resource with secrets: %v", d)
	}
}
