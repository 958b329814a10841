package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/metrics/metricstest"
)

func scrape(t *testing.T, m *metrics.Metrics) metricstest.Families {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	return metricstest.Scrape(t, srv.URL)
}

func want(t *testing.T, f metricstest.Families, name string, labels map[string]string, n float64) {
	t.Helper()
	got, ok := f.Value(name, labels)
	if !ok || got != n {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, n)
	}
}

func TestSeriesCountWhatTheyAreTold(t *testing.T) {
	m := metrics.New()
	m.Webhook("push", metrics.WebhookAccepted)
	m.Webhook("push", metrics.WebhookAccepted)
	m.Webhook("pull_request", metrics.WebhookDuplicate)
	m.Webhook("made-up-by-a-sender-1234", metrics.WebhookUnauthorized) // not a label of its own
	m.Job("github_event", metrics.JobSuccess, 1500*time.Millisecond)
	m.Job("github_event", metrics.JobRetry, 20*time.Millisecond)
	m.Run("Webhook", "Success")
	m.Run("Manually Triggered", "Failed")
	m.Run("Manually Triggered", "Failed")
	m.Stage(metrics.StepPlan, 250*time.Millisecond)
	m.Stage(metrics.StepApply, time.Second)
	m.Stage(metrics.StepExport, 2*time.Second)

	f := scrape(t, m)
	want(t, f, "systemsync_webhooks_total", map[string]string{"event": "push", "outcome": "accepted"}, 2)
	want(t, f, "systemsync_webhooks_total", map[string]string{"event": "pull_request", "outcome": "duplicate"}, 1)
	want(t, f, "systemsync_webhooks_total", map[string]string{"event": "other", "outcome": "unauthorized"}, 1)
	want(t, f, "systemsync_jobs_total", map[string]string{"kind": "github_event", "outcome": "success"}, 1)
	want(t, f, "systemsync_jobs_total", map[string]string{"kind": "github_event", "outcome": "retry"}, 1)
	want(t, f, "systemsync_job_duration_seconds", map[string]string{"kind": "github_event", "outcome": "success"}, 1)
	if s := f.Sum("systemsync_job_duration_seconds", map[string]string{"kind": "github_event", "outcome": "success"}); s != 1.5 {
		t.Errorf("job duration sum %v, want 1.5", s)
	}
	want(t, f, "systemsync_runs_total", map[string]string{"trigger": "Webhook", "status": "Success"}, 1)
	want(t, f, "systemsync_runs_total", map[string]string{"trigger": "Manually Triggered", "status": "Failed"}, 2)
	for _, step := range []string{"plan", "apply", "export"} {
		want(t, f, "systemsync_stage_duration_seconds", map[string]string{"step": step}, 1)
	}
	if s := f.Sum("systemsync_stage_duration_seconds", map[string]string{"step": "export"}); s != 2 {
		t.Errorf("export duration sum %v, want 2", s)
	}
	// The runtime's and the process's own collectors, and the build.
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if _, ok := f[name]; !ok {
			t.Errorf("no %s on the page", name)
		}
	}
	if _, ok := f.Value("systemsync_build_info", map[string]string{"version": "devel", "goversion": goVersion(f)}); !ok {
		t.Errorf("no systemsync_build_info{version=devel}: %v", f["systemsync_build_info"])
	}
}

func goVersion(f metricstest.Families) string {
	for _, m := range f["systemsync_build_info"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "goversion" {
				return l.GetValue()
			}
		}
	}
	return ""
}

// TestGitHubTransportCountsByStatus sends requests through the transport
// to a server answering 200, 404 and 500, and to a closed one.
func TestGitHubTransportCountsByStatus(t *testing.T) {
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
		case strings.HasSuffix(r.URL.Path, "/broken"):
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer gh.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	m := metrics.New()
	client := &http.Client{Transport: m.GitHubTransport(nil)}
	for _, p := range []string{"/repos/acme/fleet", "/repos/acme/fleet", "/repos/acme/missing", "/repos/acme/broken"} {
		resp, err := client.Get(gh.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if _, err := client.Get(closed.URL + "/repos/acme/fleet"); err == nil {
		t.Fatal("a request to a closed server succeeded")
	}
	f := scrape(t, m)
	want(t, f, "systemsync_github_requests_total", map[string]string{"code": "200"}, 2)
	want(t, f, "systemsync_github_requests_total", map[string]string{"code": "404"}, 1)
	want(t, f, "systemsync_github_requests_total", map[string]string{"code": "500"}, 1)
	want(t, f, "systemsync_github_requests_total", map[string]string{"code": "error"}, 1)
	// No path, repository or query reaches a label.
	for _, m := range f["systemsync_github_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "acme") {
				t.Errorf("a label holds a repository: %v", l)
			}
		}
	}
}

func TestNilMetricsIsSafe(t *testing.T) {
	var m *metrics.Metrics
	m.Webhook("push", "accepted")
	m.Job("github_event", metrics.JobSuccess, time.Second)
	m.Run("Webhook", "Success")
	m.Stage(metrics.StepPlan, time.Second)
	if m.Registry() != nil {
		t.Fatal("a nil Metrics has a registry")
	}
	next := http.DefaultTransport
	if got := m.GitHubTransport(next); got != next {
		t.Fatal("a nil Metrics wrapped the transport")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil Metrics' handler answered %d, want 404", rec.Code)
	}
}

// TestTwoMetricsDoNotShare: each New has its own registry (no global
// state), so two servers in one test binary count apart.
func TestTwoMetricsDoNotShare(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.Run("Webhook", "Success")
	if _, ok := scrape(t, b).Value("systemsync_runs_total", map[string]string{"trigger": "Webhook", "status": "Success"}); ok {
		t.Fatal("a run counted in one Metrics shows in another")
	}
}
