package pipeline

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/spec"
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
	// Bot is the bot's own identity: its applies are not exported back, and it commits as this.
	Bot Identity
	// Auth returns the credentials for a stage's destination (nil: none).
	Auth func(ctx context.Context, st Stage) (gitrepo.Auth, error)
	// Open opens a pull request for a review branch (nil: leave the branch).
	Open ReviewOpener
	Log  *slog.Logger
}

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
	list, err := sys.Events(ctx, pos, 30*time.Second)
	if err != nil || len(list.Items) == 0 {
		return err
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
		if e.User == f.Bot.Email {
			continue // the bot's own apply: Git already has it
		}
		k := spec.Key{Kind: e.Kind, Project: e.Project, Name: e.Name}
		c := Change{Key: k, Type: e.Type, User: e.User}
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
	if len(changes) > 0 {
		if err := f.export(ctx, changes); err != nil {
			return err
		}
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

// export runs an export for every stage that writes to Git and owns one of the changes.
func (f *Follower) export(ctx context.Context, changes []Change) error {
	stages, problems, err := LoadStages(ctx, f.Runner.System)
	if err != nil {
		return err
	}
	for _, p := range problems {
		f.Log.Warn("pipeline skipped", "err", p)
	}
	for _, st := range stages {
		if !st.SystemToGit {
			continue
		}
		var mine []Change
		for _, c := range changes {
			if st.Scope.Owns(c.Key) {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		var auth gitrepo.Auth
		if f.Auth != nil {
			if auth, err = f.Auth(ctx, st); err != nil {
				return err
			}
		}
		if _, err := f.Runner.Export(ctx, st, auth, TriggerInternal, mine, ExportOptions{Open: f.Open, Bot: f.Bot}); err != nil {
			return err
		}
	}
	return nil
}
