// Package metrics is the bot's Prometheus series, on a registry of its own
// (never the client library's global one): webhooks, jobs, runs, stage
// durations, GitHub API calls, and the Go runtime's and the process's own
// collectors, served in the Prometheus text format by Handler.
//
// Every method is safe on a nil *Metrics, where it does nothing: tests and
// tools build components without metrics. Label values are fixed words
// (event names, outcomes, statuses, HTTP codes), never names of pipelines,
// repositories or users, so nothing secret and nothing unbounded reaches a
// label.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/systemsync/systemsync/internal/version"
)

// Namespace starts the name of every series of the bot's own.
const Namespace = "systemsync"

// Outcomes of a job, as Job records them.
const (
	JobSuccess   = "success"   // done
	JobRetry     = "retry"     // failed; River tries again later
	JobCancelled = "cancelled" // failed for good (a permanent error)
	JobDiscarded = "discarded" // failed its last attempt
	JobSnoozed   = "snoozed"   // put off by the worker
)

// Outcomes of a webhook delivery, as Webhook records them.
const (
	WebhookAccepted     = "accepted"     // stored as a job, 202
	WebhookDuplicate    = "duplicate"    // a delivery ID seen before
	WebhookIgnored      = "ignored"      // an event or action the bot does nothing for
	WebhookUnauthorized = "unauthorized" // no valid X-Hub-Signature-256, 401
	WebhookBadRequest   = "bad_request"  // malformed JSON, no delivery ID, 400
	WebhookTooLarge     = "too_large"    // over 25 MiB, 413
	WebhookError        = "error"        // not stored (the database failed), 5xx
)

// Steps whose durations Stage records.
const (
	StepPlan   = "plan"   // plan a folder against the system (Git → system or system → Git)
	StepApply  = "apply"  // apply a plan to the system
	StepExport = "export" // a whole system → Git export, fetch to push
)

// durationBuckets span 5 ms to about 5.5 minutes, ×4 each.
var durationBuckets = prometheus.ExponentialBuckets(0.005, 4, 9)

// webhookEvents are the X-GitHub-Event values kept as labels; any other
// value is counted as "other", so a sender cannot grow the label set.
var webhookEvents = map[string]bool{
	"push": true, "pull_request": true, "issue_comment": true, "check_run": true, "check_suite": true,
	"installation": true, "installation_repositories": true, "ping": true,
}

// Metrics holds the bot's series and the registry they are served from.
type Metrics struct {
	reg         *prometheus.Registry
	webhooks    *prometheus.CounterVec
	jobs        *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	runs        *prometheus.CounterVec
	stages      *prometheus.HistogramVec
	github      *prometheus.CounterVec
}

// New returns the bot's metrics on a new registry that also holds the Go
// runtime's collector (go_*), the process collector (process_*) and
// systemsync_build_info{version}.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhooks_total",
			Help: "GitHub webhook deliveries received, by event and outcome."}, []string{"event", "outcome"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "jobs_total",
			Help: "Job attempts worked, by job kind and outcome (success, retry, cancelled, discarded, snoozed)."}, []string{"kind", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "job_duration_seconds",
			Help: "How long job attempts took, by job kind and outcome.", Buckets: durationBuckets}, []string{"kind", "outcome"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "runs_total",
			Help: "Pipeline runs ended, by trigger and status (Success, Failed, Partial)."}, []string{"trigger", "status"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "stage_duration_seconds",
			Help: "How long the steps of a run took: plan, apply, export.", Buckets: durationBuckets}, []string{"step"}),
		github: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "github_requests_total",
			Help: "Requests to GitHub's API, by HTTP status code (\"error\" when no answer came)."}, []string{"code"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels say which build runs."}, []string{"version", "goversion"})
	build.WithLabelValues(version.String(), runtime.Version()).Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, m.webhooks, m.jobs, m.jobDuration, m.runs, m.stages, m.github,
	)
	return m
}

// Handler serves the registry in the Prometheus text format (404 on a nil
// *Metrics).
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is where the series live, for tests that read them directly.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Webhook counts one webhook delivery: event is X-GitHub-Event (an event
// outside the ones GitHub sends the app counts as "other"), outcome what
// the endpoint did with it (WebhookAccepted, WebhookDuplicate, …).
func (m *Metrics) Webhook(event, outcome string) {
	if m == nil {
		return
	}
	if !webhookEvents[event] {
		event = "other"
	}
	m.webhooks.WithLabelValues(event, word(outcome)).Inc()
}

// Job records one job attempt of kind (River's job kind) that ended with
// outcome (JobSuccess, JobRetry, …) after d.
func (m *Metrics) Job(kind, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	kind, outcome = word(kind), word(outcome)
	m.jobs.WithLabelValues(kind, outcome).Inc()
	m.jobDuration.WithLabelValues(kind, outcome).Observe(d.Seconds())
}

// Run counts one run that ended with status, started by trigger.
func (m *Metrics) Run(trigger, status string) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(word(trigger), word(status)).Inc()
}

// Stage records how long one step of a run took (StepPlan, StepApply,
// StepExport).
func (m *Metrics) Stage(step string, d time.Duration) {
	if m == nil {
		return
	}
	m.stages.WithLabelValues(word(step)).Observe(d.Seconds())
}

// GitHubTransport wraps next (http.DefaultTransport when nil) so that each
// request through it is counted by its answer's status code. Its signature
// is go-githubapp's ClientMiddleware: pass it to
// githubapp.WithClientMiddleware. On a nil *Metrics it returns next.
func (m *Metrics) GitHubTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if m == nil {
		return next
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		m.github.WithLabelValues(code).Inc()
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// word is a label value: "unknown" for an empty one.
func word(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
