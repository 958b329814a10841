package store_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestMigration4KeepsEveryKeyAsALegacyAdminKey: the keys of a database
// from before roles keep their hash, user and creation time, get an id
// and become valid admin keys in slot legacy (the server then revokes the
// ones it does not claim again).
func TestMigration4KeepsEveryKeyAsALegacyAdminKey(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MigrateTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"hash-of-the-admin-key", "hash-of-the-bot-key"} {
		if _, err := db.Exec(ctx, `INSERT INTO api_keys (key_hash, user_email, created_at) VALUES (?, ?, ?)`, h, "u@example.com", "2024-01-02T03:04:05Z"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT id, key_hash, user_email, role, slot, created_at, revoked_at FROM api_keys ORDER BY key_hash`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	n := 0
	for rows.Next() {
		var id, hash, email, role, slot, created, revoked string
		if err := rows.Scan(&id, &hash, &email, &role, &slot, &created, &revoked); err != nil {
			t.Fatal(err)
		}
		n++
		if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(id) || ids[id] {
			t.Errorf("id %q of %s is not a fresh 12-hex id", id, hash)
		}
		ids[id] = true
		if email != "u@example.com" || role != "admin" || slot != "legacy" || created != "2024-01-02T03:04:05Z" || revoked != "" {
			t.Errorf("%s migrated as %s %s %s %s %q", hash, email, role, slot, created, revoked)
		}
	}
	if n != 2 {
		t.Fatalf("%d keys after the migration, want 2", n)
	}
	if _, err := db.Exec(ctx, `INSERT INTO api_keys (id, key_hash, user_email, role, slot, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		"another", "hash-of-the-admin-key", "x@example.com", "viewer", "", "now", ""); err == nil {
		t.Fatal("a second row with the same key hash was accepted")
	}
}
