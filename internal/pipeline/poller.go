package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/gitrepo"
)

// MaxPollBackoff is the longest a polled stage whose remote fails waits
// before its next try.
const MaxPollBackoff = 5 * time.Minute

// Poller applies stages whose source is a plain Git remote (file://, or an
// HTTP remote outside any GitHub installation), which send no webhooks: on
// each tick it fetches the branch and applies a commit it has not applied
// when it touches the stage's PushPaths. Stages whose triggers are all
// Cron are left to Cron.
// Where it got to is stored, so a restart neither re-applies nor skips.
//
// A stage whose poll fails backs off: its next try is 2 intervals later,
// then 4, 8, … up to MaxPollBackoff, and back to every interval once a
// poll succeeds. It is logged once when it starts failing (or fails
// otherwise: refused instead of unreachable) and once when it recovers,
// not on every try. A remote the trust boundary refuses is never fetched;
// it records one Failed run with the refusal each time the stage enters
// that state.
type Poller struct {
	Runner   *Runner
	Interval time.Duration
	// Webhooked reports whether a remote sends webhooks (a repository of a
	// GitHub installation); such stages are left to the webhook.
	Webhooked func(remoteURL string) bool
	Log       *slog.Logger

	mu     sync.Mutex
	health map[string]*pollHealth // by stage ID
}

// pollHealth is how a stage's polls have been going.
type pollHealth struct {
	url     string        // the source polled; another URL starts afresh
	state   string        // "" (fine), pollFailing or pollRefused
	since   time.Time     // when it entered state
	backoff time.Duration // the wait before the next try, when failing
	next    time.Time     // no try before this
}

const (
	pollFailing = "failing"
	pollRefused = "refused"
)

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		if err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.Log.Warn("poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PollOnce checks every polled stage that is due once (a failing one
// waits out its back-off).
func (p *Poller) PollOnce(ctx context.Context) error {
	stages, problems, err := p.Runner.LoadStages(ctx)
	if err != nil {
		return err
	}
	for _, e := range problems {
		p.Log.Warn("pipeline skipped", "err", e)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.health == nil {
		p.health = map[string]*pollHealth{}
	}
	polled := map[string]bool{}
	var due []Stage
	for _, st := range stages {
		if !st.GitToSystem || st.CronOnly() || (p.Webhooked != nil && p.Webhooked(st.Source.URL)) {
			continue
		}
		polled[st.ID()] = true
		h := p.health[st.ID()]
		if h == nil || h.url != st.Source.URL {
			h = &pollHealth{url: st.Source.URL}
			p.health[st.ID()] = h
		}
		if time.Now().Before(h.next) {
			continue
		}
		due = append(due, st)
	}
	// Stages run as their pipelines' next orders them.
	_ = p.Runner.EachStage(ctx, due, func(ctx context.Context, st Stage) error {
		err := p.pollStage(ctx, st)
		if ctx.Err() == nil {
			p.observe(ctx, st, p.health[st.ID()], err)
		}
		return err
	})
	if ctx.Err() != nil {
		return nil
	}
	for id := range p.health {
		if !polled[id] {
			delete(p.health, id)
		}
	}
	return nil
}

// observe records how a poll of st went: the back-off, and the log line
// and run of a change of state.
func (p *Poller) observe(ctx context.Context, st Stage, h *pollHealth, err error) {
	remote := gitrepo.RedactURL(st.Source.URL)
	now := time.Now()
	if err == nil {
		if h.state != "" {
			p.Log.Info("polled stage recovered", "stage", st.ID(), "remote", remote, "after", now.Sub(h.since).Round(time.Millisecond))
		}
		*h = pollHealth{url: h.url}
		return
	}
	state := pollFailing
	if errors.Is(err, gitrepo.ErrRemoteNotAllowed) {
		state = pollRefused
	}
	if h.state == "" {
		h.backoff = 2 * p.Interval
	} else {
		h.backoff = min(2*h.backoff, MaxPollBackoff)
	}
	h.next = now.Add(h.backoff)
	p.Log.Debug("poll stage failed", "stage", st.ID(), "remote", remote, "err", err, "next_try_in", h.backoff)
	if state == h.state {
		return
	}
	h.state, h.since = state, now
	if state == pollFailing {
		p.Log.Warn("polled stage fails; trying again with back-off, up to every "+MaxPollBackoff.String(), "stage", st.ID(), "remote", remote, "err", err, "next_try_in", h.backoff)
		return
	}
	p.Log.Warn("polled stage's remote is not allowed; it is not fetched", "stage", st.ID(), "remote", remote, "err", err)
	payload, _ := json.Marshal(map[string]any{"poll": map[string]string{"repository": remote, "ref": "refs/heads/" + st.Source.Revision}})
	if _, rerr := p.Runner.Runs.Failed(ctx, st.PipelineName(), TriggerWebhook, "", payload, err.Error()); rerr != nil {
		p.Log.Warn("record the refused poll", "stage", st.ID(), "err", rerr)
	}
}

// PollPosition names the stored commit a polled stage has got to.
func PollPosition(stageID string) string { return "poll:" + stageID }

func (p *Poller) pollStage(ctx context.Context, st Stage) error {
	_, sha, err := p.Runner.fetch(ctx, st.Source.URL, st.Source.Revision)
	if err != nil {
		return err
	}
	posName := PollPosition(st.ID())
	last, err := p.Runner.DB.Position(ctx, posName)
	if err != nil || last == sha {
		return err
	}
	need, why, err := p.Runner.NeedsRun(ctx, st, last, sha)
	if err != nil {
		return err
	}
	if need {
		payload, _ := json.Marshal(map[string]any{"poll": map[string]string{
			"repository": gitrepo.RedactURL(st.Source.URL), "ref": "refs/heads/" + st.Source.Revision, "before": last, "after": sha},
			"user": p.Runner.committer(ctx, st, sha)})
		if _, err := p.Runner.Apply(ctx, st, sha, TriggerWebhook, payload); err != nil {
			return err
		}
	} else {
		p.Log.Debug("poll: no run", "stage", st.ID(), "after", sha, "why", why)
	}
	return p.Runner.DB.SetPosition(ctx, posName, sha)
}
