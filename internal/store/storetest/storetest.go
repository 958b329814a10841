// Package storetest opens a fresh, migrated database for a test: a SQLite
// file in the test's temporary folder, or, when SYSTEMSYNC_TEST_DATABASE_URL
// names a PostgreSQL server, a schema of its own there, dropped afterwards.
// A test never skips for want of PostgreSQL: when the variable is set and the
// server cannot be reached, the test fails.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/systemsync/systemsync/internal/store"
)

// EnvURL is the variable naming the PostgreSQL server tests run against.
const EnvURL = "SYSTEMSYNC_TEST_DATABASE_URL"

// URL returns a database URL for a fresh database, and registers its
// cleanup: a SQLite file under t.TempDir(), or a new PostgreSQL schema.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, base)
	if err != nil {
		t.Fatalf("%s is set but the server cannot be used: %v", EnvURL, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated database for the test, closed at its end.
func Open(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, URL(t))
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return db
}

// OpenProcesses returns n handles on one fresh, migrated database, each
// opened on its own as separate processes of the bot would; all are closed
// at the test's end.
func OpenProcesses(t testing.TB, n int) []*store.DB {
	t.Helper()
	ctx := context.Background()
	url := URL(t)
	dbs := make([]*store.DB, n)
	for i := range dbs {
		db, err := store.Open(ctx, url)
		if err != nil {
			t.Fatalf("open test database: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate test database: %v", err)
		}
		dbs[i] = db
	}
	return dbs
}
