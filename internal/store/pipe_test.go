package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

func pipeTable(t *testing.T) *store.DB {
	t.Helper()
	db := storetest.Open(t)
	if _, err := db.Exec(context.Background(), `CREATE TABLE pipe_rows (id BIGINT PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func countRows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM pipe_rows`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func insertRow(id int64, body string) store.Stmt {
	return store.Stmt{Query: `INSERT INTO pipe_rows (id, body) VALUES (?, ?)`, Args: []any{id, body}}
}

// Rounds see the statements before them, rows are scanned in order, and
// what is left queued commits with the transaction.
func TestPipeTxRoundsAndCommit(t *testing.T) {
	ctx := context.Background()
	db := pipeTable(t)
	var n, missing int
	var body string
	var noRow error
	err := db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(insertRow(1, "one"), insertRow(2, "two"),
			store.Stmt{Query: `SELECT COUNT(*) FROM pipe_rows`, Scan: func(r store.Row) error { return r.Scan(&n) }},
			store.Stmt{Query: `SELECT body FROM pipe_rows WHERE id = ?`, Args: []any{int64(2)}, Scan: func(r store.Row) error { return r.Scan(&body) }},
			store.Stmt{Query: `SELECT id FROM pipe_rows WHERE id = ?`, Args: []any{int64(9)}, Scan: func(r store.Row) error {
				noRow = r.Scan(&missing)
				return nil
			}})
		if err := p.Flush(); err != nil {
			return err
		}
		if n != 2 || body != "two" || !errors.Is(noRow, sql.ErrNoRows) {
			t.Errorf("first round read n=%d body=%q no row=%v", n, body, noRow)
		}
		p.Queue(insertRow(3, "three"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, db); got != 3 {
		t.Fatalf("%d rows committed, want 3", got)
	}
}

// A failing statement, in a middle round, the last one or the only one,
// rolls the whole transaction back and says so; the connection stays
// usable.
func TestPipeTxStatementFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	db := pipeTable(t)
	// The only round is a transaction of its own (on PostgreSQL an
	// implicit one, with no BEGIN or COMMIT): it too is all or nothing.
	for _, round := range []string{"middle", "last", "only"} {
		err := db.InPipeTx(ctx, func(p *store.PipeTx) error {
			p.Queue(insertRow(1, "one"))
			if round != "only" {
				if err := p.Flush(); err != nil {
					return err
				}
			}
			p.Queue(insertRow(2, "two"), insertRow(1, "duplicate"), insertRow(3, "three"))
			if round != "middle" {
				return nil
			}
			return p.Flush()
		})
		if err == nil || !errors.Is(err, store.ErrNotCommitted) {
			t.Fatalf("%s round: err = %v, want ErrNotCommitted", round, err)
		}
		if got := countRows(t, db); got != 0 {
			t.Fatalf("%s round: %d rows left, want 0", round, got)
		}
	}
	// Every pooled connection still works, none is stuck in a transaction.
	for i := int64(0); i < 20; i++ {
		if err := db.InPipeTx(ctx, func(p *store.PipeTx) error { p.Queue(insertRow(10+i, "ok")); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if got := countRows(t, db); got != 20 {
		t.Fatalf("%d rows, want 20", got)
	}
}

// An error from fn, or from a Scan, rolls back and is returned.
func TestPipeTxFnErrorRollsBack(t *testing.T) {
	ctx := context.Background()
	db := pipeTable(t)
	mine := errors.New("mine")
	err := db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(insertRow(1, "one"))
		if err := p.Flush(); err != nil {
			return err
		}
		return mine
	})
	if !errors.Is(err, mine) || !errors.Is(err, store.ErrNotCommitted) {
		t.Fatalf("err = %v", err)
	}
	err = db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(insertRow(2, "two"), store.Stmt{Query: `SELECT COUNT(*) FROM pipe_rows`, Scan: func(store.Row) error { return mine }})
		return nil // the Scan left for the commit runs in a round of its own, before COMMIT
	})
	if !errors.Is(err, mine) || !errors.Is(err, store.ErrNotCommitted) {
		t.Fatalf("err = %v", err)
	}
	if got := countRows(t, db); got != 0 {
		t.Fatalf("%d rows left, want 0", got)
	}
}

// More distinct statements than the SQLite statement cache holds still run.
func TestPipeTxManyDistinctStatements(t *testing.T) {
	ctx := context.Background()
	db := pipeTable(t)
	for i := int64(0); i < 100; i++ {
		var got int64
		err := db.InPipeTx(ctx, func(p *store.PipeTx) error {
			p.Queue(insertRow(i, "x"), store.Stmt{Query: fmt.Sprintf(`SELECT id + %d FROM pipe_rows WHERE id = ?`, i), Args: []any{i},
				Scan: func(r store.Row) error { return r.Scan(&got) }})
			return p.Flush()
		})
		if err != nil || got != 2*i {
			t.Fatalf("statement %d: got %d, %v", i, got, err)
		}
	}
	if got := countRows(t, db); got != 100 {
		t.Fatalf("%d rows, want 100", got)
	}
}

// A pipelined transaction needs no second connection of the pool: while it
// holds SQLite's write lock, other writers can fill the pool waiting for
// that lock, and a statement prepared for the first time must not wait for
// one of them.
func TestPipeTxDoesNotWaitForTheWritersItBlocks(t *testing.T) {
	ctx := context.Background()
	db := pipeTable(t)
	start := time.Now()
	var wg sync.WaitGroup
	err := db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(insertRow(1, "one"))
		if err := p.Flush(); err != nil {
			return err
		}
		for i := int64(0); i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := db.InTx(ctx, func(tx *store.Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO pipe_rows (id, body) VALUES (?, ?)`, 100+i, "other")
					return err
				}); err != nil {
					t.Error(err)
				}
			}()
		}
		time.Sleep(200 * time.Millisecond) // let them take the pool's connections
		p.Queue(store.Stmt{Query: `UPDATE pipe_rows SET body = ? WHERE id = ?`, Args: []any{"first time", int64(1)}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v: the transaction waited for a connection", d)
	}
	if got := countRows(t, db); got != 7 {
		t.Fatalf("%d rows, want 7", got)
	}
}

// With ReadRowsWithCommit, statements that return rows travel with COMMIT:
// their rows are read, a statement the database refuses still rolls
// everything back, and a Scan's own failure is reported without claiming
// that nothing committed (on PostgreSQL COMMIT has then been sent).
func TestPipeTxRowsWithCommit(t *testing.T) {
	ctx := context.Background()
	db := pipeTable(t)
	var n int
	var body string
	err := db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(insertRow(1, "one"),
			store.Stmt{Query: `INSERT INTO pipe_rows (id, body) VALUES (?, ?) RETURNING body`, Args: []any{int64(2), "two"},
				Scan: func(r store.Row) error { return r.Scan(&body) }},
			store.Stmt{Query: `SELECT COUNT(*) FROM pipe_rows`, Scan: func(r store.Row) error { return r.Scan(&n) }})
		p.ReadRowsWithCommit()
		return nil
	})
	if err != nil || n != 2 || body != "two" {
		t.Fatalf("n=%d body=%q err=%v", n, body, err)
	}
	if got := countRows(t, db); got != 2 {
		t.Fatalf("%d rows committed, want 2", got)
	}

	err = db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(insertRow(3, "three"),
			store.Stmt{Query: `INSERT INTO pipe_rows (id, body) VALUES (?, ?) RETURNING body`, Args: []any{int64(1), "duplicate"},
				Scan: func(r store.Row) error { return r.Scan(&body) }})
		p.ReadRowsWithCommit()
		return nil
	})
	if !errors.Is(err, store.ErrNotCommitted) {
		t.Fatalf("refused statement: err = %v, want ErrNotCommitted", err)
	}
	if got := countRows(t, db); got != 2 {
		t.Fatalf("%d rows after a refused statement, want 2", got)
	}

	mine := errors.New("mine")
	err = db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(insertRow(4, "four"), store.Stmt{Query: `SELECT COUNT(*) FROM pipe_rows`, Scan: func(store.Row) error { return mine }})
		p.ReadRowsWithCommit()
		return nil
	})
	want := 3 // PostgreSQL: COMMIT travelled with the statements
	if db.Dialect == store.SQLite {
		want = 2 // SQLite runs the Scan before COMMIT
	}
	if !errors.Is(err, mine) || errors.Is(err, store.ErrNotCommitted) != (want == 2) {
		t.Fatalf("failing Scan: err = %v", err)
	}
	if got := countRows(t, db); got != want {
		t.Fatalf("%d rows after a failing Scan, want %d", got, want)
	}
	// The connections are all still usable.
	for i := int64(0); i < 20; i++ {
		if err := db.InPipeTx(ctx, func(p *store.PipeTx) error { p.Queue(insertRow(10+i, "ok")); p.ReadRowsWithCommit(); return nil }); err != nil {
			t.Fatal(err)
		}
	}
}
