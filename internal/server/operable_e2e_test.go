package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/metrics/metricstest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// startLocal runs a local-mode server with cfg's changes until the test ends.
func startLocal(t *testing.T, change func(*config.Config)) *server.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = storetest.URL(t)
	cfg.APIKey = apiKey
	cfg.PollInterval = time.Hour
	if change != nil {
		change(&cfg)
	}
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = &testWriter{t}
	}
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(logw, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	return s
}

// TestReadTimeoutCutsOffATricklingBody sends a request's headers at once
// and then its body a byte every 200 ms, slower than the read timeout of
// 1 s allows: the server ends the exchange long before the body is sent,
// and nothing is created.
func TestReadTimeoutCutsOffATricklingBody(t *testing.T) {
	s := startLocal(t, func(c *config.Config) { c.ReadTimeout, c.WriteTimeout = time.Second, time.Second })
	body := ns("trickled", "dev")
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /apis/infra.k8smgmt.io/v3/projects/default/namespaces HTTP/1.1\r\nHost: x\r\nX-API-KEY: %s\r\n"+
		"Content-Type: application/yaml\r\nContent-Length: %d\r\n\r\n", apiKey, len(body))
	start := time.Now()
	cut := make(chan time.Duration, 1)
	go func() { // the answer, or the end of the connection, whichever comes
		io.Copy(io.Discard, conn)
		cut <- time.Since(start)
	}()
	sent := 0
	for ; sent < len(body); sent++ {
		if _, err := conn.Write([]byte{body[sent]}); err != nil {
			break
		}
		select {
		case d := <-cut:
			if d > 5*time.Second {
				t.Fatalf("the connection ended %v after the headers, want about the 1 s read timeout", d)
			}
			if sent+1 >= len(body) {
				t.Fatal("the whole body was sent before the server cut the connection")
			}
			if _, err := controllerapi.New(s.BaseURL, apiKey).Get(context.Background(), "Namespace", "default", "trickled"); !controllerapi.IsNotFound(err) {
				t.Fatalf("the trickled namespace: %v, want not found", err)
			}
			t.Logf("cut off %v after the headers, %d of %d body bytes sent", d, sent+1, len(body))
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("the server read the whole trickled body (%d bytes over %v)", sent, time.Since(start))
}

// TestLongPollOutlastsTheTimeouts asks the event log to wait 6 s with read
// and write timeouts of 1 s: a change made 2.5 s in, after both timeouts,
// still comes back as a normal answer.
func TestLongPollOutlastsTheTimeouts(t *testing.T) {
	s := startLocal(t, func(c *config.Config) { c.ReadTimeout, c.WriteTimeout = time.Second, time.Second })
	sys := controllerapi.New(s.BaseURL, apiKey)
	head, err := sys.Events(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(2500 * time.Millisecond) // past both timeouts
		if _, err := sys.Apply(context.Background(), map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
			"metadata": map[string]any{"name": "late", "project": "default"}, "spec": map[string]any{}}); err != nil {
			t.Error(err)
		}
	}()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/apis/system.k8smgmt.io/v3/events?since=%d&wait=6s", s.BaseURL, head.Revision), nil)
	req.Header.Set("X-API-KEY", apiKey)
	// A connection of its own: a client retries a GET on a reused
	// connection that broke, which would hide a cut-off long-poll.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("long-poll after %v: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	var got struct {
		Items []struct{ Type, Kind, Name string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("long-poll after %v: %d %v", time.Since(start), resp.StatusCode, err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("the long-poll answered after %v, before the change", took)
	}
	if len(got.Items) == 0 || got.Items[0].Name != "late" || got.Items[0].Type != "Create" {
		t.Fatalf("long-poll items %+v, want the Create of late", got.Items)
	}
}

// TestMetricsAfterARunAndAJob delivers a push; once its run is recorded
// and its job done, /metrics counts both with their labels.
func TestMetricsAfterARunAndAJob(t *testing.T) {
	b := startBot(t)
	b.work.Write(map[string]string{p("one"): ns("one", "dev"), p("two"): ns("two", "dev")})
	sha := b.work.Commit("two namespaces")
	b.work.Push("main")
	b.push(t, "0000000000000000000000000000000000000000", sha, "main")
	if runs := b.waitRuns(t, 1); runs[0].Status != pipeline.StatusSuccess {
		t.Fatalf("run %+v", runs[0])
	}
	job := map[string]string{"kind": "github_event", "outcome": "success"}
	var f metricstest.Families
	eventually(t, "the job counted", func() bool {
		f = metricstest.Scrape(t, b.s.BaseURL+"/metrics")
		n, _ := f.Value("systemsync_jobs_total", job)
		return n == 1
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"systemsync_job_duration_seconds", job, 1},
		{"systemsync_runs_total", map[string]string{"trigger": pipeline.TriggerWebhook, "status": pipeline.StatusSuccess}, 1},
		{"systemsync_stage_duration_seconds", map[string]string{"step": "apply"}, 1},
		{"systemsync_webhooks_total", map[string]string{"event": "push", "outcome": "accepted"}, 1},
	} {
		if got, _ := f.Value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n, _ := f.Value("systemsync_stage_duration_seconds", map[string]string{"step": "plan"}); n < 1 {
		t.Error("no plan duration observed")
	}
	// The job's work called GitHub (an installation token, the check run,
	// the merged pull requests): each call is counted by its status.
	if n, _ := f.Value("systemsync_github_requests_total", map[string]string{"code": "201"}); n < 1 {
		t.Errorf("GitHub calls answered 201 counted %v times, want at least the token and the check run", n)
	}
	if n, _ := f.Value("systemsync_github_requests_total", map[string]string{"code": "200"}); n < 1 {
		t.Errorf("GitHub calls answered 200 counted %v times", n)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "systemsync_build_info"} {
		if _, ok := f[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

// TestMetricsListen moves /metrics to an address of its own: the main
// listener then answers 404 there.
func TestMetricsListen(t *testing.T) {
	s := startLocal(t, func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" })
	if s.MetricsAddr().String() == s.Addr().String() {
		t.Fatal("metrics.listen is set but metrics are served on the main listener's address")
	}
	resp, err := http.Get(s.BaseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("main listener /metrics: %d, want 404", resp.StatusCode)
	}
	f := metricstest.Scrape(t, "http://"+s.MetricsAddr().String()+"/metrics")
	if _, ok := f["systemsync_build_info"]; !ok {
		t.Fatal("the metrics address does not serve the bot's series")
	}
	// Without metrics.listen, the main listener serves them, no key needed.
	s = startLocal(t, nil)
	if _, ok := metricstest.Scrape(t, s.BaseURL+"/metrics")["go_goroutines"]; !ok {
		t.Fatal("the main listener does not serve /metrics without metrics.listen")
	}
}

// TestRunButtonOutlastsTheTimeouts presses the Run button while the
// controller answers each request 0.7 s late, with read and write timeouts
// of 1 s: the manual sync takes longer than both and still answers 202
// with its run.
func TestRunButtonOutlastsTheTimeouts(t *testing.T) {
	ctx := context.Background()
	remote := controllertest.Start(t)
	target, _ := url.Parse(remote.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var delay atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(delay.Load()))
		rp.ServeHTTP(w, r)
	}))
	defer slow.Close()
	gitSrv := gittest.Serve(t)
	repoURL := gitSrv.NewBare(t, "specs")
	work := gittest.Clone(t, repoURL)
	work.Write(map[string]string{"README.md": "specs\n"}).Commit("init")
	work.Push("main")
	admin := controllerapi.New(remote.URL, controllertest.AdminKey)
	for _, obj := range controllertest.SyncSpecs(repoURL, true) {
		if _, err := admin.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	s := startLocal(t, func(c *config.Config) {
		c.ReadTimeout, c.WriteTimeout = time.Second, time.Second
		c.BotEmail = controllertest.AdminEmail
		c.Controller = config.Controller{URL: slow.URL, APIKey: controllertest.AdminKey, Follow: config.FollowList, ListInterval: time.Hour}
	})
	delay.Store(int64(700 * time.Millisecond))
	req, _ := http.NewRequest("POST", s.BaseURL+"/api/pipelines/default/system-sync/run", nil)
	req.Header.Set("X-API-KEY", apiKey)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("Run button after %v: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got struct{ ID int64 }
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusAccepted || got.ID == 0 {
		t.Fatalf("Run button after %v: %d %s", time.Since(start), resp.StatusCode, body)
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("the manual sync took %v: the controller was not slow, the test proves nothing", took)
	}
	run, err := s.Runner.Runs.Get(ctx, got.ID)
	if err != nil || run.Status != pipeline.StatusSuccess || run.Trigger != pipeline.TriggerManual {
		t.Fatalf("the manual run: %+v %v", run, err)
	}
}
