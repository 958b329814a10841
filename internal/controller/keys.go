package controller

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/store"
)

// Keys maps API keys to the users they belong to. Only a key's SHA-256 is
// stored; lookups are cached in memory.
type Keys struct {
	db    *store.DB
	cache sync.Map // hash -> email
}

// NewKeys returns the key registry over a migrated database.
func NewKeys(db *store.DB) *Keys { return &Keys{db: db} }

// NewKey returns a fresh random API key.
func NewKey() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return "ss_" + hex.EncodeToString(b[:]), nil
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Ensure registers key for the user with email, or re-points it there.
func (k *Keys) Ensure(ctx context.Context, key, email string) error {
	if key == "" || email == "" {
		return fmt.Errorf("register API key: key and email are required")
	}
	h := hashKey(key)
	err := k.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE key_hash = ?`, h); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (key_hash, user_email, created_at) VALUES (?, ?, ?)`,
			h, email, time.Now().UTC().Format(time.RFC3339Nano))
		return err
	})
	if err != nil {
		return fmt.Errorf("register API key for %s: %w", email, err)
	}
	k.cache.Store(h, email)
	return nil
}

// User returns the email of the key's user, and false for an unknown key.
func (k *Keys) User(ctx context.Context, key string) (string, bool, error) {
	if key == "" {
		return "", false, nil
	}
	h := hashKey(key)
	if v, ok := k.cache.Load(h); ok {
		return v.(string), true, nil
	}
	var email string
	err := k.db.QueryRow(ctx, `SELECT user_email FROM api_keys WHERE key_hash = ?`, h).Scan(&email)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("look up API key: %w", err)
	}
	k.cache.Store(h, email)
	return email, true, nil
}
