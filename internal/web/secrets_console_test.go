package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/spec"
)

const consoleSecret = "hunter2-CONSOLE-SECRET"

// editedYAML is the edit form's YAML, as a browser would post it back.
func editedYAML(t *testing.T, p page) string {
	t.Helper()
	i := strings.Index(p.body, `<textarea id="yaml"`)
	if i < 0 {
		t.Fatalf("no YAML field on the form:\n%s", p.body)
	}
	rest := p.body[i:]
	rest = rest[strings.Index(rest, ">")+1:]
	return html.UnescapeString(rest[:strings.Index(rest, "</textarea>")])
}

// The console shows stored secrets to admins only: a viewer and an editor
// see them masked, on the resource's page, its edit form and its delete
// page. An editor who saves the form with the masks left in place keeps
// the stored secrets; a mask moved elsewhere is refused, and saves nothing.
func TestConsoleMasksSecretsBelowAdmin(t *testing.T) {
	ctx := context.Background()
	env := startConsole(t, config.Web{}, nil)
	_, viewerKey, _ := env.keys.Create(ctx, "v@example.com", access.Viewer)
	_, editorKey, _ := env.keys.Create(ctx, "e@example.com", access.Editor)
	// A Workload (editors write those) with a secret in a Helm-style env.
	key := spec.Key{Kind: "Workload", Project: "default", Name: "w"}
	if _, _, err := env.store.Apply(ctx, key, map[string]any{"apiVersion": "apps.k8smgmt.io/v3", "kind": "Workload",
		"metadata": map[string]any{"name": "w", "project": "default", "description": "before"},
		"spec":     map[string]any{"namespace": "apps", "db": map[string]any{"user": "app", "password": consoleSecret}}}, "admin@example.com", ""); err != nil {
		t.Fatal(err)
	}
	repo := spec.Key{Kind: "Repository", Project: "default", Name: "creds"}
	if _, _, err := env.store.Apply(ctx, repo, map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "creds", "project": "default"},
		"spec":     map[string]any{"type": "Git", "endpoint": "https://e.example/r.git", "credentials": map[string]any{"username": "u", "password": consoleSecret}}}, "admin@example.com", ""); err != nil {
		t.Fatal(err)
	}

	viewer := env.visitor(t)
	viewer.signIn(viewerKey)
	for _, path := range []string{"/projects/default/workloads/w", "/projects/default/repositories/creds"} {
		p := viewer.get(path)
		if p.code != http.StatusOK || strings.Contains(p.body, consoleSecret) || !strings.Contains(p.body, "(secret 1, not shown)") || !strings.Contains(p.body, `id="masked"`) {
			t.Errorf("a viewer's %s: %d, shows the secret %v, masked %v", path, p.code, strings.Contains(p.body, consoleSecret), strings.Contains(p.body, "(secret 1, not shown)"))
		}
	}
	admin := env.visitor(t)
	admin.signIn("admin-key")
	if p := admin.get("/projects/default/repositories/creds"); !strings.Contains(p.body, consoleSecret) || strings.Contains(p.body, `id="masked"`) {
		t.Error("an admin does not see the stored password")
	}

	editor := env.visitor(t)
	editor.signIn(editorKey)
	if p := editor.get("/projects/default/repositories/creds"); strings.Contains(p.body, `id="edit"`) || strings.Contains(p.body, consoleSecret) {
		t.Error("an editor is offered Edit on a Repository, or sees its password")
	}
	if p := editor.get("/projects/default/workloads/w/delete"); strings.Contains(p.body, consoleSecret) {
		t.Error("the delete page shows an editor the secret")
	}
	form := editor.get("/projects/default/workloads/w/edit")
	if form.code != http.StatusOK || strings.Contains(form.body, consoleSecret) {
		t.Fatalf("the editor's form: %d, shows the secret: %v", form.code, strings.Contains(form.body, consoleSecret))
	}
	text := strings.Replace(editedYAML(t, form), "description: before", "description: after", 1)
	st, _ := env.store.Get(ctx, key)
	rv := itoa(st.ResourceVersion)

	// The review shows the change, not the secret, and no change to it.
	p := editor.post("/projects/default/workloads/w", url.Values{"yaml": {text}, "resourceVersion": {rv}})
	if p.code != http.StatusOK || strings.Contains(p.body, consoleSecret) || !strings.Contains(p.body, "&#43;   description: after") || strings.Contains(p.body, "- password") {
		t.Fatalf("the review: %d\n%s", p.code, p.body)
	}
	if p := editor.post("/projects/default/workloads/w", url.Values{"yaml": {text}, "resourceVersion": {rv}, "action": {"save"}}); p.code != http.StatusSeeOther {
		t.Fatalf("the save: %d\n%s", p.code, p.body)
	}
	st, _ = env.store.Get(ctx, key)
	if got := st.Object["spec"].(map[string]any)["db"].(map[string]any)["password"]; got != consoleSecret {
		t.Fatalf("the stored password is %q after the editor's save", got)
	}
	if st.Object["metadata"].(map[string]any)["description"] != "after" {
		t.Fatal("the editor's change was not saved")
	}

	// A mask carried to a field shown in clear would show the secret: refused.
	form = editor.get("/projects/default/workloads/w/edit")
	moved := strings.Replace(editedYAML(t, form), "description: after", "description: (secret 1, not shown)", 1)
	p = editor.post("/projects/default/workloads/w", url.Values{"yaml": {moved}, "resourceVersion": {itoa(st.ResourceVersion)}, "action": {"save"}})
	if p.code != http.StatusBadRequest || !strings.Contains(p.body, "metadata.description") || strings.Contains(p.body, consoleSecret) {
		t.Fatalf("a moved mask: %d\n%s", p.code, p.body)
	}
	if cur, _ := env.store.Get(ctx, key); cur.ResourceVersion != st.ResourceVersion {
		t.Fatal("a form with a moved mask was saved")
	}
}
