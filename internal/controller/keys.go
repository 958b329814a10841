package controller

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/store"
)

// The slots of the keys the server configures itself. A slot holds one
// valid key: registering another key in it revokes the one before.
const (
	// SlotAdmin holds the configured admin key (api_key, SYSTEMSYNC_API_KEY,
	// or the generated data_dir/admin.key).
	SlotAdmin = "admin"
	// SlotBot holds the bot's own key (data_dir/bot.key).
	SlotBot = "bot"
	// SlotLegacy holds the keys registered before keys had roles (schema
	// version 4): the admin's and the bot's, each of them current or
	// rotated away. The server revokes those it has not claimed again.
	SlotLegacy = "legacy"
)

// RevocationDelay bounds how long a process keeps accepting a key that
// another process (the CLI, another server on the same database) revoked:
// a valid key is looked up in the database again once its cached answer
// is this old. A key revoked by the process itself is refused at once.
const RevocationDelay = 2 * time.Second

// ErrKeyRevoked is the error of registering a key that was revoked: a
// revoked key never becomes valid again.
var ErrKeyRevoked = errors.New("the key was revoked")

// Key is what the bot tells of an API key: never the key or its hash.
type Key struct {
	// ID names the key for people (app keys revoke ID); it is not secret.
	ID    string      `json:"id"`
	Email string      `json:"email"`
	Role  access.Role `json:"role"`
	// Slot is SlotAdmin or SlotBot for the keys the server configures,
	// SlotLegacy for keys from before roles, empty for a user's key.
	Slot      string     `json:"slot,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"` // null while the key is valid
}

// Keys is the registry of API keys: each belongs to a user (an email) and
// has a role. Only a key's SHA-256 is stored. Lookups of valid keys are
// cached for at most RevocationDelay.
type Keys struct {
	db  *store.DB
	ttl time.Duration

	mu    sync.Mutex
	gen   uint64 // counts this process's revocations (see forget)
	cache map[string]cachedKey
}

type cachedKey struct {
	p     access.Principal
	until time.Time
}

// NewKeys returns the key registry over a migrated database.
func NewKeys(db *store.DB) *Keys {
	return &Keys{db: db, ttl: RevocationDelay, cache: map[string]cachedKey{}}
}

// NewKey returns a fresh random API key.
func NewKey() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return "ss_" + hex.EncodeToString(b[:]), nil
}

func newKeyID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate API key id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// checkUser refuses an email that is not a bare address and a role that
// is not one of access.Roles.
func checkUser(email string, role access.Role) error {
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || a.Name != "" {
		return errorf(http.StatusBadRequest, "email %q is not an address such as alice@example.com", email)
	}
	if _, err := access.ParseRole(string(role)); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	return nil
}

// Create makes a new key for the user email with role, and returns it
// with the key itself, which is never told again.
func (k *Keys) Create(ctx context.Context, email string, role access.Role) (Key, string, error) {
	secret, err := NewKey()
	if err != nil {
		return Key{}, "", err
	}
	key, _, err := k.put(ctx, "", secret, email, role)
	if err != nil {
		return Key{}, "", err
	}
	return key, secret, nil
}

// Register registers secret, a key chosen by the caller, for the user
// email with role, or re-points it there when it is registered already.
// A revoked key is refused with ErrKeyRevoked.
func (k *Keys) Register(ctx context.Context, secret, email string, role access.Role) (Key, error) {
	key, _, err := k.put(ctx, "", secret, email, role)
	return key, err
}

// Ensure registers key for the user email as an admin (see Register).
func (k *Keys) Ensure(ctx context.Context, key, email string) error {
	_, err := k.Register(ctx, key, email, access.Admin)
	return err
}

// Claim registers secret in slot for the user email with role, and revokes
// every other key of the slot: it returns them. A revoked key is refused
// with ErrKeyRevoked.
func (k *Keys) Claim(ctx context.Context, slot, secret, email string, role access.Role) (Key, []Key, error) {
	if slot == "" {
		return Key{}, nil, fmt.Errorf("claim API key slot: no slot named")
	}
	return k.put(ctx, slot, secret, email, role)
}

// put registers secret for email with role; in slot, when slot is set,
// revoking the slot's other keys.
func (k *Keys) put(ctx context.Context, slot, secret, email string, role access.Role) (Key, []Key, error) {
	if secret == "" {
		return Key{}, nil, fmt.Errorf("register API key for %s: the key is empty", email)
	}
	if err := checkUser(email, role); err != nil {
		return Key{}, nil, fmt.Errorf("register API key: %w", err)
	}
	h := hashKey(secret)
	now := time.Now().UTC()
	var key Key
	var revoked []Key
	err := k.db.InTx(ctx, func(tx *store.Tx) error {
		if err := k.lock(ctx, tx); err != nil {
			return err
		}
		old, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = ?`, h))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			id, err := newKeyID()
			if err != nil {
				return err
			}
			key = Key{ID: id, Email: email, Role: role, Slot: slot, CreatedAt: now}
			if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, key_hash, user_email, role, slot, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, '')`,
				id, h, email, string(role), slot, now.Format(time.RFC3339Nano)); err != nil {
				return err
			}
		case err != nil:
			return err
		case old.RevokedAt != nil:
			return fmt.Errorf("key %s: %w", old.ID, ErrKeyRevoked)
		default:
			key = old
			key.Email, key.Role = email, role
			if slot != "" {
				key.Slot = slot
			}
			if _, err := tx.Exec(ctx, `UPDATE api_keys SET user_email = ?, role = ?, slot = ? WHERE id = ?`,
				email, string(role), key.Slot, key.ID); err != nil {
				return err
			}
		}
		if slot == "" {
			return nil
		}
		revoked, err = revokeWhere(ctx, tx, now, `slot = ? AND id <> ?`, slot, key.ID)
		return err
	})
	if err != nil {
		return Key{}, nil, fmt.Errorf("register API key for %s: %w", email, err)
	}
	// A key re-pointed to another user or role must not be answered from
	// the cache as it was; nor a revoked one.
	k.forget()
	return key, revoked, nil
}

// RevokeSlot revokes every valid key of slot and returns them.
func (k *Keys) RevokeSlot(ctx context.Context, slot string) ([]Key, error) {
	var revoked []Key
	err := k.db.InTx(ctx, func(tx *store.Tx) error {
		if err := k.lock(ctx, tx); err != nil {
			return err
		}
		var err error
		revoked, err = revokeWhere(ctx, tx, time.Now().UTC(), `slot = ?`, slot)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke the %s API keys: %w", slot, err)
	}
	if len(revoked) > 0 {
		k.forget()
	}
	return revoked, nil
}

// Revoke revokes the key named id and returns it; a revoked key is
// answered as it is. It refuses (409) the bot's own key, which is
// replaced with data_dir/bot.key, and the last valid admin key but the
// bot's, without which nobody could manage keys through the API.
func (k *Keys) Revoke(ctx context.Context, id string) (Key, error) {
	var key Key
	err := k.db.InTx(ctx, func(tx *store.Tx) error {
		if err := k.lock(ctx, tx); err != nil {
			return err
		}
		var err error
		key, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return errorf(http.StatusNotFound, "no API key %q", id)
		}
		if err != nil || key.RevokedAt != nil {
			return err
		}
		if key.Slot == SlotBot {
			return errorf(http.StatusConflict, "API key %s is the bot's own: replace data_dir/bot.key and restart the server to change it", id)
		}
		if key.Role == access.Admin {
			var others int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM api_keys WHERE role = ? AND revoked_at = '' AND slot <> ? AND id <> ?`,
				string(access.Admin), SlotBot, id).Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				return errorf(http.StatusConflict, "API key %s is the last admin key: create another one first (app keys create --email E --role admin)", id)
			}
		}
		revoked, err := revokeWhere(ctx, tx, time.Now().UTC(), `id = ?`, id)
		if err == nil && len(revoked) == 1 {
			key = revoked[0]
		}
		return err
	})
	if err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) {
			return Key{}, err
		}
		return Key{}, fmt.Errorf("revoke API key %s: %w", id, err)
	}
	k.forget()
	return key, nil
}

// List returns every key, valid and revoked, oldest first.
func (k *Keys) List(ctx context.Context) ([]Key, error) {
	rows, err := k.db.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	keys := []Key{}
	for rows.Next() {
		key, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		keys = append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// Authenticate returns who holds secret: the key's user and role. A
// missing, unknown or revoked key is an *Error with status 401.
func (k *Keys) Authenticate(ctx context.Context, secret string) (access.Principal, error) {
	if secret == "" {
		return access.Principal{}, errorf(http.StatusUnauthorized, "missing X-API-KEY header")
	}
	h := hashKey(secret)
	return k.lookup(ctx, h, `key_hash = ?`, h, "look up API key")
}

// ByID returns who holds the key named id, as Authenticate does for the
// key itself: for a console session signed in with that key, which keeps
// the key's ID, never the key. An unknown or revoked key is an *Error with
// status 401. Answers are cached as Authenticate's are.
func (k *Keys) ByID(ctx context.Context, id string) (access.Principal, error) {
	if id == "" {
		return access.Principal{}, errorf(http.StatusUnauthorized, "no API key named")
	}
	// The cache key is never a hash: those are hex, without a colon.
	return k.lookup(ctx, "id:"+id, `id = ?`, id, "look up API key "+id)
}

// lookup returns who holds the key the column where (arg its value) finds:
// from the cache under cacheKey while its answer is kept, else from the
// database, caching it unless a revocation came meanwhile.
func (k *Keys) lookup(ctx context.Context, cacheKey, where, arg, what string) (access.Principal, error) {
	now := time.Now()
	k.mu.Lock()
	c, ok := k.cache[cacheKey]
	gen := k.gen
	k.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.p, nil
	}
	key, err := scanKey(k.db.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return access.Principal{}, errorf(http.StatusUnauthorized, "unknown API key")
	}
	if err != nil {
		return access.Principal{}, fmt.Errorf("%s: %w", what, err)
	}
	if key.RevokedAt != nil {
		return access.Principal{}, errorf(http.StatusUnauthorized, "revoked API key")
	}
	p := access.Principal{Email: key.Email, Role: key.Role, KeyID: key.ID}
	k.mu.Lock()
	if k.gen == gen { // no revocation here since the read: it may be kept
		k.cache[cacheKey] = cachedKey{p: p, until: now.Add(k.ttl)}
	}
	k.mu.Unlock()
	return p, nil
}

// forget empties the cache after a change of keys in this process, and
// keeps a lookup that read the database before the change from caching
// what it read.
func (k *Keys) forget() {
	k.mu.Lock()
	k.gen++
	clear(k.cache)
	k.mu.Unlock()
}

// lock serialises the writers of keys on PostgreSQL until tx ends, so
// that two revocations cannot both find the other's admin key valid and
// two claims of a slot cannot both keep their own key; SQLite's write
// lock, taken at BEGIN, already does.
func (k *Keys) lock(ctx context.Context, tx *store.Tx) error {
	if k.db.Dialect != store.Postgres {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(727272)`); err != nil {
		return fmt.Errorf("lock API keys: %w", err)
	}
	return nil
}

// revokeWhere revokes the valid keys matching cond at now and returns them.
func revokeWhere(ctx context.Context, tx *store.Tx, now time.Time, cond string, args ...any) ([]Key, error) {
	rows, err := tx.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE revoked_at = '' AND `+cond, args...)
	if err != nil {
		return nil, err
	}
	var keys []Key
	for rows.Next() {
		key, err := scanKey(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		key.RevokedAt = &now
		keys = append(keys, key)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, key := range keys {
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, now.Format(time.RFC3339Nano), key.ID); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

const keyColumns = `id, user_email, role, slot, created_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var key Key
	var role, created, revoked string
	if err := row.Scan(&key.ID, &key.Email, &role, &key.Slot, &created, &revoked); err != nil {
		return Key{}, err
	}
	key.Role = access.Role(role)
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return Key{}, fmt.Errorf("API key %s: created_at %q: %w", key.ID, created, err)
	}
	key.CreatedAt = t
	if revoked != "" {
		t, err := time.Parse(time.RFC3339Nano, revoked)
		if err != nil {
			return Key{}, fmt.Errorf("API key %s: revoked_at %q: %w", key.ID, revoked, err)
		}
		key.RevokedAt = &t
	}
	return key, nil
}
