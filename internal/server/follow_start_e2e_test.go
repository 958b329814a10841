package server_test

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestChangeBeforeTheFollowerRunsIsExported makes a change in the
// embedded controller after server.New and before Run starts the
// follower, the moment a client that was quick to call the new server
// hits: it is committed to the demo repository like any later change,
// never taken for history the follower skips.
func TestChangeBeforeTheFollowerRunsIsExported(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config.Defaults()
	cfg.Listen, cfg.DataDir, cfg.DatabaseURL, cfg.APIKey = "127.0.0.1:0", t.TempDir(), storetest.URL(t), apiKey
	cfg.PollInterval, cfg.CommitWindow = time.Hour, 50*time.Millisecond
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	k := spec.Key{Kind: "Namespace", Project: "default", Name: "early"}
	obj := map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": "early", "project": "default"}, "spec": map[string]any{"placement": map[string]any{}}}
	if _, _, err := s.Store.Apply(ctx, k, obj, "early@example.com", ""); err != nil {
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
	repo := server.DemoRepoPath(cfg.DataDir)
	eventually(t, "the early change committed to the demo repository", func() bool {
		return exec.Command("git", "-C", repo, "cat-file", "-e", "main:projects/default/namespaces/early.yaml").Run() == nil
	})
	out, err := exec.Command("git", "-C", repo, "log", "-1", "--format=%ae", "main").Output()
	if err != nil || string(out) != "early@example.com\n" {
		t.Fatalf("the commit's author is %q (%v), want the changer", out, err)
	}
}
