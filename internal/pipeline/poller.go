package pipeline

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/systemsync/systemsync/internal/gitrepo"
)

// Poller applies stages whose source is a plain Git remote (file://, or an
// HTTP remote outside any GitHub installation), which send no webhooks: on
// each tick it fetches the branch and applies a commit it has not applied.
// Where it got to is stored, so a restart neither re-applies nor skips.
type Poller struct {
	Runner   *Runner
	Interval time.Duration
	// Webhooked reports whether a remote sends webhooks (a repository of a
	// GitHub installation); such stages are left to the webhook.
	Webhooked func(remoteURL string) bool
	Log       *slog.Logger
}

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

// PollOnce checks every polled stage once.
func (p *Poller) PollOnce(ctx context.Context) error {
	stages, problems, err := LoadStages(ctx, p.Runner.System)
	if err != nil {
		return err
	}
	for _, e := range problems {
		p.Log.Warn("pipeline skipped", "err", e)
	}
	for _, st := range stages {
		if !st.GitToSystem || (p.Webhooked != nil && p.Webhooked(st.Source.URL)) {
			continue
		}
		if err := p.pollStage(ctx, st); err != nil {
			p.Log.Warn("poll stage failed", "stage", st.ID(), "err", err)
		}
	}
	return nil
}

func (p *Poller) pollStage(ctx context.Context, st Stage) error {
	_, sha, err := p.Runner.fetch(ctx, st.Source.URL, st.Source.Revision)
	if err != nil {
		return err
	}
	posName := "poll:" + st.ID()
	last, err := p.Runner.DB.Position(ctx, posName)
	if err != nil || last == sha {
		return err
	}
	touched, err := p.Runner.Touches(ctx, st, last, sha)
	if err != nil {
		return err
	}
	if touched {
		payload, _ := json.Marshal(map[string]any{"poll": map[string]string{
			"repository": gitrepo.RedactURL(st.Source.URL), "ref": "refs/heads/" + st.Source.Revision, "before": last, "after": sha}})
		if _, err := p.Runner.Apply(ctx, st, sha, TriggerWebhook, payload); err != nil {
			return err
		}
	}
	return p.Runner.DB.SetPosition(ctx, posName, sha)
}
