package githubflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/sync/semaphore"

	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/metrics"
)

// Enqueuer stores a delivery's job durably.
type Enqueuer interface {
	Enqueue(ctx context.Context, args jobs.EventArgs) (duplicate bool, err error)
}

// MaxBodiesInFlight is the budget of webhook body bytes one endpoint holds
// at once, the bodies being read, checked and decoded: four of GitHub's
// largest deliveries. A delivery is counted at its Content-Length (at
// MaxPayloadBytes when it has none) from before its body is read until it
// is answered.
const MaxBodiesInFlight = 4 * MaxPayloadBytes

// budgetWait is how long a delivery waits for room in the budget before it
// is answered 503 (GitHub gives an answer 10 s).
const budgetWait = 5 * time.Second

// Webhook returns the webhook endpoint. Before it reads a body, it answers
//
//   - 413 for a Content-Length over MaxPayloadBytes (GitHub's own cap);
//   - 401 for a missing X-Hub-Signature-256, or one that is not sha256=
//     and 64 hex digits (X-Hub-Signature, SHA-1, does not count);
//   - 400 for a missing X-GitHub-Event or X-GitHub-Delivery;
//   - 503 with Retry-After when the bodies in flight would go over
//     MaxBodiesInFlight for more than a few seconds.
//
// Then it reads the body (sized from its Content-Length) and answers
//
//   - 413 for a body over MaxPayloadBytes;
//   - 401 unless X-Hub-Signature-256 is the body's HMAC-SHA256 with secret;
//   - 400 for a payload that is not a valid delivery of its event;
//   - 200 for a delivery the bot does not act on (an event it does not
//     handle, an action it ignores), and for a delivery ID stored before;
//   - 202 once the delivery's job is stored in q;
//   - 503 when it cannot be stored (GitHub may redeliver it).
//
// Only 202 stores anything.
func (a *App) Webhook(secret string, q Enqueuer) http.Handler {
	return &webhook{secret: []byte(secret), q: q, events: a.events, log: a.log, metrics: a.metrics,
		budget: semaphore.NewWeighted(MaxBodiesInFlight), wait: budgetWait}
}

type webhook struct {
	secret  []byte
	q       Enqueuer
	events  map[string]eventHandler
	log     *slog.Logger
	metrics *metrics.Metrics
	// budget holds the bytes of the bodies in flight; wait is how long a
	// delivery waits for room in it.
	budget *semaphore.Weighted
	wait   time.Duration
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

	// Everything the headers can refuse is refused before the body is read.
	tooLarge := fmt.Sprintf("the body is over %d MiB, GitHub's cap on a webhook", MaxPayloadBytes>>20)
	if r.ContentLength > MaxPayloadBytes {
		refuse(http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	sig := r.Header.Get(github.SHA256SignatureHeader)
	if err := signatureForm(sig); err != nil {
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
	weight := r.ContentLength
	if weight < 0 {
		weight = MaxPayloadBytes
	}
	if !h.reserve(ctx, weight) {
		w.Header().Set("Retry-After", strconv.Itoa(int(2*budgetWait/time.Second)))
		refuse(http.StatusServiceUnavailable, fmt.Sprintf("too many webhook bodies in flight (%d MiB): try again later", MaxBodiesInFlight>>20))
		return
	}
	defer h.budget.Release(weight)
	body, err := readBody(w, r)
	if errors.As(err, new(*http.MaxBytesError)) {
		refuse(http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	if err != nil {
		refuse(http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if err := checkSignature(sig, body, h.secret); err != nil {
		refuse(http.StatusUnauthorized, err.Error())
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

// reserve waits, up to h.wait, for n bytes of the budget of bodies in
// flight; it reports whether it got them.
func (h *webhook) reserve(ctx context.Context, n int64) bool {
	if h.budget.TryAcquire(n) {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, h.wait)
	defer cancel()
	return h.budget.Acquire(ctx, n) == nil
}

// readBody reads a body of at most MaxPayloadBytes: into a buffer of its
// Content-Length when it has one (a body that ends short of it is an
// error), else as it comes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, MaxPayloadBytes)
	if r.ContentLength < 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// signatureForm checks that sig, the X-Hub-Signature-256 header, has the
// form of one: sha256= and 64 hex digits. A sha1= (or any other) signature
// does not count.
func signatureForm(sig string) error {
	if sig == "" {
		return errors.New("no X-Hub-Signature-256 header (an X-Hub-Signature SHA-1 signature is not accepted)")
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return errors.New("X-Hub-Signature-256 is not a sha256= signature")
	}
	if len(hexSig) != 2*sha256.Size {
		return fmt.Errorf("X-Hub-Signature-256 is not sha256= and %d hex digits", 2*sha256.Size)
	}
	if _, err := hex.DecodeString(hexSig); err != nil {
		return fmt.Errorf("X-Hub-Signature-256 is not sha256= and %d hex digits", 2*sha256.Size)
	}
	return nil
}

// checkSignature checks sig, the X-Hub-Signature-256 header, against body
// with go-github's HMAC check.
func checkSignature(sig string, body, secret []byte) error {
	if err := signatureForm(sig); err != nil {
		return err
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
