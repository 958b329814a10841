// Package handlers receives GitHub webhooks: one handler per event, each
// thin. A handler checks that the delivery is one the bot acts on, stores
// it as a durable job and answers 202 at once; package githubflow does the
// work when the job runs.
package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/systemsync/systemsync/internal/jobs"
)

// Route is where GitHub delivers webhooks (go-githubapp's default).
const Route = githubapp.DefaultWebhookRoute

// MaxPayloadBytes is GitHub's cap on a webhook payload; larger bodies are refused.
const MaxPayloadBytes = 25 << 20

// Enqueuer stores a delivery durably.
type Enqueuer interface {
	Enqueue(ctx context.Context, args jobs.EventArgs) (duplicate bool, err error)
}

// base is what every handler shares: the queue and the logger.
type base struct {
	q   Enqueuer
	log *slog.Logger
}

// enqueue stores the delivery and answers 202 (200 for a duplicate).
func (b base) enqueue(ctx context.Context, event, delivery string, payload []byte) error {
	if delivery == "" {
		return errors.New("missing X-GitHub-Delivery header")
	}
	dup, err := b.q.Enqueue(ctx, jobs.EventArgs{DeliveryID: delivery, Event: event, Payload: payload})
	if err != nil {
		return err
	}
	status, state := http.StatusAccepted, "queued"
	if dup {
		status, state = http.StatusOK, "duplicate"
	}
	b.log.InfoContext(ctx, "webhook "+state, "event", event, "delivery", delivery)
	respond(ctx, status, map[string]string{"delivery": delivery, "status": state})
	return nil
}

// ignore answers 200 for a delivery the bot does not act on.
func (b base) ignore(ctx context.Context, event, delivery, why string) error {
	b.log.DebugContext(ctx, "webhook ignored", "event", event, "delivery", delivery, "why", why)
	respond(ctx, http.StatusOK, map[string]string{"delivery": delivery, "status": "ignored", "reason": why})
	return nil
}

func respond(ctx context.Context, status int, body any) {
	githubapp.SetResponder(ctx, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
}

// New returns the webhook endpoint: HMAC-checked with secret (a missing or
// wrong signature is 401 and leaves nothing behind), body-size limited,
// dispatching to the event handlers.
func New(secret string, q Enqueuer, log *slog.Logger) http.Handler {
	b := base{q: q, log: log}
	d := githubapp.NewEventDispatcher([]githubapp.EventHandler{
		&PushHandler{b}, &PullRequestHandler{b}, &IssueCommentHandler{b}, &CheckRunHandler{b}, &InstallationHandler{b},
	}, secret,
		githubapp.WithErrorCallback(func(w http.ResponseWriter, r *http.Request, err error) {
			var ve githubapp.ValidationError
			switch {
			case errors.As(err, &ve) && isSignatureError(ve.Cause):
				log.Warn("webhook refused: bad signature", "delivery", ve.DeliveryID, "event", ve.EventType, "err", ve.Cause)
				http.Error(w, "invalid signature", http.StatusUnauthorized)
			case errors.As(err, &ve):
				log.Warn("webhook refused", "delivery", ve.DeliveryID, "event", ve.EventType, "err", ve.Cause)
				http.Error(w, fmt.Sprintf("invalid webhook: %v", ve.Cause), http.StatusBadRequest)
			default:
				log.Error("webhook not stored", "err", err)
				http.Error(w, "the delivery could not be stored; GitHub may redeliver it", http.StatusServiceUnavailable)
			}
		}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxPayloadBytes)
		d.ServeHTTP(w, r)
	})
}

func isSignatureError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "signature") || strings.Contains(msg, "hash type")
}
