package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	want := store.Migrations()[len(store.Migrations())-1].Version
	for i := 0; i < 2; i++ {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
		v, err := db.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != want {
			t.Fatalf("version after run %d = %d, want %d", i+1, v, want)
		}
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(store.Migrations()) {
		t.Fatalf("schema_migrations holds %d rows, want %d", n, len(store.Migrations()))
	}
}

func TestConcurrentMigrateFromTwoHandles(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			errs[i] = db.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
}

func TestInTxRollsBackOnError(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	boom := errors.New("boom")
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO positions (name, value, updated_at) VALUES (?, ?, ?)`, "p", "v", "now"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx error = %v, want boom", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM positions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("rolled-back insert is visible: %d rows", n)
	}
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://root:secret@localhost/x")
	if err == nil || !strings.Contains(err.Error(), "unsupported URL") {
		t.Fatalf("err = %v, want unsupported URL", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestRebind(t *testing.T) {
	pg := &store.DB{Dialect: store.Postgres}
	if got := pg.Rebind("a = ? AND b = ?"); got != "a = $1 AND b = $2" {
		t.Fatalf("postgres rebind = %q", got)
	}
	lite := &store.DB{Dialect: store.SQLite}
	if got := lite.Rebind("a = ?"); got != "a = ?" {
		t.Fatalf("sqlite rebind = %q", got)
	}
}

func TestNextIDAndPositions(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	a, err := db.NextID(ctx, "run")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := db.NextID(ctx, "run")
	if a != 1 || b != 2 {
		t.Fatalf("run ids %d, %d; want 1, 2", a, b)
	}
	if v, err := db.Position(ctx, "follower"); err != nil || v != "" {
		t.Fatalf("unset position = %q, %v", v, err)
	}
	db.SetPosition(ctx, "follower", "41")
	db.SetPosition(ctx, "follower", "42")
	if v, _ := db.Position(ctx, "follower"); v != "42" {
		t.Fatalf("position = %q, want 42", v)
	}
}
