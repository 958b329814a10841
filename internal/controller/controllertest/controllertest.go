// Package controllertest starts the embedded controller over real HTTP for
// tests, on a fresh database (SQLite, or PostgreSQL when
// SYSTEMSYNC_TEST_DATABASE_URL is set), with a `default` project.
package controllertest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
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
