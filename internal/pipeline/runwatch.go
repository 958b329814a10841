package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
)

// watch tells a process's watchers that a run started or finished.
type watch struct {
	mu sync.Mutex
	ch chan struct{}
}

// changed returns a channel closed at the next start or finish of a run
// in this process.
func (w *watch) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *watch) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// Changed returns a channel that is closed when a run of this process
// next starts or finishes: take it before reading a run, then wait on it
// (runs of other processes on the database are not told: read again now
// and then as well).
func (r *Runs) Changed() <-chan struct{} { return r.watch.changed() }

type startedKey struct{}

// WithRunStarted returns ctx that makes Start, and so every run a call
// with it records, tell fn the new run's id: the Run button opens the
// run's page while the run goes on.
func WithRunStarted(ctx context.Context, fn func(id int64)) context.Context {
	return context.WithValue(ctx, startedKey{}, fn)
}

func runStarted(ctx context.Context, id int64) {
	if fn, ok := ctx.Value(startedKey{}).(func(int64)); ok && fn != nil {
		fn(id)
	}
}

// Page returns one run with its payload and the rows from offset, at most
// limit of them, and how many rows it has in all.
func (r *Runs) Page(ctx context.Context, id int64, offset, limit int) (*Run, int, error) {
	row := r.db.QueryRow(ctx, `SELECT id, pipeline, trigger_type, status, commit_sha, message, started_at, ended_at, payload FROM runs WHERE id = ?`, id)
	run, err := scanRun(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("run %d: %w", id, ErrRunNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read run %d: %w", id, err)
	}
	var total int
	if err := r.db.QueryRow(ctx, `SELECT COUNT(*) FROM run_rows WHERE run_id = ?`, id).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count run %d rows: %w", id, err)
	}
	run.Rows = []Row{}
	if offset >= total {
		return run, total, nil
	}
	rows, err := r.db.Query(ctx, `SELECT kind, project, name, path, action, outcome, message FROM run_rows
		WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?`, id, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("read run %d rows: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var rr Row
		if err := rows.Scan(&rr.Kind, &rr.Project, &rr.Name, &rr.Path, &rr.Action, &rr.Outcome, &rr.Message); err != nil {
			return nil, 0, fmt.Errorf("read run %d rows: %w", id, err)
		}
		run.Rows = append(run.Rows, rr)
	}
	return run, total, rows.Err()
}

// LastFor returns the newest run with a row about k, and that row; nil
// when no run has one.
func (r *Runs) LastFor(ctx context.Context, k spec.Key) (*Run, *Row, error) {
	var id int64
	var rr Row
	err := r.db.QueryRow(ctx, `SELECT run_id, kind, project, name, path, action, outcome, message FROM run_rows
		WHERE kind = ? AND project = ? AND name = ? ORDER BY run_id DESC LIMIT 1`, k.Kind, k.Project, k.Name).
		Scan(&id, &rr.Kind, &rr.Project, &rr.Name, &rr.Path, &rr.Action, &rr.Outcome, &rr.Message)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("last run of %s: %w", k, err)
	}
	row := r.db.QueryRow(ctx, `SELECT id, pipeline, trigger_type, status, commit_sha, message, started_at, ended_at, '' FROM runs WHERE id = ?`, id)
	run, err := scanRun(row, false)
	if err != nil {
		return nil, nil, fmt.Errorf("last run of %s: run %d: %w", k, id, err)
	}
	return run, &rr, nil
}

// Synced is when a key was last synced by a stage, and its file there.
type Synced struct {
	Path string
	At   time.Time
}

// Get returns k's state of the last sync: its file and when; ok is false
// when the stage never synced k.
func (s *SyncState) Get(ctx context.Context, k spec.Key) (Synced, bool, error) {
	var out Synced
	var at string
	err := s.db.QueryRow(ctx, `SELECT path, updated_at FROM sync_state WHERE pipeline = ? AND kind = ? AND project = ? AND name = ?`,
		s.stage, k.Kind, k.Project, k.Name).Scan(&out.Path, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Synced{}, false, nil
	}
	if err != nil {
		return Synced{}, false, fmt.Errorf("sync state of %s %s: %w", s.stage, k, err)
	}
	out.At, _ = time.Parse(time.RFC3339Nano, at)
	return out, true, nil
}

// Triggers returns a pipeline's runs, newest first, with the event
// payload that started each (no rows): what started its runs.
func (r *Runs) Triggers(ctx context.Context, pipeline string, limit int) ([]*Run, error) {
	rows, err := r.db.Query(ctx, `SELECT id, pipeline, trigger_type, status, commit_sha, message, started_at, ended_at, payload FROM runs
		WHERE pipeline = ? ORDER BY id DESC LIMIT ?`, pipeline, limit)
	if err != nil {
		return nil, fmt.Errorf("list the triggers of %s: %w", pipeline, err)
	}
	defer rows.Close()
	out := []*Run{}
	for rows.Next() {
		run, err := scanRun(rows, true)
		if err != nil {
			return nil, fmt.Errorf("list the triggers of %s: %w", pipeline, err)
		}
		out = append(out, run)
	}
	return out, rows.Err()
}
