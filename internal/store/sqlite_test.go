package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func openTestSQLite(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(context.Background(), `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db, path
}

func TestMayWrite(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":          false,
		"  select v FROM t": false,
		"-- name: JobList :many\nSELECT * FROM river_job":            false,
		"/* TEMPLATE: schema */ SELECT 1":                            false,
		"(SELECT 1) UNION (SELECT 2)":                                false,
		"VALUES (1)":                                                 false,
		"EXPLAIN QUERY PLAN SELECT 1":                                false,
		"WITH x AS (SELECT 1) SELECT * FROM x":                       false,
		"WITH x AS (SELECT 1) INSERT INTO t(v) SELECT 'a' FROM x":    true,
		"with x as (select id from t) delete from t where id in x":   true,
		"INSERT INTO t(v) VALUES ('a')":                              true,
		"-- name: JobGetAvailable :many\nUPDATE river_job SET x = 1": true,
		"DELETE FROM t":                                              true,
		"REPLACE INTO t(v) VALUES ('a')":                             true,
		"CREATE TABLE u (x)":                                         true,
		"PRAGMA wal_checkpoint(PASSIVE)":                             true,
		"":                                                           true,
		"-- only a comment":                                          true,
	} {
		if got := mayWrite(q); got != want {
			t.Errorf("mayWrite(%q) = %v, want %v", q, got, want)
		}
	}
}

// A writer of another pool of the same file waits in the gate, and goes in
// the moment the transaction before it ends. In SQLite's busy handler it
// would sleep in steps that reach 100 ms: a transaction held 240 ms would
// let it in only at 328 ms.
func TestWritersOfAnotherPoolQueueInTheGate(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestSQLite(t)
	pool, err := db.OpenPool(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	const hold = 240 * time.Millisecond
	var committed time.Time
	inserted := make(chan time.Time, 1)
	err = db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO t (v) VALUES ('first')`); err != nil {
			return err
		}
		go func() {
			if _, err := pool.Exec(ctx, `INSERT INTO t (v) VALUES ('second')`); err != nil {
				t.Error(err)
			}
			inserted <- time.Now()
		}()
		select {
		case <-inserted:
			t.Error("the other pool wrote while a transaction held the write lock")
		case <-time.After(hold):
		}
		committed = time.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-inserted:
		if lag := at.Sub(committed); lag > 70*time.Millisecond {
			t.Errorf("the waiting writer went in %v after the commit; the gate lets it in at once", lag)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting writer never went in")
	}
	rows, err := db.Query(ctx, `SELECT v FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 2 || got[0] != "first" || got[1] != "second" {
		t.Fatalf("rows %v, want [first second]", got)
	}
	if n := len(db.gate.slot); n != 0 {
		t.Fatalf("the gate is still held after every writer is done")
	}
}

// A statement is prepared once per connection and kept; running it again
// while its first rows are still open gives both callers their rows.
func TestKeptStatementsAndNestedUse(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestSQLite(t)
	for _, v := range []string{"a", "b", "c"} {
		if _, err := db.Exec(ctx, `INSERT INTO t (v) VALUES (?)`, v); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT v FROM t ORDER BY v`
	err := db.InTx(ctx, func(tx *Tx) error {
		outer, err := tx.Query(ctx, q)
		if err != nil {
			return err
		}
		defer outer.Close()
		var got []string
		for outer.Next() {
			var v string
			if err := outer.Scan(&v); err != nil {
				return err
			}
			inner, err := tx.Query(ctx, q) // the kept statement is in use
			if err != nil {
				return err
			}
			n := 0
			for inner.Next() {
				n++
			}
			if err := inner.Close(); err != nil {
				return err
			}
			if n != 3 {
				t.Errorf("nested query read %d rows, want 3", n)
			}
			got = append(got, v)
		}
		if len(got) != 3 || got[0] != "a" || got[2] != "c" {
			t.Errorf("outer query read %v", got)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 3 {
		var v string
		if err := conn.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, 2).Scan(&v); err != nil || v != "b" {
			t.Fatalf("kept statement: %q, %v", v, err)
		}
	}
	err = conn.Raw(func(dc any) error {
		c := dc.(*sqliteConn)
		if _, ok := c.stmts[`SELECT v FROM t WHERE id = ?`]; !ok {
			t.Error("the statement was not kept")
		}
		if len(c.stmts) != len(c.order) {
			t.Errorf("%d statements kept, %d in order", len(c.stmts), len(c.order))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A write with RETURNING outside a transaction holds the gate until
	// its rows are closed, and no longer.
	var id int64
	if err := db.QueryRow(ctx, `INSERT INTO t (v) VALUES ('d') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if len(db.gate.slot) != 0 {
		t.Fatal("the gate is still held after the RETURNING row was read")
	}
}

// Commits do not checkpoint (wal_autocheckpoint is off); the background
// checkpoint copies them into the database file within a few seconds.
func TestCheckpointsCopyTheWALIntoTheFile(t *testing.T) {
	ctx := context.Background()
	db, path := openTestSQLite(t)
	for i := range 50 {
		if _, err := db.Exec(ctx, `INSERT INTO t (v) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	// An immutable reader sees the database file alone, not the WAL.
	file, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	file.SetMaxIdleConns(0) // an immutable connection never looks again: open one per look
	deadline := time.Now().Add(10 * checkpointEvery)
	for {
		var n int
		// A table missing from the file is not there yet either.
		if err := file.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err == nil && n == 50 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d of the 50 rows after %v", n, 10*checkpointEvery)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The gate's edges: a connection with a writing statement's rows open
// writes again without waiting for itself; a read-only transaction that
// writes holds the gate until it ends; closing twice is harmless.
func TestGateEdges(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestSQLite(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, `INSERT INTO t (v) VALUES ('a') RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := conn.ExecContext(wctx, `INSERT INTO t (v) VALUES ('b')`); err != nil {
		t.Fatalf("a second write on the connection holding the gate: %v", err)
	}
	cancel()
	rows.Close()
	conn.Close()
	if len(db.gate.slot) != 0 {
		t.Fatal("the gate is still held after both statements ended")
	}

	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES ('c')`); err != nil {
		t.Fatal(err)
	}
	if len(db.gate.slot) != 1 {
		t.Fatal("a read-only transaction that wrote gave the gate back before it ended")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(db.gate.slot) != 0 {
		t.Fatal("the gate is still held after the transaction ended")
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db.Close() // again: nothing happens (the cleanup closes it a third time)
}
