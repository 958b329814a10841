package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// What controllertest does, without testing.TB; the git server is gittest's handler.

// gitServer serves the bare repositories under root at /<name>.git with git
// http-backend (smart protocol, fetch and push, no authentication).
type gitServer struct {
	root string
	srv  *httptest.Server
}

func newGitServer(root string) (*gitServer, error) {
	h, err := gittest.NewHandler(root)
	if err != nil {
		return nil, err
	}
	return &gitServer{root: root, srv: httptest.NewServer(h)}, nil
}

// newBare creates an empty bare repository name.git (default branch main)
// and returns its clone URL.
func (g *gitServer) newBare(name string) (string, error) {
	if _, err := gitCmd(g.root, "init", "--bare", "-q", "-b", "main", name+".git"); err != nil {
		return "", err
	}
	return g.srv.URL + "/" + name + ".git", nil
}

func (g *gitServer) close() { g.srv.Close() }

// gitCmd runs the git CLI in dir with a fixed identity.
func gitCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Bench Author", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=Bench Author", "GIT_COMMITTER_EMAIL=bench@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// writeFiles writes path → content (slash-separated paths) under dir.
func writeFiles(dir string, files map[string][]byte) error {
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

const (
	benchKey   = "bench-admin-key"
	benchEmail = "bench@example.com"
)

// controllerEnv is the embedded controller on a fresh SQLite database,
// served over HTTP on 127.0.0.1.
type controllerEnv struct {
	db    *store.DB
	dbURL string
	url   string
	srv   *httptest.Server
	store *controller.Store
}

func startController(ctx context.Context, dir string) (*controllerEnv, error) {
	dbURL := "sqlite://" + filepath.Join(dir, "bench.db")
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	keys := controller.NewKeys(db)
	if err := keys.Ensure(ctx, benchKey, benchEmail); err != nil {
		db.Close()
		return nil, err
	}
	st := controller.NewStore(db)
	srv := httptest.NewServer(controller.NewAPI(st, keys, slog.New(slog.NewTextHandler(io.Discard, nil))))
	return &controllerEnv{db: db, dbURL: dbURL, url: srv.URL, srv: srv, store: st}, nil
}

func (c *controllerEnv) close() {
	c.srv.Close()
	c.db.Close()
}

// applyAll applies objs through the API: Projects first, one at a time,
// then the rest with 8 clients.
func applyAll(ctx context.Context, cl *controllerapi.Client, objs []map[string]any) error {
	var projects, rest []map[string]any
	for _, o := range objs {
		if o["kind"] == "Project" {
			projects = append(projects, o)
		} else {
			rest = append(rest, o)
		}
	}
	for _, o := range projects {
		if _, err := cl.Apply(ctx, o); err != nil {
			return err
		}
	}
	work := make(chan map[string]any)
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if _, err := cl.Apply(ctx, o); err != nil {
					errc <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, o := range rest {
		work <- o
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// parseValidate is the floor's unit of work: spec.Parse and spec.Validate of
// one file at rel (relative to the pipeline folder), as the product does.
func parseValidate(rel string, data []byte) (*spec.Resource, error) {
	info := spec.ClassifyPath(rel)
	rs, probs := spec.Parse(rel, data)
	if len(probs) > 0 {
		return nil, fmt.Errorf("%s: %v", rel, probs[0])
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%s: %d resources", rel, len(rs))
	}
	if p := spec.Validate(rs[0], spec.Context{File: rel, Kind: info.Key.Kind, Project: info.Key.Project, Name: info.Key.Name}); spec.HasErrors(p) {
		return nil, fmt.Errorf("%s: %v", rel, spec.Errors(p)[0])
	}
	return rs[0], nil
}

// isSpecPath reports whether the loader parses the file at rel.
func isSpecPath(rel string) bool {
	t := spec.ClassifyPath(rel).Type
	return t == spec.PathSpec || t == spec.PathProject
}
