// Package sessionstore keeps the web console's sessions (scs/v2) in the
// bot's own database: one store for SQLite and PostgreSQL, over the table
// `sessions` of migration 6.
package sessionstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/systemsync/systemsync/internal/store"
)

// Store is an scs.CtxStore over a migrated database. It keeps what scs
// gives it: with SessionManager.HashTokenInStore set, a token's SHA-256
// rather than the token.
type Store struct {
	db  *store.DB
	now func() time.Time
}

var _ scs.CtxStore = (*Store)(nil)

// New returns the session store over db.
func New(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

// FindCtx returns the data of the session token; found is false for a
// token that is unknown or expired.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := s.db.QueryRow(ctx, `SELECT data FROM sessions WHERE token = ? AND expiry > ?`, token, s.now().UnixMilli()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return data, true, nil
}

// CommitCtx stores the session token with data until expiry, replacing
// what it held.
func (s *Store) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`, token, data, expiry.UnixMilli())
	if err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return nil
}

// DeleteCtx removes the session token; an unknown one is no error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Find is FindCtx without a context (scs.Store).
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context (scs.Store).
func (s *Store) Commit(token string, data []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, data, expiry)
}

// Delete is DeleteCtx without a context (scs.Store).
func (s *Store) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

// DeleteExpired removes the sessions that expired and returns how many.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE expiry <= ?`, s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// Cleanup deletes expired sessions every interval until ctx ends.
func (s *Store) Cleanup(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
				log.Warn("session cleanup", "err", err)
			} else if n > 0 {
				log.Debug("expired sessions deleted", "count", n)
			}
		}
	}
}
