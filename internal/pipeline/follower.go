package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// followPosition names the stored event-log revision the follower has
// finished: it resumes there after a restart.
const followPosition = "follow:events"

// Follower turns changes made in the system into commits: it long-polls the
// controller's event log, gathers the changes that arrive within Window of
// the first one, and exports them for every stage that writes to Git. The
// revision it finished is stored after the export, so a change made while
// the bot was down, or interrupted between the change and the commit, is
// exported when it comes back, once. For a controller without an event log
// (Mode FollowList) it lists the system every ListInterval instead and
// exports what changed since the list before, which it stores likewise.
type Follower struct {
	Runner *Runner
	// Mode is FollowEvents (the default) or FollowList.
	Mode string
	// ListInterval is how often FollowList lists the system (default 30s).
	ListInterval time.Duration
	// Window is how long changes are gathered into one commit (default 2s).
	Window time.Duration
	// Retry is how often a stage whose export failed is tried again
	// (default 10s). Its changes are kept in the database meanwhile; the
	// other stages go on.
	Retry time.Duration
	// Changed, when set, is told of every window of changes the event log
	// shows (the bot's own applies included), with their revisions, before
	// they are exported: githubflow plans again the pull requests whose
	// plans they make stale.
	Changed func(ctx context.Context, changes []Change)
	Log     *slog.Logger

	// failing is the state of each stage whose export fails (exportFailing
	// or exportRefused), so that it is logged, and a refusal recorded as a
	// Failed run, once per change of state rather than on every retry.
	mu      sync.Mutex
	failing map[string]string
}

const (
	exportFailing = "failing"
	exportRefused = "refused"
)

// Run follows the log until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	window := f.Window
	if window <= 0 {
		window = 2 * time.Second
	}
	step := func(ctx context.Context) error { return f.step(ctx, window) }
	if f.Mode == FollowList {
		interval := f.ListInterval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		step = func(ctx context.Context) error {
			if err := f.listStep(ctx); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
			return nil
		}
	}
	backoff := time.Second
	for ctx.Err() == nil {
		if err := step(ctx); err != nil && ctx.Err() == nil {
			f.Log.Warn("following the system failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
	}
}

// step waits for changes, gathers a window of them and exports them.
func (f *Follower) step(ctx context.Context, window time.Duration) error {
	sys := f.Runner.System
	pos, err := f.position(ctx, sys)
	if err != nil {
		return err
	}
	wait := 30 * time.Second
	pending, err := loadPending(ctx, f.Runner.DB)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		wait = f.retry()
	}
	list, err := sys.Events(ctx, pos, wait)
	if err != nil {
		return err
	}
	if len(list.Items) == 0 {
		if len(pending) > 0 {
			return f.export(ctx, nil) // the failed stages, again
		}
		return nil
	}
	events := list.Items
	deadline := time.Now().Add(window)
	for last := events[len(events)-1].Revision; time.Until(deadline) > 0; {
		more, err := sys.Events(ctx, last, time.Until(deadline))
		if err != nil {
			return err
		}
		if len(more.Items) > 0 {
			events = append(events, more.Items...)
			last = more.Items[len(more.Items)-1].Revision
		}
	}
	end := events[len(events)-1].Revision
	// One change per key: the latest user and type, a create followed by
	// updates still a create.
	var changes []Change
	index := map[spec.Key]int{}
	for _, e := range events {
		k := spec.Key{Kind: e.Kind, Project: e.Project, Name: e.Name}
		c := Change{Key: k, Type: e.Type, User: e.User, Time: e.Time, Revision: e.Revision}
		if e.User == f.Runner.Bot.Email {
			c.Own = true // the bot's own apply: its source already has it
		}
		if i, ok := index[k]; ok {
			if changes[i].Type == "Create" && c.Type == "Update" {
				c.Type = "Create"
			}
			changes[i] = c
			continue
		}
		index[k] = len(changes)
		changes = append(changes, c)
	}
	if f.Changed != nil {
		f.Changed(ctx, changes)
	}
	if err := f.export(ctx, changes); err != nil {
		return err
	}
	return f.Runner.DB.SetPosition(ctx, followPosition, strconv.FormatInt(end, 10))
}

// position is where to read from: the stored revision, or, on the very
// first start, the log's head (history before the bot is left to a full sync).
func (f *Follower) position(ctx context.Context, sys *controllerapi.Client) (int64, error) {
	v, err := f.Runner.DB.Position(ctx, followPosition)
	if err != nil {
		return 0, err
	}
	if v != "" {
		return strconv.ParseInt(v, 10, 64)
	}
	head, err := sys.Events(ctx, 1<<62, 0)
	if err != nil {
		return 0, err
	}
	if err := f.Runner.DB.SetPosition(ctx, followPosition, strconv.FormatInt(head.Revision, 10)); err != nil {
		return 0, err
	}
	return head.Revision, nil
}

// StartAt makes revision the place the follower starts from on its very
// first start, when it has none stored yet: a server calls it with the
// event log's head before it serves, so that a change made as soon as the
// server answers is exported, not taken for history. Once a position is
// stored it is left alone.
func (f *Follower) StartAt(ctx context.Context, revision int64) error {
	v, err := f.Runner.DB.Position(ctx, followPosition)
	if err != nil || v != "" {
		return err
	}
	return f.Runner.DB.SetPosition(ctx, followPosition, strconv.FormatInt(revision, 10))
}

func (f *Follower) retry() time.Duration {
	if f.Retry > 0 {
		return f.Retry
	}
	return 10 * time.Second
}

// export runs an export for every stage that writes to Git and owns one of
// the changes, or has changes left from an export that failed. A stage
// whose export fails keeps its changes in the database, to be tried again,
// and does not hold up the others; export fails only when those changes
// cannot be kept.
func (f *Follower) export(ctx context.Context, changes []Change) error {
	pending, err := loadPending(ctx, f.Runner.DB)
	if err != nil {
		return err
	}
	if len(changes) == 0 && len(pending) == 0 {
		return nil
	}
	stages, problems, err := f.Runner.LoadStages(ctx)
	if err != nil {
		return err
	}
	for _, p := range problems {
		f.Log.Warn("pipeline skipped", "err", p)
	}
	live := map[string]bool{}
	for _, st := range stages {
		if !st.SystemToGit {
			continue
		}
		live[st.ID()] = true
		mine := pending[st.ID()]
		for _, c := range changes {
			// The bot's own applies came from a source; only a separate destination lacks them.
			if st.Scope.Owns(c.Key) && (!c.Own || st.SeparateDest()) {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		if err := f.exportStage(ctx, st, mine); err != nil {
			if ctx.Err() != nil {
				return err
			}
			f.exportFailed(ctx, st, mine, err)
			if err := setPending(ctx, f.Runner.DB, st.ID(), mine); err != nil {
				return err
			}
			continue
		}
		f.exportDone(st)
		if _, ok := pending[st.ID()]; ok {
			if err := setPending(ctx, f.Runner.DB, st.ID(), nil); err != nil {
				return err
			}
		}
	}
	// A stage that no longer exports (deleted, or no longer systemToGit)
	// has nothing left to retry; while a pipeline cannot be read, keep all.
	for id := range pending {
		if !live[id] && len(problems) == 0 {
			if err := setPending(ctx, f.Runner.DB, id, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// exportFailed logs a failed export of st, and records a refused one as a
// Failed run, when the stage was not failing that way already.
func (f *Follower) exportFailed(ctx context.Context, st Stage, changes []Change, err error) {
	state := exportFailing
	if errors.Is(err, gitrepo.ErrRemoteNotAllowed) {
		state = exportRefused
	}
	f.mu.Lock()
	if f.failing == nil {
		f.failing = map[string]string{}
	}
	was := f.failing[st.ID()]
	f.failing[st.ID()] = state
	f.mu.Unlock()
	if was == state {
		f.Log.Debug("export failed again; its changes are kept", "stage", st.ID(), "changes", len(changes), "err", err)
		return
	}
	if state == exportFailing {
		f.Log.Warn("export failed; its changes are kept and tried again", "stage", st.ID(), "changes", len(changes), "every", f.retry(), "err", err)
		return
	}
	f.Log.Warn("export's remote is not allowed; its changes are kept and tried again", "stage", st.ID(), "changes", len(changes), "every", f.retry(), "err", err)
	if _, rerr := f.Runner.Runs.Failed(ctx, st.PipelineName(), TriggerInternal, "", changesPayload(changes), err.Error()); rerr != nil {
		f.Log.Warn("record the refused export", "stage", st.ID(), "err", rerr)
	}
}

// exportDone notes that st exported: a failing stage has recovered.
func (f *Follower) exportDone(st Stage) {
	f.mu.Lock()
	was := f.failing[st.ID()]
	delete(f.failing, st.ID())
	f.mu.Unlock()
	if was != "" {
		f.Log.Info("export recovered", "stage", st.ID())
	}
}

func (f *Follower) exportStage(ctx context.Context, st Stage, changes []Change) error {
	// A refused destination needs no credentials.
	if err := f.Runner.Git.Check(st.Dest.URL); err != nil {
		return err
	}
	_, err := f.Runner.Export(ctx, st, TriggerInternal, changes, ExportOptions{})
	return err
}

// pendingPrefix names, with a stage ID after it, the stored changes of a
// stage whose export failed.
const pendingPrefix = "follow:pending:"

// loadPending returns the changes kept for stages whose export failed.
func loadPending(ctx context.Context, db *store.DB) (map[string][]Change, error) {
	rows, err := db.Query(ctx, `SELECT name, value FROM positions WHERE name LIKE ?`, pendingPrefix+"%")
	if err != nil {
		return nil, fmt.Errorf("read pending exports: %w", err)
	}
	defer rows.Close()
	out := map[string][]Change{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("read pending exports: %w", err)
		}
		if value == "" {
			continue
		}
		var changes []Change
		if err := json.Unmarshal([]byte(value), &changes); err != nil {
			return nil, fmt.Errorf("read pending exports of %s: %w", strings.TrimPrefix(name, pendingPrefix), err)
		}
		out[strings.TrimPrefix(name, pendingPrefix)] = changes
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending exports: %w", err)
	}
	return out, nil
}

// setPending keeps changes for the stage stageID (none: clears them).
func setPending(ctx context.Context, db *store.DB, stageID string, changes []Change) error {
	value := ""
	if len(changes) > 0 {
		data, err := json.Marshal(changes)
		if err != nil {
			return fmt.Errorf("keep the changes of %s: %w", stageID, err)
		}
		value = string(data)
	}
	return db.SetPosition(ctx, pendingPrefix+stageID, value)
}
