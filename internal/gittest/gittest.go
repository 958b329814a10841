// Package gittest gives tests real Git: bare repositories served over HTTP
// by `git http-backend` (smart protocol, push enabled), and a working copy
// driven by the git CLI, as a user's tools would drive it.
package gittest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Handler serves every bare repository under root at /<name>.git with
// git http-backend, fetch and push both allowed, no authentication.
func Handler(t testing.TB, root string) http.Handler {
	t.Helper()
	h, err := NewHandler(root)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// NewHandler is Handler for callers without a testing.TB (benchmarks).
func NewHandler(root string) (http.Handler, error) {
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w", err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true",
		},
		InheritEnv: []string{"PATH", "HOME"},
	}
	// git sends pushes over 1 MiB chunked; CGI needs a Content-Length, so
	// such a body is read whole first.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.Header.Set("Content-Length", strconv.Itoa(len(body)))
			r.TransferEncoding = nil
		}
		backend.ServeHTTP(w, r)
	}), nil
}

// Server is an HTTP server of bare repositories.
type Server struct {
	*httptest.Server
	Root string // folder holding the bare repositories
}

// Serve starts a server of the bare repositories under a new temporary
// folder; it stops at the test's end.
func Serve(t testing.TB) *Server {
	t.Helper()
	root := t.TempDir()
	srv := httptest.NewServer(Handler(t, root))
	t.Cleanup(srv.Close)
	return &Server{Server: srv, Root: root}
}

// NewBare creates an empty bare repository name.git (default branch main)
// and returns its clone URL.
func (s *Server) NewBare(t testing.TB, name string) string {
	t.Helper()
	Git(t, s.Root, "init", "--bare", "-q", "-b", "main", name+".git")
	return s.URL + "/" + name + ".git"
}

// Git runs the git CLI in dir with a fixed identity and fails the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Author", "GIT_COMMITTER_EMAIL=author@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Work is a working copy of a remote, for a test to change and push.
type Work struct {
	Dir string
	t   testing.TB
}

// Clone clones url into a temporary folder (an empty remote is fine).
func Clone(t testing.TB, url string) *Work {
	t.Helper()
	dir := t.TempDir()
	Git(t, dir, "clone", "-q", url, ".")
	Git(t, dir, "checkout", "-q", "-B", "main")
	return &Work{Dir: dir, t: t}
}

// Write writes files (path → content, slash-separated paths) into the work tree.
func (w *Work) Write(files map[string]string) *Work {
	w.t.Helper()
	for p, content := range files {
		full := filepath.Join(w.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	return w
}

// Remove deletes paths from the work tree.
func (w *Work) Remove(paths ...string) *Work {
	w.t.Helper()
	for _, p := range paths {
		if err := os.RemoveAll(filepath.Join(w.Dir, filepath.FromSlash(p))); err != nil {
			w.t.Fatal(err)
		}
	}
	return w
}

// Commit stages everything and commits with message; it returns the SHA.
func (w *Work) Commit(message string) string {
	w.t.Helper()
	Git(w.t, w.Dir, "add", "-A")
	Git(w.t, w.Dir, "commit", "-q", "--allow-empty", "-m", message)
	return Git(w.t, w.Dir, "rev-parse", "HEAD")
}

// Push pushes HEAD to branch on origin.
func (w *Work) Push(branch string) {
	w.t.Helper()
	Git(w.t, w.Dir, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
}

// Run runs any git command in the work tree.
func (w *Work) Run(args ...string) string {
	w.t.Helper()
	return Git(w.t, w.Dir, args...)
}

// RawEntry is one entry of a tree that WriteTree writes byte for byte. Its
// name is taken as it is: "..", ".", "a/b.yaml" or names differing only in
// case, which git refuses to check out (or to make with mktree) but which
// real repositories hold.
type RawEntry struct {
	Mode string // "100644", "100755", "120000", "40000" (a folder) or "160000"
	Name string
	SHA  string // a blob, a tree (mode 40000) or a commit (160000)
}

// WriteBlob stores data as a blob in the repository at dir and returns its SHA.
func WriteBlob(t testing.TB, dir, data string) string {
	t.Helper()
	return gitStdin(t, dir, []byte(data), "hash-object", "-w", "--stdin")
}

// WriteTree stores a tree of entries, in the order given and unchecked, in
// the repository at dir and returns its SHA.
func WriteTree(t testing.TB, dir string, entries []RawEntry) string {
	t.Helper()
	var raw bytes.Buffer
	for _, e := range entries {
		sha, err := hex.DecodeString(e.SHA)
		if err != nil || len(sha) != 20 {
			t.Fatalf("tree entry %q: %v", e.Name, err)
		}
		raw.WriteString(e.Mode + " " + e.Name)
		raw.WriteByte(0)
		raw.Write(sha)
	}
	return gitStdin(t, dir, raw.Bytes(), "hash-object", "-t", "tree", "-w", "--literally", "--stdin")
}

// CommitTree makes a commit of tree on top of parent ("" for none) in the
// repository at dir, moves branch to it and returns its SHA.
func CommitTree(t testing.TB, dir, branch, tree, parent, message string) string {
	t.Helper()
	args := []string{"commit-tree", tree, "-m", message}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	sha := Git(t, dir, args...)
	Git(t, dir, "update-ref", "refs/heads/"+branch, sha)
	return sha
}

func gitStdin(t testing.TB, dir string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
