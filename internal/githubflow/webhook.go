package githubflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/metrics"
)

// Enqueuer stores a delivery's job durably.
type Enqueuer interface {
	Enqueue(ctx context.Context, args jobs.EventArgs) (duplicate bool, err error)
}

// Webhook returns the webhook endpoint. It answers
//
//   - 413 for a body over MaxPayloadBytes (GitHub's own cap);
//   - 401 unless X-Hub-Signature-256 is the body's HMAC-SHA256 with secret
//     (X-Hub-Signature, SHA-1, does not count);
//   - 400 for a missing X-GitHub-Event or X-GitHub-Delivery, or a payload
//     that is not a valid delivery of its event;
//   - 200 for a delivery the bot does not act on (an event it does not
//     handle, an action it ignores), and for a delivery ID stored before;
//   - 202 once the delivery's job is stored in q;
//   - 503 when it cannot be stored (GitHub may redeliver it).
//
// Only 202 stores anything.
func (a *App) Webhook(secret string, q Enqueuer) http.Handler {
	return &webhook{secret: []byte(secret), q: q, events: a.events, log: a.log, metrics: a.metrics}
}

type webhook struct {
	secret  []byte
	q       Enqueuer
	events  map[string]eventHandler
	log     *slog.Logger
	metrics *metrics.Metrics
}

// outcome names what the endpoint did with a delivery, for the metrics.
func outcome(code int, status string) string {
	switch {
	case code == http.StatusAccepted:
		return metrics.WebhookAccepted
	case status == "duplicate":
		return metrics.WebhookDuplicate
	case status == "ignored":
		return metrics.WebhookIgnored
	case code == http.StatusUnauthorized:
		return metrics.WebhookUnauthorized
	case code == http.StatusRequestEntityTooLarge:
		return metrics.WebhookTooLarge
	case code >= 500:
		return metrics.WebhookError
	default:
		return metrics.WebhookBadRequest
	}
}

// answer is the JSON body of every answer.
type answer struct {
	Delivery string `json:"delivery,omitempty"`
	Status   string `json:"status"` // queued, duplicate, ignored or refused
	Reason   string `json:"reason,omitempty"`
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	event, delivery := r.Header.Get("X-GitHub-Event"), r.Header.Get("X-GitHub-Delivery")
	log := h.log.With("event", event, "delivery", delivery)
	reply := func(code int, a answer) {
		h.metrics.Webhook(event, outcome(code, a.Status))
		a.Delivery = delivery
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(a)
	}
	refuse := func(code int, why string) {
		log.WarnContext(ctx, "webhook refused", "status", code, "why", why)
		reply(code, answer{Status: "refused", Reason: why})
	}

	tooLarge := fmt.Sprintf("the body is over %d MiB, GitHub's cap on a webhook", MaxPayloadBytes>>20)
	if r.ContentLength > MaxPayloadBytes {
		refuse(http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayloadBytes))
	if errors.As(err, new(*http.MaxBytesError)) {
		refuse(http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	if err != nil {
		refuse(http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if err := checkSignature(r.Header.Get(github.SHA256SignatureHeader), body, h.secret); err != nil {
		refuse(http.StatusUnauthorized, err.Error())
		return
	}
	switch {
	case event == "":
		refuse(http.StatusBadRequest, "no X-GitHub-Event header")
		return
	case delivery == "":
		refuse(http.StatusBadRequest, "no X-GitHub-Delivery header")
		return
	}
	payload, err := payloadOf(r.Header.Get("Content-Type"), body)
	if err != nil {
		refuse(http.StatusBadRequest, err.Error())
		return
	}
	handler := h.events[event]
	if handler == nil {
		log.DebugContext(ctx, "webhook ignored", "why", "no handler for the event")
		reply(http.StatusOK, answer{Status: "ignored", Reason: "the bot does not handle " + event + " events"})
		return
	}
	job, ignored, err := handler.accept(event, payload)
	if err != nil {
		refuse(http.StatusBadRequest, err.Error())
		return
	}
	if ignored != "" {
		log.DebugContext(ctx, "webhook ignored", "why", ignored)
		reply(http.StatusOK, answer{Status: "ignored", Reason: ignored})
		return
	}
	data, err := encodeJob(job)
	if err != nil {
		refuse(http.StatusBadRequest, err.Error())
		return
	}
	dup, err := h.q.Enqueue(ctx, jobs.EventArgs{DeliveryID: delivery, Event: event, Job: data})
	if err != nil {
		log.ErrorContext(ctx, "webhook not stored", "err", err)
		reply(http.StatusServiceUnavailable, answer{Status: "refused", Reason: "the delivery could not be stored; GitHub may redeliver it"})
		return
	}
	if dup {
		log.InfoContext(ctx, "webhook duplicate")
		reply(http.StatusOK, answer{Status: "duplicate"})
		return
	}
	log.InfoContext(ctx, "webhook queued", "job_bytes", len(data))
	reply(http.StatusAccepted, answer{Status: "queued"})
}

// checkSignature checks sig, the X-Hub-Signature-256 header, against body
// with go-github's HMAC check. A sha1= (or any other) signature does not count.
func checkSignature(sig string, body, secret []byte) error {
	if sig == "" {
		return errors.New("no X-Hub-Signature-256 header (an X-Hub-Signature SHA-1 signature is not accepted)")
	}
	if !strings.HasPrefix(sig, "sha256=") {
		return errors.New("X-Hub-Signature-256 is not a sha256= signature")
	}
	if err := github.ValidateSignature(sig, body, secret); err != nil {
		return fmt.Errorf("invalid X-Hub-Signature-256: %w", err)
	}
	return nil
}

// payloadOf returns the JSON payload of a signed body, as go-github reads
// it for the webhook's content type (JSON, or form-encoded with a payload
// field). Whether it is JSON is the event handler's decode to say.
func payloadOf(contentType string, body []byte) ([]byte, error) {
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("Content-Type %q: %w", contentType, err)
	}
	// The signature is checked already: go-github only extracts the payload here.
	return github.ValidatePayloadFromBody(media, bytes.NewReader(body), "", nil)
}
