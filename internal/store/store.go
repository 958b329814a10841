// Package store opens the bot's database, SQLite or PostgreSQL, behind one
// database/sql handle, and keeps its schema current with versioned migrations.
// The same SQL runs on both: queries are written with '?' placeholders and
// rebound for PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// The engines the store speaks.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database with its dialect. It is safe for concurrent use.
type DB struct {
	*sql.DB
	Dialect Dialect
	url     string
	// gate queues the writers of every pool of this process opened on the
	// same SQLite file (see OpenPool); nil on PostgreSQL.
	gate *writeGate
	// stopCheckpoints ends the SQLite checkpoints this DB runs (Open's DB
	// runs them for its pools); nil when it runs none.
	stopCheckpoints func()
}

// Close closes the database (and, on SQLite, stops the checkpoints of a
// database opened by Open).
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
	}
	return err
}

// Open connects to url: `sqlite:///abs/path.db` (or `sqlite://rel/path.db`),
// or `postgres://…` / `postgresql://…`. A SQLite database is created when
// missing, in WAL mode with a busy timeout; its parent folder is created too.
// Its writers queue in a gate of this process (see OpenPool for a second
// pool that shares it). Open does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		// SQLite has one writer; a small pool keeps readers concurrent
		// under WAL while the gate queues the writers.
		return openSQLite(ctx, rawURL, 4, nil)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		sqlDB, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", Redact(rawURL), err)
		}
		sqlDB.SetMaxOpenConns(16)
		db := &DB{DB: sqlDB, Dialect: Postgres, url: rawURL}
		if err := db.PingContext(ctx); err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("open database %s: %w", Redact(rawURL), err)
		}
		return db, nil
	default:
		return nil, fmt.Errorf("open database: unsupported URL %q: want sqlite:///path or postgres://", Redact(rawURL))
	}
}

// OpenPool opens another pool of at most maxConns connections to the same
// SQLite database, for a part of the program that manages its connections
// itself (River's job queue). Its writers queue in the same gate as db's,
// so the two pools never sleep in SQLite's busy handler waiting for each
// other. Close it before db. (On PostgreSQL, open a pool of URL.)
func (db *DB) OpenPool(ctx context.Context, maxConns int) (*DB, error) {
	if db.Dialect != SQLite {
		return nil, fmt.Errorf("open pool: only a SQLite database shares its writer gate; open a pool of the %s URL", db.Dialect)
	}
	return openSQLite(ctx, db.url, maxConns, db.gate)
}

// URL is the URL the database was opened with (it may hold a password:
// see Redact).
func (db *DB) URL() string { return db.url }

// Redact hides a password in a database URL so it can be printed or logged.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Rebind rewrites '?' placeholders as $1, $2, … for PostgreSQL; SQLite
// takes the query as written. Queries must not hold a literal '?'.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	i := strings.IndexByte(query, '?')
	if i < 0 {
		return query
	}
	b := make([]byte, 0, len(query)+16)
	for n := int64(1); i >= 0; n++ {
		b = append(b, query[:i]...)
		b = append(b, '$')
		b = strconv.AppendInt(b, n, 10)
		query = query[i+1:]
		i = strings.IndexByte(query, '?')
	}
	return string(append(b, query...))
}

// Tx is a transaction that rebinds its queries for the DB's dialect.
type Tx struct {
	*sql.Tx
	db *DB
}

// Exec runs a statement written with '?' placeholders.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, tx.db.Rebind(query), args...)
}

// Query runs a query written with '?' placeholders.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, tx.db.Rebind(query), args...)
}

// QueryRow runs a one-row query written with '?' placeholders.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.db.Rebind(query), args...)
}

// Exec runs a statement written with '?' placeholders.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.DB.ExecContext(ctx, db.Rebind(query), args...)
}

// Query runs a query written with '?' placeholders.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.DB.QueryContext(ctx, db.Rebind(query), args...)
}

// QueryRow runs a one-row query written with '?' placeholders.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.DB.QueryRowContext(ctx, db.Rebind(query), args...)
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise. On SQLite the transaction takes the write lock at BEGIN,
// so concurrent writers queue instead of failing on upgrade.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{Tx: sqlTx, db: db}
	if err := fn(tx); err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("roll back: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// NextID takes the next value of the named counter ("run"), in its own
// transaction; values are unique and increasing.
func (db *DB) NextID(ctx context.Context, counter string) (int64, error) {
	var id int64
	err := db.InTx(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value`, counter).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("next %s id: %w", counter, err)
	}
	return id, nil
}

// Position returns the stored value named name ("" when never set): where
// a follower or poller got to, so that it resumes there after a restart.
func (db *DB) Position(ctx context.Context, name string) (string, error) {
	var v string
	err := db.QueryRow(ctx, `SELECT value FROM positions WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read position %s: %w", name, err)
	}
	return v, nil
}

// SetPosition stores value under name.
func (db *DB) SetPosition(ctx context.Context, name, value string) error {
	_, err := db.Exec(ctx, `INSERT INTO positions (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("store position %s: %w", name, err)
	}
	return nil
}
