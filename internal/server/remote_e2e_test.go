package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestRemoteControllerWithoutEventLog runs the bot against a remote
// controller that has no event log (it answers 404 there): the bot finds
// that out at start, follows the controller by listing it, and syncs both
// ways with a plain Git remote: a push is applied there, a console change
// there is committed.
func TestRemoteControllerWithoutEventLog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	remote := controllertest.Start(t)
	gitSrv := gittest.Serve(t)
	url := gitSrv.NewBare(t, "specs")
	work := gittest.Clone(t, url)
	work.Write(map[string]string{"README.md": "specs\n"}).Commit("init")
	work.Push("main")
	admin := controllerapi.New(remote.URL, controllertest.AdminKey)
	for _, obj := range controllertest.SyncSpecs(url, true) {
		if _, err := admin.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = storetest.URL(t)
	cfg.APIKey = apiKey
	cfg.BotEmail = controllertest.AdminEmail
	cfg.PollInterval = 200 * time.Millisecond
	cfg.Controller = config.Controller{URL: remote.WithoutEventLog(t), APIKey: controllertest.AdminKey,
		Follow: config.FollowAuto, ListInterval: 200 * time.Millisecond}
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Follower.Mode != pipeline.FollowList || s.Runner.Snapshot != nil {
		t.Fatalf("follow mode %q (snapshot %v) for a controller without an event log, want list and no snapshot", s.Follower.Mode, s.Runner.Snapshot != nil)
	}
	if _, err := s.Store.Get(ctx, spec.Key{Kind: "Pipeline", Project: "default", Name: server.DemoPipeline}); err == nil {
		t.Fatal("the embedded controller was seeded with local mode's demo although a remote controller is configured")
	}
	if _, err := os.Stat(server.DemoRepoPath(cfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local mode's demo repository was created with a remote controller: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})

	// Git → the remote controller.
	work.Write(map[string]string{"projects/default/namespaces/from-git.yaml": ns("from-git", "dev")}).Commit("from git")
	work.Push("main")
	eventually(t, "the push applied to the remote controller", func() bool {
		_, err := admin.Get(ctx, "Namespace", "default", "from-git")
		return err == nil
	})

	// A console change on the remote controller → a commit.
	if err := remote.Keys.Ensure(ctx, "alice-key", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	alice := controllerapi.New(remote.URL, "alice-key")
	obj := map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": "from-console", "project": "default"},
		"spec":     map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": "prod"}}}}}
	if _, err := alice.Apply(ctx, obj); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(gitSrv.Root, "specs.git")
	eventually(t, "the console change committed", func() bool {
		return strings.Contains(gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main"), "namespaces/from-console.yaml")
	})
	if got := gittest.Git(t, bare, "log", "-1", "--format=%s", "main"); got != "Resource Namespace/from-console, Create" {
		t.Fatalf("commit: %s", got)
	}
	// The bot's own apply of from-git was not committed back: the only
	// commits are the two of the test and the console change's.
	if n := gittest.Git(t, bare, "rev-list", "--count", "main"); n != "3" {
		t.Fatalf("%s commits on main, want 3:\n%s", n, gittest.Git(t, bare, "log", "--format=%s", "main"))
	}
}
