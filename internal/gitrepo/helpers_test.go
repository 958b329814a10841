package gitrepo

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/gittest"
)

// testLogger logs to the test's output, at debug level with -v.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newRepo returns the cached clone of url in a fresh Manager.
func newRepo(t testing.TB, url string) *Repo {
	t.Helper()
	m := NewManager(t.TempDir(), testLogger(t), AllowAll())
	t.Cleanup(func() { _ = m.Close() })
	r, err := m.Repo(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// seeded serves a new bare repository with one commit on main holding
// files; it returns the server, the clone URL, a CLI work tree and the SHA.
func seeded(t testing.TB, files map[string]string) (*gittest.Server, string, *gittest.Work, string) {
	t.Helper()
	srv := gittest.Serve(t)
	url := srv.NewBare(t, "specs")
	w := gittest.Clone(t, url)
	sha := w.Write(files).Commit("seed")
	w.Push("main")
	return srv, url, w, sha
}

// serveWithToken serves the bare repositories under root over HTTP, asking
// for basic auth x-access-token:<token> as GitHub does for an installation.
func serveWithToken(t testing.TB, root, token string) string {
	t.Helper()
	inner := gittest.Handler(t, root)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		if !ok || user != "x-access-token" || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// bareGit runs git in a bare repository folder.
func bareGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, args...)
}

// writeHook installs an executable hook script in a bare repository.
func writeHook(t testing.TB, bare, name, script string) {
	t.Helper()
	p := filepath.Join(bare, "hooks", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// mustSymlink makes a symlink at name (slash-separated, in dir) to target.
func mustSymlink(t testing.TB, dir, target, name string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func writeFile(p, content string) error { return os.WriteFile(p, []byte(content), 0o644) }
