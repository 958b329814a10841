// Package controllertest starts the embedded controller over real HTTP for
// tests, on a fresh database (SQLite, or PostgreSQL when
// SYSTEMSYNC_TEST_DATABASE_URL is set), with a `default` project.
package controllertest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// AdminKey and AdminEmail are the key the test controller accepts and the
// user it records for that key.
const (
	AdminKey   = "test-admin-key"
	AdminEmail = "admin@example.com"
)

// Controller is a running test controller.
type Controller struct {
	URL   string
	Store *controller.Store
	Keys  *controller.Keys
}

// Start runs a controller for the test and stops it at the test's end.
func Start(t testing.TB) *Controller {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t)
	keys := controller.NewKeys(db)
	if err := keys.Ensure(ctx, AdminKey, AdminEmail); err != nil {
		t.Fatal(err)
	}
	st := controller.NewStore(db)
	project := map[string]any{
		"apiVersion": "system.k8smgmt.io/v3", "kind": "Project",
		"metadata": map[string]any{"name": "default"}, "spec": map[string]any{"default": true},
	}
	if _, _, err := st.Apply(ctx, spec.Key{Kind: "Project", Name: "default"}, project, AdminEmail, ""); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(controller.NewAPI(st, keys, log))
	t.Cleanup(srv.Close)
	return &Controller{URL: srv.URL, Store: st, Keys: keys}
}

// WithoutEventLog serves the controller's API, but for the event log, which
// answers 404 as a Rafay controller does: the controller a bot must follow
// by listing. It returns that server's URL and stops it at the test's end.
func (c *Controller) WithoutEventLog(t testing.TB) string {
	t.Helper()
	target, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// SyncSpecs is what a test applies to a controller so that the bot syncs
// a Git repository with it: the Repository "specs" at url and the Pipeline
// "system-sync" of project default, whose one stage syncs Namespaces from
// main into the system, and back to the same branch when systemToGit.
func SyncSpecs(url string, systemToGit bool) []map[string]any {
	return []map[string]any{
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "specs", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": url}},
		{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "system-sync", "project": "default"},
			"spec": map[string]any{"stages": []any{map[string]any{"name": "sync", "type": "SystemSync", "config": map[string]any{
				"gitToSystemSync": true, "systemToGitSync": systemToGit, "sourceAsDestination": true,
				"includedResources": []any{map[string]any{"name": "Namespace"}},
				"sourceRepo":        map[string]any{"repository": "specs", "revision": "main"}}}}}},
	}
}
