package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// SyncState is the database-backed reconcile.StateStore of one stage.
type SyncState struct {
	db    *store.DB
	stage string
}

// NewSyncState returns the sync state of the stage with id stageID.
func NewSyncState(db *store.DB, stageID string) *SyncState { return &SyncState{db: db, stage: stageID} }

// Load returns every key's state.
func (s *SyncState) Load(ctx context.Context) (map[spec.Key]reconcile.State, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, project, name, path, git_hash, system_hash FROM sync_state WHERE pipeline = ?`, s.stage)
	if err != nil {
		return nil, fmt.Errorf("load sync state of %s: %w", s.stage, err)
	}
	defer rows.Close()
	out := map[spec.Key]reconcile.State{}
	for rows.Next() {
		var k spec.Key
		var st reconcile.State
		if err := rows.Scan(&k.Kind, &k.Project, &k.Name, &st.Path, &st.GitHash, &st.SystemHash); err != nil {
			return nil, fmt.Errorf("load sync state of %s: %w", s.stage, err)
		}
		out[k] = st
	}
	return out, rows.Err()
}

const (
	saveStateSQL = `INSERT INTO sync_state (pipeline, kind, project, name, path, git_hash, system_hash, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (pipeline, kind, project, name) DO UPDATE SET path = excluded.path, git_hash = excluded.git_hash,
			system_hash = excluded.system_hash, updated_at = excluded.updated_at`
	removeStateSQL = `DELETE FROM sync_state WHERE pipeline = ? AND kind = ? AND project = ? AND name = ?`
)

// Save stores one key's state.
func (s *SyncState) Save(ctx context.Context, k spec.Key, st reconcile.State) error {
	_, err := s.db.Exec(ctx, saveStateSQL, s.stage, k.Kind, k.Project, k.Name, st.Path, st.GitHash, st.SystemHash, stamp(time.Now()))
	if err != nil {
		return fmt.Errorf("save sync state of %s %s: %w", s.stage, k, err)
	}
	return nil
}

// Remove forgets one key.
func (s *SyncState) Remove(ctx context.Context, k spec.Key) error {
	if _, err := s.db.Exec(ctx, removeStateSQL, s.stage, k.Kind, k.Project, k.Name); err != nil {
		return fmt.Errorf("remove sync state of %s %s: %w", s.stage, k, err)
	}
	return nil
}

// StateChange is one key's new state, or (Remove) that the key is forgotten.
type StateChange struct {
	Key    spec.Key
	State  reconcile.State
	Remove bool
}

// SaveAll makes every change in one transaction: all of them are stored,
// or none. One transaction rather than one per key is what keeps an export
// of thousands of resources from waiting on thousands of durable commits.
func (s *SyncState) SaveAll(ctx context.Context, changes []StateChange) error {
	if len(changes) == 0 {
		return nil
	}
	now := stamp(time.Now())
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, c := range changes {
			k := c.Key
			var err error
			if c.Remove {
				_, err = tx.Exec(ctx, removeStateSQL, s.stage, k.Kind, k.Project, k.Name)
			} else {
				_, err = tx.Exec(ctx, saveStateSQL, s.stage, k.Kind, k.Project, k.Name, c.State.Path, c.State.GitHash, c.State.SystemHash, now)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save the sync state of %d keys of %s: %w", len(changes), s.stage, err)
	}
	return nil
}
