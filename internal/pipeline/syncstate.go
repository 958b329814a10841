package pipeline

import (
	"context"
	"fmt"
	"strings"
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

// saveRows is how many keys one statement of SaveAll stores (8 values
// each, well under SQLite's and PostgreSQL's limits on parameters).
const saveRows = 200

// SaveAll makes every change in one transaction: all of them are stored,
// or none; of several changes of one key the last counts. One transaction,
// and one statement per saveRows keys, rather than a durable commit per key
// is what keeps an export of thousands of resources from waiting on them.
func (s *SyncState) SaveAll(ctx context.Context, changes []StateChange) error {
	last := make(map[spec.Key]int, len(changes))
	for i, c := range changes {
		last[c.Key] = i
	}
	var saves []StateChange
	var removes []spec.Key
	for i, c := range changes {
		switch {
		case last[c.Key] != i:
		case c.Remove:
			removes = append(removes, c.Key)
		default:
			saves = append(saves, c)
		}
	}
	if len(saves)+len(removes) == 0 {
		return nil
	}
	now := stamp(time.Now())
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, k := range removes {
			if _, err := tx.Exec(ctx, removeStateSQL, s.stage, k.Kind, k.Project, k.Name); err != nil {
				return fmt.Errorf("remove %s: %w", k, err)
			}
		}
		for len(saves) > 0 {
			n := min(len(saves), saveRows)
			if _, err := tx.Exec(ctx, saveStatesSQL(n), saveArgs(s.stage, now, saves[:n])...); err != nil {
				return err
			}
			saves = saves[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save the sync state of %d keys of %s: %w", len(changes), s.stage, err)
	}
	return nil
}

// saveStatesSQL is saveStateSQL for n rows.
func saveStatesSQL(n int) string {
	values := strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?)", n)[2:]
	return strings.Replace(saveStateSQL, "(?, ?, ?, ?, ?, ?, ?, ?)", values, 1)
}

func saveArgs(stage, now string, saves []StateChange) []any {
	args := make([]any, 0, 8*len(saves))
	for _, c := range saves {
		args = append(args, stage, c.Key.Kind, c.Key.Project, c.Key.Name, c.State.Path, c.State.GitHash, c.State.SystemHash, now)
	}
	return args
}

// Seeded records that the source of st at sha holds what the system
// holds for the keys of states (a repository made from the system, as
// local mode's demo): their sync state, and sha as the commit the stage
// polled and applied last, so that neither is run again.
func Seeded(ctx context.Context, db *store.DB, st Stage, sha string, states []StateChange) error {
	if err := NewSyncState(db, st.ID()).SaveAll(ctx, states); err != nil {
		return err
	}
	if err := db.SetPosition(ctx, PollPosition(st.ID()), sha); err != nil {
		return fmt.Errorf("record the seed of %s: %w", st.ID(), err)
	}
	if err := db.SetPosition(ctx, appliedPosition(st.ID()), sha); err != nil {
		return fmt.Errorf("record the seed of %s: %w", st.ID(), err)
	}
	return nil
}
