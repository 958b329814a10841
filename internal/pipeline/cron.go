package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/spec"
)

// Cron runs pipelines' Cron triggers. A scheduler calls Tick once a minute
// (jobs' periodic job, once across replicas); each tick reads the
// pipelines as they are then, so triggers created, edited or deleted take
// effect at the next tick. At a tick, each Cron trigger whose expression
// matches the tick's minute checks what it watches (its config.repo, or
// the stage's source: the repository at its branch, and its paths or the
// stage's folder); a change there since its last check applies each
// git → system stage of its pipeline, a run with trigger Cron.
//
// Where each trigger's check got to (the commit, the tick) is stored, so
// no replica or restart applies a commit twice or skips one. A watched
// repository that cannot be read records one Failed run when it starts
// failing, and is logged again when it recovers.
type Cron struct {
	Runner *Runner
	Log    *slog.Logger
}

// CronState is where one Cron trigger's checks of one stage got to, as
// stored (CronStateName).
type CronState struct {
	Repository string    `json:"repository"` // the remote checked, redacted
	Commit     string    `json:"commit,omitempty"`
	Tick       time.Time `json:"tick"`            // the last tick that checked it
	Error      string    `json:"error,omitempty"` // why the last check failed; "" when it did not
}

// CronStateName is the name of the stored CronState of trigger tr of st.
func CronStateName(st Stage, tr Trigger) string { return "cron:" + st.ID() + ":" + tr.ID() }

// LoadCronState returns the stored state of trigger tr of st (zero when
// it was never checked).
func (r *Runner) LoadCronState(ctx context.Context, st Stage, tr Trigger) (CronState, error) {
	var s CronState
	v, err := r.DB.Position(ctx, CronStateName(st, tr))
	if err != nil || v == "" {
		return s, err
	}
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return CronState{}, fmt.Errorf("read %s: %w", CronStateName(st, tr), err)
	}
	return s, nil
}

func (r *Runner) saveCronState(ctx context.Context, st Stage, tr Trigger, s CronState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return r.DB.SetPosition(ctx, CronStateName(st, tr), string(data))
}

// Due reports whether the trigger fires in the minute that holds at: a
// Cron trigger whose expression matches that minute.
func (t Trigger) Due(at time.Time) bool {
	return t.Type == TriggerCron && t.cron != nil && spec.CronDue(t.cron, at)
}

// cronWatch is what trigger tr of st watches.
type cronWatch struct {
	url, revision string
	paths         Paths
	source        bool // the stage's source at its branch: the run applies the commit checked
}

func (s Stage) cronWatch(tr Trigger) cronWatch {
	w := cronWatch{url: s.Source.URL, revision: s.Source.Revision, paths: tr.Repo.Paths}
	if tr.Repo.Repository != "" {
		w.url = tr.Repo.URL
	}
	if tr.Repo.Revision != "" {
		w.revision = tr.Repo.Revision
	}
	w.source = NormalizeURL(w.url) == NormalizeURL(s.Source.URL) && w.revision == s.Source.Revision
	if len(w.paths) == 0 {
		w.paths = Paths{""}
		if w.source {
			w.paths = Paths{s.Source.Path}
		}
	}
	return w
}

// Tick checks, for the tick at, every Cron trigger due then. A trigger
// whose check fails is recorded and logged and does not stop the others;
// the error is for reading the pipelines only.
func (c *Cron) Tick(ctx context.Context, at time.Time) error {
	stages, problems, err := c.Runner.LoadStages(ctx)
	if err != nil {
		return fmt.Errorf("cron tick %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	for _, e := range problems {
		c.Log.Debug("pipeline skipped", "err", e) // the poller warns of it
	}
	var due []Stage
	for _, st := range stages {
		if st.GitToSystem && slices.ContainsFunc(st.Triggers, func(tr Trigger) bool { return tr.Due(at) }) {
			due = append(due, st)
		}
	}
	var checked atomic.Int64
	// Stages run as their pipelines' next orders them.
	_ = c.Runner.EachStage(ctx, due, func(ctx context.Context, st Stage) error {
		for _, tr := range st.Triggers {
			if !tr.Due(at) {
				continue
			}
			checked.Add(1)
			c.check(ctx, st, tr, at)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.Log.Debug("cron tick", "tick", at.UTC().Format(time.RFC3339), "triggers_checked", checked.Load())
	return nil
}

// check runs trigger tr of st for the tick at.
func (c *Cron) check(ctx context.Context, st Stage, tr Trigger, at time.Time) {
	log := c.Log.With("stage", st.ID(), "trigger", tr.ID(), "tick", at.UTC().Format(time.RFC3339))
	last, err := c.Runner.LoadCronState(ctx, st, tr)
	if err != nil {
		log.Warn("cron check skipped", "err", err)
		return
	}
	w := st.cronWatch(tr)
	remote := gitrepo.RedactURL(w.url)
	next := CronState{Repository: remote, Commit: last.Commit, Tick: at.UTC()}
	if last.Repository != remote {
		next.Commit = "" // another repository: its first check
	}
	before := next.Commit
	sha, touched, err := c.look(ctx, tr, w, before)
	if err != nil {
		next.Error = err.Error()
		if last.Error == "" {
			log.Warn("Cron trigger's repository cannot be read; a Failed run records it, and the next ticks try again", "remote", remote, "err", err)
			payload := cronPayload(tr, at, w, before, "")
			if _, rerr := c.Runner.Runs.Failed(ctx, st.PipelineName(), TriggerCron, "", payload, err.Error()); rerr != nil {
				log.Warn("record the failed Cron check", "err", rerr)
			}
		} else {
			log.Debug("Cron check failed", "remote", remote, "err", err)
		}
		c.save(ctx, log, st, tr, next)
		return
	}
	if last.Error != "" {
		log.Info("Cron trigger's repository recovered", "remote", remote)
	}
	if touched {
		ref := st.Source.Revision
		if w.source {
			ref = sha
		}
		if _, err := c.Runner.Apply(ctx, st, ref, TriggerCron, cronPayload(tr, at, w, before, sha)); err != nil {
			// The run records it; the next tick tries the change again.
			log.Warn("Cron run failed", "commit", sha, "err", err)
			next.Commit = before
			c.save(ctx, log, st, tr, next)
			return
		}
	}
	next.Commit = sha
	c.save(ctx, log, st, tr, next)
}

// look fetches what w watches and reports its head and whether the paths
// it watches changed since before.
func (c *Cron) look(ctx context.Context, tr Trigger, w cronWatch, before string) (string, bool, error) {
	if w.url == "" {
		return "", false, fmt.Errorf("trigger %s: repository %q not found", tr.ID(), tr.Repo.Repository)
	}
	_, sha, err := c.Runner.fetch(ctx, w.url, w.revision)
	if err != nil {
		return "", false, err
	}
	if sha == before {
		return sha, false, nil
	}
	touched, err := c.Runner.changed(ctx, w.url, before, sha, w.paths)
	return sha, touched, err
}

func (c *Cron) save(ctx context.Context, log *slog.Logger, st Stage, tr Trigger, s CronState) {
	if err := c.Runner.saveCronState(context.WithoutCancel(ctx), st, tr, s); err != nil {
		log.Warn("store the Cron check", "err", err)
	}
}

// cronPayload is a Cron run's event payload: the trigger, its schedule,
// the tick, and the change it found.
func cronPayload(tr Trigger, at time.Time, w cronWatch, before, after string) []byte {
	c := map[string]any{
		"trigger": tr.Name, "schedule": tr.Schedule, "tick": at.UTC().Format(time.RFC3339),
		"repository": gitrepo.RedactURL(w.url), "ref": "refs/heads/" + w.revision,
		"before": before, "after": after,
	}
	if len(w.paths) != 1 || w.paths[0] != "" { // not the whole repository
		c["paths"] = w.paths
	}
	data, _ := json.Marshal(map[string]any{"cron": c})
	return data
}
