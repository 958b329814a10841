package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
)

// An editor may not write Pipelines, nor what would move a pipeline: a
// Repository (its endpoint is the pipeline's source), a SecretSealer or a
// SecretStore. Re-pointing the pipeline's Repository at another repository
// of the installation is 403, and the editor's Run syncs the pipeline's own
// source: nothing of the other repository is applied.
func TestEditorCannotRepointAPipelinesRepository(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	other := b.gh.AddRepo(t, owner, "private-other", inst)
	w := gittest.Clone(t, strings.Replace(other, "http://", "http://x-access-token:"+b.gh.Token(t, inst)+"@", 1))
	w.Write(map[string]string{folder + "/projects/default/pipelines/evil.yaml": "apiVersion: gitops.k8smgmt.io/v3\nkind: Pipeline\nmetadata:\n  name: evil\n  project: default\nspec:\n  stages: []\n",
		folder + "/projects/default/namespaces/from-private.yaml": ns("from-private", "secret-repo-content")})
	w.Commit("evil")
	w.Push("main")
	b.work.Write(map[string]string{p("keep"): ns("keep", "dev")})
	b.work.Commit("the pipeline's own source")
	b.work.Push("main")

	_, editor, err := b.s.Keys.Create(ctx, "eve@example.com", access.Editor)
	if err != nil {
		t.Fatal(err)
	}
	ed := controllerapi.New(b.s.BaseURL, editor)
	for _, obj := range []map[string]any{
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "specs", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": other}},
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "another", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": other}},
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "SecretSealer", "metadata": map[string]any{"name": "sealer", "project": "default"},
			"spec": map[string]any{"type": "KubeSeal"}},
		{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "direct", "project": "default"}, "spec": map[string]any{}},
	} {
		var apiErr *controllerapi.Error
		if _, err := ed.Apply(ctx, obj); !errors.As(err, &apiErr) || apiErr.Code != http.StatusForbidden {
			t.Errorf("an editor applies %s %s: %v, want 403", obj["kind"], obj["metadata"].(map[string]any)["name"], err)
		}
	}
	var apiErr *controllerapi.Error
	if err := ed.Delete(ctx, "Repository", "default", "specs"); !errors.As(err, &apiErr) || apiErr.Code != http.StatusForbidden {
		t.Errorf("an editor deletes the Repository: %v, want 403", err)
	}
	// Editors still write other kinds, and press Run.
	if _, err := ed.Apply(ctx, map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": "by-editor", "project": "default"}, "spec": map[string]any{}}); err != nil {
		t.Fatalf("an editor applies a Namespace: %v", err)
	}
	req, _ := http.NewRequest("POST", b.s.BaseURL+"/api/pipelines/default/system-sync/run", nil)
	req.Header.Set("X-API-KEY", editor)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("the editor's Run: %d", res.StatusCode)
	}
	b.waitRuns(t, 1)
	if _, err := b.sys.Get(ctx, "Namespace", "default", "keep"); err != nil {
		t.Fatalf("the Run did not sync the pipeline's own source: %v", err)
	}
	for _, k := range [][2]string{{"Pipeline", "evil"}, {"Namespace", "from-private"}} {
		if _, err := b.sys.Get(ctx, k[0], "default", k[1]); err == nil {
			t.Errorf("%s %s of the other repository was applied", k[0], k[1])
		}
	}
}
