package githubflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/systemsync/systemsync/internal/jobs"
)

// eventHandler is one GitHub event's part of the bot, in the manner of
// policy-bot's and bulldozer's handlers: it names the events it takes,
// decodes a delivery's payload once when it arrives, deciding whether the
// bot acts on it, and does the work when the stored job runs. The webhook
// endpoint and the job worker find it in one registry (App.events), so a
// delivery is filtered in one place.
type eventHandler interface {
	// Handles names the X-GitHub-Event values it takes.
	Handles() []string
	// accept decodes payload, a delivery of event, and returns the job to
	// store, or why the bot does not act on the delivery (nothing is then
	// stored). The job holds the fields work reads and what a run's event
	// payload shows, with GitHub's field names; never the whole payload. An
	// error means payload is not a valid delivery of event.
	accept(event string, payload []byte) (job any, ignored string, err error)
	// work does a job accept returned, stored as JSON. An error wrapping
	// jobs.ErrPermanent fails the job for good; any other retries it.
	work(ctx context.Context, log *slog.Logger, event string, job []byte) error
}

// Work does the job of a stored delivery (jobs.Handler). A row stored by an
// earlier version of the bot holds the whole payload instead of a job: its
// event's handler decodes it first, as the webhook would have.
func (a *App) Work(ctx context.Context, args jobs.EventArgs) error {
	log := a.log.With("event", args.Event, "delivery", args.DeliveryID)
	h := a.events[args.Event]
	if h == nil {
		h = a.internal[args.Event]
	}
	if h == nil {
		return fmt.Errorf("%w: no handler for %s deliveries", jobs.ErrPermanent, args.Event)
	}
	job := []byte(args.Job)
	if len(job) == 0 {
		j, ignored, err := h.accept(args.Event, args.Payload)
		if err != nil {
			return fmt.Errorf("%w: %w", jobs.ErrPermanent, err)
		}
		if ignored != "" {
			log.Info("stored delivery ignored", "why", ignored)
			return nil
		}
		if job, err = encodeJob(j); err != nil {
			return fmt.Errorf("%w: %w", jobs.ErrPermanent, err)
		}
	}
	return h.work(ctx, log, args.Event, job)
}

// decode reads payload, a delivery of event, into v.
func decode(event string, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("decode %s payload: %w", event, err)
	}
	return nil
}

// decodeJob reads a stored job; one that does not decode never will.
func decodeJob[J any](event string, data []byte) (*J, error) {
	var j J
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: decode stored %s job: %v", jobs.ErrPermanent, event, err)
	}
	return &j, nil
}

// encodeJob writes a job as stored: JSON, with <, > and & as they are.
func encodeJob(job any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(job); err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// isSHA reports whether s is a commit ID as GitHub writes them: 40 (SHA-1)
// or 64 (SHA-256) lower-case hex digits.
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// clip cuts free text kept in a job to at most n bytes, on a rune
// boundary, marking the cut: a job holds what a person reads of it, not
// all of it.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
