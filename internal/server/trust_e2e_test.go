package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// lockedLog is a server's log, for counting lines.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// trustBot runs the bot in GitHub mode with the GitHub stand-in, polling
// every 20ms, remotes.allow set to allow, and a Repository "fleet" at the
// path of an installed repository on the other host, with a pipeline that
// fetches from it and one that exports to it.
func trustBot(t *testing.T, other *otherHost, allow []string) (*server.Server, *controllerapi.Client, *lockedLog) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	gh := githubtest.New(t)
	gh.AddRepo(t, owner, repoName, inst)
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = storetest.URL(t)
	cfg.APIKey = apiKey
	cfg.PollInterval = 20 * time.Millisecond
	cfg.CommitWindow = 50 * time.Millisecond
	cfg.Github.V3APIURL = gh.APIURL()
	cfg.Github.WebURL = gh.WebURL()
	cfg.Github.App.IntegrationID = gh.AppID()
	cfg.Github.App.WebhookSecret = gh.WebhookSecret()
	cfg.Github.App.PrivateKey = gh.PrivateKeyPEM()
	cfg.Remotes.Allow = allow
	logs := &lockedLog{}
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
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
	// The follower exports changes made after it first read the event log.
	eventually(t, "the follower's start", func() bool {
		pos, err := s.DB.Position(ctx, "follow:events")
		return err == nil && pos != ""
	})
	sys := controllerapi.New(s.BaseURL, apiKey)
	stage := func(gitToSystem bool) map[string]any {
		return map[string]any{"name": "sync", "type": "SystemSync", "config": map[string]any{
			"gitToSystemSync": gitToSystem, "systemToGitSync": !gitToSystem, "sourceAsDestination": true,
			"includedResources": []any{map[string]any{"name": "Namespace"}},
			"sourceRepo":        map[string]any{"repository": "fleet", "revision": "main"}}}
	}
	for _, obj := range []map[string]any{
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "fleet", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": other.URL + "/" + owner + "/" + repoName + ".git"}},
		{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "fetching", "project": "default"},
			"spec": map[string]any{"stages": []any{stage(true)}}},
		{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "exporting", "project": "default"},
			"spec": map[string]any{"stages": []any{stage(false)}}},
	} {
		if _, err := sys.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	return s, sys, logs
}

func pipelineRuns(t *testing.T, s *server.Server, name string) []*pipeline.Run {
	t.Helper()
	runs, err := s.Runner.Runs.List(context.Background(), "default/"+name, 100)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// A Repository on another host than GitHub, outside remotes.allow, named
// with the path of an installed repository: neither the pipeline that
// fetches from it nor the one that exports a console change to it sends it
// anything. Each fails one run with the refusal, logged once over many polls.
func TestOtherHostOutsideRemotesAllowReceivesNothing(t *testing.T) {
	ctx := context.Background()
	other := newOtherHost(t)
	s, _, logs := trustBot(t, other, nil)
	if err := s.Keys.Ensure(ctx, "key-carol", "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := controllerapi.New(s.BaseURL, "key-carol").Apply(ctx, namespaceObj("from-console", "prod")); err != nil {
		t.Fatal(err)
	}
	want := "remote " + other.URL + "/" + owner + "/" + repoName + ".git is not allowed: add it to remotes.allow"
	for _, name := range []string{"fetching", "exporting"} {
		eventually(t, "the refused run of "+name, func() bool { return len(pipelineRuns(t, s, name)) > 0 })
	}
	eventually(t, "five refused polls", func() bool { return logs.count(`msg="poll stage failed"`) >= 5 })
	for name, trigger := range map[string]string{"fetching": pipeline.TriggerWebhook, "exporting": pipeline.TriggerInternal} {
		runs := pipelineRuns(t, s, name)
		if len(runs) != 1 || runs[0].Status != pipeline.StatusFailed || runs[0].Message != want || runs[0].Trigger != trigger {
			t.Errorf("runs of %s: %+v; want one %s run Failed with %q", name, runs, trigger, want)
		}
	}
	if n := logs.count("polled stage's remote is not allowed"); n != 1 {
		t.Errorf("the refused poll was logged %d times over %d polls, want once", n, logs.count(`msg="poll stage failed"`))
	}
	if n := logs.count("export's remote is not allowed"); n != 1 {
		t.Errorf("the refused export was logged %d times, want once", n)
	}
	if got := other.requests(); len(got) != 0 {
		t.Fatalf("the other host received %d requests, the first %s %s", len(got), got[0].Method, got[0].URL)
	}
}

// The same host named in remotes.allow is fetched, but never receives the
// installation token, which belongs to GitHub.
func TestTokenNeverReachesAnAllowedOtherHost(t *testing.T) {
	ctx := context.Background()
	other := newOtherHost(t)
	s, _, logs := trustBot(t, other, []string{other.URL + "/" + owner})
	if err := s.Keys.Ensure(ctx, "key-carol", "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := controllerapi.New(s.BaseURL, "key-carol").Apply(ctx, namespaceObj("from-console", "prod")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the poller's requests to the allowed host", func() bool { return len(other.requests()) >= 1 })
	eventually(t, "the export's attempt", func() bool {
		return logs.count("export failed") >= 1 || len(pipelineRuns(t, s, "exporting")) > 0
	})
	for _, r := range other.requests() {
		if r.Header.Get("Authorization") != "" || r.URL.User != nil {
			t.Fatalf("the other host received credentials: %s %s", r.Method, r.URL)
		}
	}
	if n := logs.count("is not allowed"); n != 0 {
		t.Fatalf("an allowed remote was refused (%d log lines)", n)
	}
}
