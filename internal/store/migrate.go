package store

import (
	"context"
	"fmt"
	"time"
)

// Migration is one versioned schema step. SQL runs on both dialects unless
// Postgres is set, in which case SQLite runs SQL and PostgreSQL runs Postgres.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Postgres string
}

// migrations is the schema history, oldest first. Append; never edit a
// released step.
var migrations = []Migration{
	{
		Version: 1,
		Name:    "controller resources, events and API keys",
		SQL: `
CREATE TABLE revision_counter (
	id INTEGER PRIMARY KEY,
	revision BIGINT NOT NULL
);
INSERT INTO revision_counter (id, revision) VALUES (1, 0);
CREATE TABLE resources (
	kind TEXT NOT NULL,
	project TEXT NOT NULL,
	name TEXT NOT NULL,
	body TEXT NOT NULL,
	resource_version BIGINT NOT NULL,
	created_at TEXT NOT NULL,
	modified_at TEXT NOT NULL,
	PRIMARY KEY (kind, project, name)
);
CREATE INDEX resources_by_project ON resources (project, kind, name);
CREATE TABLE events (
	revision BIGINT PRIMARY KEY,
	type TEXT NOT NULL,
	kind TEXT NOT NULL,
	project TEXT NOT NULL,
	name TEXT NOT NULL,
	user_email TEXT NOT NULL,
	time TEXT NOT NULL
);
CREATE TABLE api_keys (
	key_hash TEXT PRIMARY KEY,
	user_email TEXT NOT NULL,
	created_at TEXT NOT NULL
);`,
	},
	{
		Version: 2,
		Name:    "sync state, runs, installations, positions",
		SQL: `
CREATE TABLE counters (
	name TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('run', 0);
CREATE TABLE sync_state (
	pipeline TEXT NOT NULL,
	kind TEXT NOT NULL,
	project TEXT NOT NULL,
	name TEXT NOT NULL,
	path TEXT NOT NULL,
	git_hash TEXT NOT NULL,
	system_hash TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (pipeline, kind, project, name)
);
CREATE TABLE runs (
	id BIGINT PRIMARY KEY,
	pipeline TEXT NOT NULL,
	trigger_type TEXT NOT NULL,
	status TEXT NOT NULL,
	commit_sha TEXT NOT NULL,
	message TEXT NOT NULL,
	started_at TEXT NOT NULL,
	ended_at TEXT NOT NULL,
	payload TEXT NOT NULL
);
CREATE INDEX runs_by_pipeline ON runs (pipeline, id);
CREATE TABLE run_rows (
	run_id BIGINT NOT NULL,
	seq INTEGER NOT NULL,
	kind TEXT NOT NULL,
	project TEXT NOT NULL,
	name TEXT NOT NULL,
	path TEXT NOT NULL,
	action TEXT NOT NULL,
	outcome TEXT NOT NULL,
	message TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
);
CREATE TABLE installations (
	id BIGINT PRIMARY KEY,
	account TEXT NOT NULL,
	action TEXT NOT NULL,
	repositories TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE positions (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	updated_at TEXT NOT NULL
);`,
	},
	{
		Version: 3,
		Name:    "the system as last listed, for controllers without an event log",
		SQL: `
CREATE TABLE listed_objects (
	kind TEXT NOT NULL,
	project TEXT NOT NULL,
	name TEXT NOT NULL,
	hash TEXT NOT NULL,
	PRIMARY KEY (kind, project, name)
);`,
	},
	{
		// Keys get a name a person can say (id), a role, the slot of a
		// configured key ("admin", "bot") and a revocation time ('' while
		// valid). Keys from before were the admin's and the bot's, with
		// every right: they become admin keys in slot "legacy", which the
		// server revokes once it has claimed its current admin and bot keys.
		Version: 4,
		Name:    "API keys with ids, roles, slots and revocation",
		SQL: `
CREATE TABLE api_keys_v4 (
	id TEXT PRIMARY KEY,
	key_hash TEXT NOT NULL UNIQUE,
	user_email TEXT NOT NULL,
	role TEXT NOT NULL,
	slot TEXT NOT NULL,
	created_at TEXT NOT NULL,
	revoked_at TEXT NOT NULL
);
INSERT INTO api_keys_v4 (id, key_hash, user_email, role, slot, created_at, revoked_at)
	SELECT lower(hex(randomblob(6))), key_hash, user_email, 'admin', 'legacy', created_at, '' FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v4 RENAME TO api_keys;
CREATE INDEX api_keys_by_slot ON api_keys (slot, revoked_at);`,
		Postgres: `
CREATE TABLE api_keys_v4 (
	id TEXT PRIMARY KEY,
	key_hash TEXT NOT NULL UNIQUE,
	user_email TEXT NOT NULL,
	role TEXT NOT NULL,
	slot TEXT NOT NULL,
	created_at TEXT NOT NULL,
	revoked_at TEXT NOT NULL
);
INSERT INTO api_keys_v4 (id, key_hash, user_email, role, slot, created_at, revoked_at)
	SELECT substr(md5(random()::text || key_hash), 1, 12), key_hash, user_email, 'admin', 'legacy', created_at, '' FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v4 RENAME TO api_keys;
CREATE INDEX api_keys_by_slot ON api_keys (slot, revoked_at);`,
	},
	{
		Version: 5,
		Name:    "processes and the owners of runs, so that a run cut short by a crash is known",
		SQL: `
CREATE TABLE processes (
	id TEXT PRIMARY KEY,
	host TEXT NOT NULL,
	pid BIGINT NOT NULL,
	started_at TEXT NOT NULL,
	expires_ms BIGINT NOT NULL
);
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_in_progress ON runs (owner) WHERE status = 'In Progress';`,
	},
	{
		// The web console's sessions (scs/v2; the token is stored as its
		// SHA-256, data as scs encodes it, expiry in Unix milliseconds),
		// the roles admins gave people who signed in with GitHub, and an
		// index for a resource's last run.
		Version: 6,
		Name:    "console sessions, console users, run rows by resource",
		SQL: `
CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BLOB NOT NULL,
	expiry BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expiry);
CREATE TABLE console_users (
	login TEXT PRIMARY KEY,
	email TEXT NOT NULL,
	role TEXT NOT NULL,
	role_set_by TEXT NOT NULL,
	last_sign_in TEXT NOT NULL
);
CREATE INDEX run_rows_by_resource ON run_rows (kind, project, name, run_id);`,
		Postgres: `
CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expiry);
CREATE TABLE console_users (
	login TEXT PRIMARY KEY,
	email TEXT NOT NULL,
	role TEXT NOT NULL,
	role_set_by TEXT NOT NULL,
	last_sign_in TEXT NOT NULL
);
CREATE INDEX run_rows_by_resource ON run_rows (kind, project, name, run_id);`,
	},
	{
		// People of the console by their GitHub user ID, not their login:
		// a login can be renamed and then registered by someone else. A
		// row is made at sign-in, or when an admin gives a role to someone
		// who has not signed in yet (last_sign_in ''). The rows of version
		// 6 name no ID: they are dropped (their roles must be given again).
		Version: 7,
		Name:    "console users by GitHub user ID",
		SQL: `
DROP TABLE console_users;
CREATE TABLE console_users (
	github_id BIGINT PRIMARY KEY,
	login TEXT NOT NULL,
	email TEXT NOT NULL,
	role TEXT NOT NULL,
	role_set_by TEXT NOT NULL,
	last_sign_in TEXT NOT NULL
);
CREATE INDEX console_users_by_login ON console_users (login);`,
	},
	{
		// A run's conflicts: the resources it found changed in Git and in
		// the system, differently, with the branch holding the system's
		// version, and how each was resolved (keep '' while open). And the
		// open pull requests' plans: the system revision each was made at
		// and the resources it touches, so that a change in the system
		// makes it again.
		Version: 8,
		Name:    "run conflicts and their resolution, open pull requests' plans",
		SQL: `
CREATE TABLE run_conflicts (
	run_id BIGINT NOT NULL,
	kind TEXT NOT NULL,
	project TEXT NOT NULL,
	name TEXT NOT NULL,
	path TEXT NOT NULL,
	stage TEXT NOT NULL,
	state TEXT NOT NULL,
	repository TEXT NOT NULL,
	branch TEXT NOT NULL,
	keep TEXT NOT NULL,
	resolved_by TEXT NOT NULL,
	resolved_via TEXT NOT NULL,
	resolved_at TEXT NOT NULL,
	resolved_run BIGINT NOT NULL,
	PRIMARY KEY (run_id, kind, project, name)
);
CREATE INDEX run_conflicts_open ON run_conflicts (state, kind, project, name) WHERE keep = '';
CREATE TABLE open_plans (
	repository TEXT NOT NULL,
	number BIGINT NOT NULL,
	stage TEXT NOT NULL,
	head TEXT NOT NULL,
	installation BIGINT NOT NULL,
	repo TEXT NOT NULL,
	keys TEXT NOT NULL,
	revision BIGINT NOT NULL,
	merged BOOLEAN NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (repository, number, stage)
);`,
	},
	{
		// A SecretSealer's key pair: the private key never leaves the
		// system (no API answer, log or Git holds it); kept when the sealer
		// is deleted, so that making it again restores what it sealed.
		Version: 9,
		Name:    "the key pairs of secret sealers",
		SQL: `
CREATE TABLE sealer_keys (
	project TEXT NOT NULL,
	name TEXT NOT NULL,
	private_key TEXT NOT NULL,
	certificate TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (project, name)
);`,
	},
}

// Migrations returns the schema history, oldest first.
func Migrations() []Migration { return append([]Migration(nil), migrations...) }

// Migrate brings the schema to the newest version, one transaction per
// step, recording each in schema_migrations. It is safe to run from several
// processes at once on PostgreSQL (an advisory lock serialises them).
func (db *DB) Migrate(ctx context.Context) error {
	return db.migrate(ctx, migrations)
}

// MigrateTo brings the schema to version and no further: a database as an
// older release left it, for the tests of a migration.
func (db *DB) MigrateTo(ctx context.Context, version int) error {
	var steps []Migration
	for _, m := range migrations {
		if m.Version <= version {
			steps = append(steps, m)
		}
	}
	return db.migrate(ctx, steps)
}

func (db *DB) migrate(ctx context.Context, steps []Migration) error {
	err := db.InTx(ctx, func(tx *Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for _, m := range steps {
		err := db.InTx(ctx, func(tx *Tx) error {
			if err := db.lockMigrations(ctx, tx); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			if n > 0 {
				return nil
			}
			q := m.SQL
			if db.Dialect == Postgres && m.Postgres != "" {
				q = m.Postgres
			}
			if _, err := tx.Tx.ExecContext(ctx, q); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UTC().Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// Version returns the newest migration applied, 0 for an empty database.
func (db *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// lockMigrations serialises migrators on PostgreSQL until tx ends; SQLite's
// write lock, taken at BEGIN, already does.
func (db *DB) lockMigrations(ctx context.Context, tx *Tx) error {
	if db.Dialect != Postgres {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(727271)`); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	return nil
}
