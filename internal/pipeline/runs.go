package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/store"
)

// Run is one execution of a pipeline stage. As JSON (GET /api/runs/{id}):
// id, pipeline, trigger, status, commit, message, startedAt, endedAt,
// payload (the event that started it, JSON: a push's fields as GitHub
// names them, {"poll": …}, {"manual": true}, {"changes": […]} or
// {"conflict": …}, each with "user": who started it), rows, and conflicts:
// the resources the run found in conflict, each with its branch and, once
// resolved, its resolution ({keep, by, via, at, run}).
type Run struct {
	ID        int64           `json:"id"`
	Pipeline  string          `json:"pipeline"` // project/name
	Trigger   string          `json:"trigger"`
	Status    string          `json:"status"`
	Commit    string          `json:"commit,omitempty"`
	Message   string          `json:"message,omitempty"`
	StartedAt time.Time       `json:"startedAt"`
	EndedAt   *time.Time      `json:"endedAt,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"` // the event that started it
	Rows      []Row           `json:"rows"`
	// Conflicts are the resources the run found in conflict (Get fills
	// them; List leaves them out).
	Conflicts []Conflict `json:"conflicts,omitempty"`
}

// Unchanged is the outcome of a row that reports a problem the run only
// carries over: a file with a problem that did not change since the
// commit the stage last applied, a conflict an earlier run found that is
// still open. It does not count in the run's status.
const Unchanged = "unchanged"

// Row is one resource's line in a run's output. Outcome is applied,
// failed, skipped or Unchanged.
type Row struct {
	Kind    string `json:"kind"`
	Project string `json:"project,omitempty"`
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Action  string `json:"action"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
}

// ErrRunNotFound is returned for an unknown run id.
var ErrRunNotFound = errors.New("run not found")

// Runs stores run records.
type Runs struct {
	db *store.DB
	// Owner is the process (store.Process.ID) recorded as running each run
	// Start records: when that process is gone, FailInterrupted ends the
	// run. "" marks runs no process owns, which any FailInterrupted ends.
	Owner string
	// Metrics counts runs as they end; nil counts nothing.
	Metrics *metrics.Metrics
	watch   watch
}

// NewRuns returns the run store over a migrated database.
func NewRuns(db *store.DB) *Runs { return &Runs{db: db} }

// InterruptedMessage is the message of a run whose process was gone
// before the run ended.
const InterruptedMessage = "interrupted by a restart"

// FailInterrupted marks Failed, with InterruptedMessage, every run still
// In Progress whose owner is no longer among the live processes (see
// store.Process), and returns how many it marked. A run of a live process,
// this one or another replica's, is left alone. The work such a run was
// doing is not lost: a webhook's job is retried by the queue, a poll
// resumes from its stored position, a follower's export from its stored
// revision, each as a new run. Should the owner have been alive after all
// (stalled past its lease), its Finish sets the run's real status.
func (r *Runs) FailInterrupted(ctx context.Context) (int, error) {
	var triggers []string
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		triggers = triggers[:0]
		rows, err := tx.Query(ctx, `UPDATE runs SET status = ?, message = ?, ended_at = ?
			WHERE status = ? AND owner NOT IN (SELECT id FROM processes) RETURNING trigger_type`,
			StatusFailed, InterruptedMessage, stamp(time.Now()), StatusInProgress)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			triggers = append(triggers, t)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("fail interrupted runs: %w", err)
	}
	for _, t := range triggers {
		r.Metrics.Run(t, StatusFailed)
	}
	return len(triggers), nil
}

// Start records a new run In Progress and returns its id.
func (r *Runs) Start(ctx context.Context, pipeline, trigger, commit string, payload []byte) (int64, error) {
	id, err := r.nextID(ctx)
	if err != nil {
		return 0, err
	}
	if len(payload) == 0 || !json.Valid(payload) {
		b, _ := json.Marshal(string(payload))
		if len(payload) == 0 {
			b = []byte("null")
		}
		payload = b
	}
	_, err = r.db.Exec(ctx, `INSERT INTO runs (id, pipeline, trigger_type, status, commit_sha, message, started_at, ended_at, payload, owner)
		VALUES (?, ?, ?, ?, ?, '', ?, '', ?, ?)`, id, pipeline, trigger, StatusInProgress, commit, stamp(time.Now()), string(payload), r.Owner)
	if err != nil {
		return 0, fmt.Errorf("record run of %s: %w", pipeline, err)
	}
	r.watch.notify()
	runStarted(ctx, id)
	return id, nil
}

// Failed records a run that failed before it could do anything (its
// remote refused, its plan impossible): Failed at once, with message and
// no rows. It returns the run's id.
func (r *Runs) Failed(ctx context.Context, pipeline, trigger, commit string, payload []byte, message string) (int64, error) {
	id, err := r.Start(ctx, pipeline, trigger, commit, payload)
	if err != nil {
		return 0, err
	}
	return id, r.Finish(context.WithoutCancel(ctx), id, StatusFailed, commit, message, nil)
}

// rowsPerInsert is how many run rows one statement inserts (9 values each,
// well under SQLite's and PostgreSQL's limits on parameters).
const rowsPerInsert = 200

// Finish sets a run's status, message and rows, and its end time, and
// counts the run in Metrics by its trigger and status.
func (r *Runs) Finish(ctx context.Context, id int64, status, commit, message string, rows []Row) error {
	trigger := ""
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE runs SET status = ?, commit_sha = CASE WHEN ? = '' THEN commit_sha ELSE ? END, message = ?, ended_at = ? WHERE id = ? RETURNING trigger_type`,
			status, commit, commit, message, stamp(time.Now()), id).Scan(&trigger)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM run_rows WHERE run_id = ?`, id); err != nil {
			return err
		}
		// A full export has a row per resource: many rows a statement.
		for start := 0; start < len(rows); start += rowsPerInsert {
			chunk := rows[start:min(start+rowsPerInsert, len(rows))]
			args := make([]any, 0, 9*len(chunk))
			for i, row := range chunk {
				args = append(args, id, start+i, row.Kind, row.Project, row.Name, row.Path, row.Action, row.Outcome, row.Message)
			}
			values := strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?)", len(chunk))[2:]
			if _, err := tx.Exec(ctx, `INSERT INTO run_rows (run_id, seq, kind, project, name, path, action, outcome, message) VALUES `+values, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	if trigger != "" {
		r.Metrics.Run(trigger, status)
	}
	stageEnded(ctx, status)
	r.watch.notify()
	return nil
}

// Get returns one run with its rows and payload.
func (r *Runs) Get(ctx context.Context, id int64) (*Run, error) {
	row := r.db.QueryRow(ctx, `SELECT id, pipeline, trigger_type, status, commit_sha, message, started_at, ended_at, payload FROM runs WHERE id = ?`, id)
	run, err := scanRun(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrRunNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	rows, err := r.db.Query(ctx, `SELECT kind, project, name, path, action, outcome, message FROM run_rows WHERE run_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("read run %d rows: %w", id, err)
	}
	defer rows.Close()
	run.Rows = []Row{}
	for rows.Next() {
		var rr Row
		if err := rows.Scan(&rr.Kind, &rr.Project, &rr.Name, &rr.Path, &rr.Action, &rr.Outcome, &rr.Message); err != nil {
			return nil, fmt.Errorf("read run %d rows: %w", id, err)
		}
		run.Rows = append(run.Rows, rr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read run %d rows: %w", id, err)
	}
	if run.Conflicts, err = r.Conflicts(ctx, id); err != nil {
		return nil, err
	}
	return run, nil
}

// List returns a pipeline's runs, newest first, without rows or payloads.
func (r *Runs) List(ctx context.Context, pipeline string, limit int) ([]*Run, error) {
	rows, err := r.db.Query(ctx, `SELECT id, pipeline, trigger_type, status, commit_sha, message, started_at, ended_at, '' FROM runs
		WHERE pipeline = ? ORDER BY id DESC LIMIT ?`, pipeline, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs of %s: %w", pipeline, err)
	}
	defer rows.Close()
	out := []*Run{}
	for rows.Next() {
		run, err := scanRun(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list runs of %s: %w", pipeline, err)
		}
		out = append(out, run)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanRun(s scanner, withPayload bool) (*Run, error) {
	var run Run
	var started, ended, payload string
	if err := s.Scan(&run.ID, &run.Pipeline, &run.Trigger, &run.Status, &run.Commit, &run.Message, &started, &ended, &payload); err != nil {
		return nil, err
	}
	run.StartedAt, _ = time.Parse(time.RFC3339Nano, started)
	if ended != "" {
		t, _ := time.Parse(time.RFC3339Nano, ended)
		run.EndedAt = &t
	}
	if withPayload && payload != "" {
		run.Payload = json.RawMessage(payload)
	}
	return &run, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// StatusOf derives a run's status from its rows: Success when nothing
// failed, was invalid, blocked or in conflict; Failed when something did and
// nothing was applied; Partial otherwise. Rows with the outcome Unchanged
// (problems the run only carries over) do not count.
func StatusOf(rows []Row) string {
	applied, bad := 0, 0
	for _, r := range rows {
		switch {
		case r.Outcome == Unchanged:
		case r.Outcome == "applied" && r.Action != "no-op":
			applied++
		case r.Outcome == "failed", r.Action == "invalid", r.Action == "blocked", r.Action == "conflict":
			bad++
		}
	}
	switch {
	case bad == 0:
		return StatusSuccess
	case applied == 0:
		return StatusFailed
	default:
		return StatusPartial
	}
}
