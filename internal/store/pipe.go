package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Stmt is one statement of a pipelined transaction, written with '?'
// placeholders. Scan, when set, reads the one row the statement returns (it
// gets an error matching sql.ErrNoRows when there is none); without it the
// statement is executed and any rows it returns are ignored.
type Stmt struct {
	Query string
	Args  []any
	Scan  func(Row) error
}

// Row is one result row, as sql.Row and pgx.Row both are.
type Row interface{ Scan(dest ...any) error }

// ErrNotCommitted marks an error from InPipeTx after which the transaction
// is known not to have committed: fn failed, or a statement did. An error
// at COMMIT itself (a lost connection, say) does not carry it, for the
// transaction may then have committed.
var ErrNotCommitted = errors.New("transaction not committed")

// PipeTx is a transaction whose statements travel in rounds: Queue adds
// statements to the current round, Flush sends it and scans what comes
// back, in order. On PostgreSQL a round is one pgx pipeline, one network
// round trip however many statements it holds, with BEGIN riding along
// with the first round and COMMIT with the last; on SQLite the statements
// run one after another in process. Statements of a round see the effects
// of the ones before them, as in any transaction.
type PipeTx struct {
	queued []Stmt
	// rowsWithCommit lets the last round's rows travel with COMMIT.
	rowsWithCommit bool
	// round runs stmts, then COMMIT when commit is set.
	round func(stmts []Stmt, commit bool) error
}

// Queue adds statements to the current round.
func (p *PipeTx) Queue(stmts ...Stmt) { p.queued = append(p.queued, stmts...) }

// Flush sends the current round and runs each statement's Scan on its row.
// After an error the transaction is lost: return the error from fn.
func (p *PipeTx) Flush() error {
	if len(p.queued) == 0 {
		return nil
	}
	err := p.round(p.queued, false)
	clear(p.queued)
	p.queued = p.queued[:0]
	return err
}

// ReadRowsWithCommit lets the statements left queued when fn returns travel
// with COMMIT even when they return rows, so that a transaction whose
// statements check and write by themselves is one round trip. Their Scans
// then run once COMMIT has been sent (on PostgreSQL): a Scan that fails no
// longer stops the commit, and its error, which does not wrap
// ErrNotCommitted, says the transaction may have committed. A statement the
// database refuses still rolls everything back, as in any round. On SQLite
// the statements run one by one before COMMIT, as always.
func (p *PipeTx) ReadRowsWithCommit() { p.rowsWithCommit = true }

func (p *PipeTx) commit() error {
	for _, s := range p.queued {
		if s.Scan != nil && !p.rowsWithCommit {
			// COMMIT travels with the round: a Scan that fails could no
			// longer stop it, so rows are read in a round of their own.
			if err := p.Flush(); err != nil {
				return err
			}
			break
		}
	}
	err := p.round(p.queued, true)
	p.queued = nil
	return err
}

// InPipeTx runs fn in a pipelined transaction and, when fn returns nil,
// commits, sending what fn left queued with the COMMIT; otherwise it rolls
// back and returns fn's error. Errors after which the transaction surely
// did not commit wrap ErrNotCommitted. On SQLite the transaction takes the
// write lock at BEGIN, as InTx's does.
func (db *DB) InPipeTx(ctx context.Context, fn func(p *PipeTx) error) error {
	if db.Dialect == Postgres {
		return db.inPgxPipeTx(ctx, fn)
	}
	return db.inSQLPipeTx(ctx, fn)
}

// inSQLPipeTx runs the rounds statement by statement through database/sql
// (each connection keeps its statements prepared: see sqliteConn).
func (db *DB) inSQLPipeTx(ctx context.Context, fn func(p *PipeTx) error) error {
	tx, err := db.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: begin transaction: %w", ErrNotCommitted, err)
	}
	done := false
	p := &PipeTx{round: func(stmts []Stmt, commit bool) error {
		for i, s := range stmts {
			q := db.Rebind(s.Query)
			var err error
			if s.Scan != nil {
				err = s.Scan(tx.QueryRowContext(ctx, q, s.Args...))
			} else {
				_, err = tx.ExecContext(ctx, q, s.Args...)
			}
			if err != nil {
				return fmt.Errorf("%w: statement %d of %d: %w", ErrNotCommitted, i+1, len(stmts), err)
			}
		}
		if commit {
			done = true
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
		return nil
	}}
	if err = fn(p); err == nil {
		if err = p.commit(); err == nil || done {
			return err
		}
	}
	if !done {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, driver.ErrBadConn) {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rbErr))
		}
	}
	return notCommitted(err)
}

// inPgxPipeTx sends each round as one pipeline on a pgx connection taken
// from the pool.
func (db *DB) inPgxPipeTx(ctx context.Context, fn func(p *PipeTx) error) error {
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%w: begin transaction: %w", ErrNotCommitted, err)
	}
	defer conn.Close()
	var txErr error
	rawErr := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			txErr = fmt.Errorf("%w: begin transaction: driver connection is %T, not pgx", ErrNotCommitted, dc)
			return nil
		}
		pc := sc.Conn()
		begun := false
		p := &PipeTx{round: func(stmts []Stmt, commit bool) error {
			err := pgxRound(ctx, pc, db, stmts, !begun, commit)
			begun = true
			return err
		}}
		if txErr = fn(p); txErr == nil {
			txErr = p.commit()
		} else {
			txErr = notCommitted(txErr)
		}
		if pc.IsClosed() {
			return driver.ErrBadConn
		}
		if pc.PgConn().TxStatus() != 'I' { // fn or a statement failed mid-transaction
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := pc.Exec(rctx, "ROLLBACK"); err != nil {
				txErr = errors.Join(txErr, fmt.Errorf("roll back: %w", err))
				return driver.ErrBadConn // the pool must not reuse it
			}
		}
		return nil
	})
	if txErr != nil {
		return txErr
	}
	if rawErr != nil && !errors.Is(rawErr, driver.ErrBadConn) {
		return fmt.Errorf("transaction: %w", rawErr)
	}
	return nil
}

// pgxRound sends one round as a pipeline: BEGIN first when begin is set,
// COMMIT last when commit is set, one Sync for all.
//
// A transaction of one round needs neither: the statements of a pipeline
// up to its Sync that no BEGIN opened run as one implicit transaction,
// which the server commits at the Sync (and rolls back there after a
// statement fails) before it answers ReadyForQuery. That saves the server
// and pgx two statements a transaction.
func pgxRound(ctx context.Context, pc *pgx.Conn, db *DB, stmts []Stmt, begin, commit bool) error {
	implicit := begin && commit
	if implicit {
		begin, commit = false, false
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts)+2)}
	if begin {
		b.Queue("BEGIN")
	}
	for _, s := range stmts {
		b.Queue(db.Rebind(s.Query), s.Args...)
	}
	if commit {
		b.Queue("COMMIT")
	}
	commit = commit || implicit // from here on: whether this round commits
	br := pc.SendBatch(ctx, b)
	fail := func(err error) error {
		if cerr := br.Close(); cerr != nil && !errors.Is(cerr, err) {
			err = errors.Join(err, cerr)
		}
		return err
	}
	if begin {
		if _, err := br.Exec(); err != nil {
			return fail(fmt.Errorf("%w: begin transaction: %w", ErrNotCommitted, err))
		}
	}
	var scanErr error // a Scan's own failure in a commit round, reported once COMMIT is read
	for i, s := range stmts {
		var err error
		if s.Scan != nil {
			err = s.Scan(br.QueryRow())
		} else {
			_, err = br.Exec()
		}
		if err == nil {
			continue
		}
		var pgErr *pgconn.PgError
		if commit && !errors.As(err, &pgErr) {
			// COMMIT has been sent: only the server refusing a statement
			// (which makes it skip what follows, COMMIT included) proves
			// nothing committed. A Scan's own error, or a lost connection,
			// leaves it open.
			if scanErr == nil {
				scanErr = fmt.Errorf("statement %d of %d, read with COMMIT: %w", i+1, len(stmts), err)
			}
			if pc.IsClosed() {
				return fail(scanErr)
			}
			continue
		}
		// The server skips what follows a failed statement up to the
		// Sync, COMMIT included.
		return fail(fmt.Errorf("%w: statement %d of %d: %w", ErrNotCommitted, i+1, len(stmts), err))
	}
	if commit && !implicit {
		if _, err := br.Exec(); err != nil {
			return fail(errors.Join(scanErr, fmt.Errorf("commit: %w", err)))
		}
	}
	if err := br.Close(); err != nil {
		if commit {
			return errors.Join(scanErr, fmt.Errorf("commit: %w", err))
		}
		return fmt.Errorf("%w: %w", ErrNotCommitted, err)
	}
	return scanErr
}

// notCommitted wraps err in ErrNotCommitted unless it already is.
func notCommitted(err error) error {
	if errors.Is(err, ErrNotCommitted) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrNotCommitted, err)
}
