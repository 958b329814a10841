package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const fieldsToken = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"

func secretObject() map[string]any {
	return map[string]any{
		"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "r", "project": "default", "labels": map[string]any{"app.kubernetes.io/name": "x"}},
		"spec": map[string]any{
			"endpoint":    "https://example.com/r.git",
			"credentials": map[string]any{"username": "deploy", "password": "hunter2-pass", "sshKey": "sealed://creds/ssh"},
			"mirrors":     []any{"https://example.org/a.git", "https://bob:s3cr3t-pw@example.org/b.git"},
			"headers":     map[string]any{"x.token": fieldsToken},
			"notes":       map[string]any{fieldsToken: "a key that is a token"},
		},
	}
}

func TestSecretFieldsNameEveryPlaceSecretsFinds(t *testing.T) {
	obj := secretObject()
	got := SecretFields(obj)
	want := [][]any{
		{"spec", "credentials", "password"},
		{"spec", "headers", "x.token"},
		{"spec", "mirrors", 1},
		{"spec", "notes", fieldsToken},
	}
	var steps [][]any
	for _, f := range got {
		steps = append(steps, f.Steps())
	}
	if !reflect.DeepEqual(steps, want) || len(got) != 4 || !got[3].InKey || got[0].InKey || got[1].InKey || got[2].InKey {
		t.Fatalf("SecretFields:\n got %#v\nwant %#v", got, want)
	}
	// The same count as Secrets reports problems.
	if n := len(Secrets(&Resource{Object: obj})); n != len(want) {
		t.Errorf("Secrets finds %d, SecretFields %d", n, len(want))
	}
	if f := SecretFields(map[string]any{"kind": "Namespace", "spec": map[string]any{"password": "sealed://x"}}); f != nil {
		t.Errorf("no secret: %v", f)
	}
}

func TestMaskSecretsHidesEverySecretAndRestoreGivesThemBack(t *testing.T) {
	obj := secretObject()
	before, _ := json.Marshal(obj)
	masked := MaskSecrets(obj)
	out, _ := json.Marshal(masked)
	for _, s := range []string{"hunter2-pass", "s3cr3t-pw", fieldsToken} {
		if strings.Contains(string(out), s) {
			t.Errorf("the masked object still holds %q: %s", s, out)
		}
	}
	for _, s := range []string{SecretMask(1), SecretMask(4), "sealed://creds/ssh", "deploy", "https://example.org/a.git"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("the masked object has no %q: %s", s, out)
		}
	}
	if after, _ := json.Marshal(obj); string(after) != string(before) {
		t.Fatal("MaskSecrets changed its argument")
	}

	// Sent back as it was shown, or with other fields edited: the secrets
	// come back where they were.
	edited := copyTree(masked).(map[string]any)
	edited["spec"].(map[string]any)["endpoint"] = "https://example.com/moved.git"
	edited, err := RestoreSecrets(edited, obj)
	if err != nil {
		t.Fatal(err)
	}
	want := copyTree(obj).(map[string]any)
	want["spec"].(map[string]any)["endpoint"] = "https://example.com/moved.git"
	if !reflect.DeepEqual(edited, want) {
		t.Fatalf("restored:\n got %v\nwant %v", edited, want)
	}

	// A mask moved to another field is refused: a masked secret cannot be
	// carried where it would be shown.
	moved := copyTree(masked).(map[string]any)
	moved["metadata"].(map[string]any)["description"] = SecretMask(1)
	if _, err := RestoreSecrets(moved, obj); err == nil || !strings.Contains(err.Error(), "metadata.description") {
		t.Errorf("a mask moved to metadata.description: %v", err)
	}
	if !HoldsSecretMask(string(out)) || HoldsSecretMask(string(before)) {
		t.Error("HoldsSecretMask")
	}
	if d, _ := moved["metadata"].(map[string]any)["description"].(string); strings.Contains(d, "hunter2") {
		t.Error("the moved mask was filled in")
	}
	unknown := copyTree(masked).(map[string]any)
	unknown["spec"].(map[string]any)["credentials"].(map[string]any)["password"] = SecretMask(9)
	if _, err := RestoreSecrets(unknown, obj); err == nil {
		t.Error("a mask naming no secret was accepted")
	}
}

func TestStepsReadWhatTheScanWrites(t *testing.T) {
	for _, path := range [][]any{
		{"spec", "a"}, {"spec", "x.y", 3, "z"}, {"metadata", "labels", "app.kubernetes.io/name"}, {"a", `q"uote`}, {"", 0}, {"spec", "list", 0, 1},
	} {
		got := SecretField{Path: fieldPathText(path)}.Steps()
		if !reflect.DeepEqual(got, path) {
			t.Errorf("%q: %v, want %v", fieldPathText(path), got, path)
		}
	}
}
