package store_test

import (
	"context"
	"testing"

	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestMigration7KeysConsoleUsersByGitHubID: version 6's console users were
// keyed by login, which GitHub lets people rename and others register; at
// version 7 they are keyed by GitHub user ID, and the rows without one are
// gone (a role given by login is given again, to an account).
func TestMigration7KeysConsoleUsersByGitHubID(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MigrateTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO console_users (login, email, role, role_set_by, last_sign_in) VALUES ('alice', 'a@example.com', 'admin', 'x', 'now')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM console_users`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows by login kept (%v), want none", n, err)
	}
	ins := `INSERT INTO console_users (github_id, login, email, role, role_set_by, last_sign_in) VALUES (?, ?, '', 'editor', 'x', '')`
	if _, err := db.Exec(ctx, ins, 583231, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, ins, 9000000001, "alice"); err != nil { // another account, the same (reused) login; IDs past 32 bits
		t.Fatalf("two accounts that were known by one login: %v", err)
	}
	if _, err := db.Exec(ctx, ins, 583231, "alice-renamed"); err == nil {
		t.Fatal("a second row for one GitHub ID was accepted")
	}
}
