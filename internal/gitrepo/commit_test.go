package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/gittest"
)

func TestCommitAndPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, _ := seeded(t, map[string]string{
		"projects/default.yaml":                 "kind: Project\n",
		"projects/default/clusters/c1.yaml":     "kind: Cluster\nname: c1\n",
		"projects/default/clusters/c2.yaml":     "kind: Cluster\nname: c2\n",
		"projects/default/namespaces/only.yaml": "kind: Namespace\n",
		"projects/default/addons/values/v.yaml": "verbatim: true\n",
		"tools/run.sh":                          "#!/bin/sh\n",
	})
	if err := os.Chmod(filepath.Join(w.Dir, "tools", "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := w.Commit("executable")
	w.Push("main")
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}

	author := Signature{Name: "Console User", Email: "user@example.com", When: time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("", 2*3600))}
	committer := Signature{Name: "System Sync bot", Email: "bot@systemsync.example"}
	changes := []FileChange{
		{Path: "projects/default/clusters/c1.yaml", Data: []byte("kind: Cluster\nname: c1\nversion: 2\n")},
		{Path: "projects/default/clusters/c2.yaml", Delete: true},
		{Path: "projects/default/namespaces/only.yaml", Delete: true}, // its folder goes too
		{Path: "projects/default/workloads/w1.yaml", Data: []byte("kind: Workload\n")},
		{Path: "projects/default/missing.yaml", Delete: true}, // no-op
		{Path: "projects/new/.gitkeep", Data: []byte{}},
	}
	sha, err := r.Commit(ctx, base, changes, author, committer, "Sync from system\n\nSystemsync-Run: 42")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, Auth{}, sha, "main", false); err != nil {
		t.Fatal(err)
	}

	got := gittest.Clone(t, url)
	if head := got.Run("rev-parse", "HEAD"); head != sha {
		t.Fatalf("remote main is %s, want %s", head, sha)
	}
	if who := got.Run("log", "-1", "--format=%an|%ae|%cn|%ce|%aI"); who != "Console User|user@example.com|System Sync bot|bot@systemsync.example|2024-05-01T12:00:00+02:00" {
		t.Fatalf("author and committer: %s", who)
	}
	if msg := got.Run("log", "-1", "--format=%B"); msg != "Sync from system\n\nSystemsync-Run: 42" {
		t.Fatalf("message %q", msg)
	}
	if trailer := got.Run("log", "-1", "--format=%(trailers:key=Systemsync-Run,valueonly)"); trailer != "42" {
		t.Fatalf("trailer %q", trailer)
	}
	if parent := got.Run("rev-parse", "HEAD^"); parent != base {
		t.Fatalf("parent %s, want %s", parent, base)
	}
	files := got.Run("ls-files", "-s")
	for _, want := range []string{
		"100644 " + gitHash(t, got, "kind: Cluster\nname: c1\nversion: 2\n") + " 0\tprojects/default/clusters/c1.yaml",
		"100644 " + gitHash(t, got, "kind: Workload\n") + " 0\tprojects/default/workloads/w1.yaml",
		"\tprojects/new/.gitkeep",
		"100644 " + gitHash(t, got, "verbatim: true\n") + " 0\tprojects/default/addons/values/v.yaml",
	} {
		if !strings.Contains(files, want) {
			t.Errorf("tree lacks %q:\n%s", want, files)
		}
	}
	for _, gone := range []string{"c2.yaml", "namespaces", "missing.yaml"} {
		if strings.Contains(files, gone) {
			t.Errorf("tree still has %s:\n%s", gone, files)
		}
	}
	// git agrees the objects are sound.
	got.Run("fsck", "--strict")

	// Writing an executable keeps its bit; writing the same bytes is no change.
	sha2, err := r.Commit(ctx, sha, []FileChange{{Path: "tools/run.sh", Data: []byte("#!/bin/sh\necho hi\n")}}, author, committer, "exec")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, Auth{}, sha2, "refs/heads/main", false); err != nil {
		t.Fatal(err)
	}
	got.Run("pull", "-q", "origin", "main")
	if mode := got.Run("ls-files", "-s", "tools/run.sh"); !strings.HasPrefix(mode, "100755 ") {
		t.Fatalf("tools/run.sh lost its executable bit: %s", mode)
	}
	// The tracking branch follows the push, so the next fetch is a no-op.
	if ref := bareGit(t, r.path, "rev-parse", "refs/remotes/origin/main"); ref != sha2 {
		t.Fatalf("refs/remotes/origin/main is %s after the push, want %s", ref, sha2)
	}
	if err := r.Push(ctx, Auth{}, sha2, "main", false); err != nil {
		t.Fatalf("pushing again what the remote has: %v", err)
	}
}

func TestCommitNoChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, _, base := seeded(t, map[string]string{"a.yaml": "a: 1\n", "d/b.yaml": "b\n"})
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	for name, changes := range map[string][]FileChange{
		"nothing":        nil,
		"same content":   {{Path: "a.yaml", Data: []byte("a: 1\n")}},
		"delete missing": {{Path: "nope.yaml", Delete: true}, {Path: "d/nope/x", Delete: true}},
		"write then undo": {
			{Path: "a.yaml", Data: []byte("a: 2\n")},
			{Path: "c/new.yaml", Data: []byte("new\n")},
			{Path: "a.yaml", Data: []byte("a: 1\n")},
			{Path: "c", Delete: true},
		},
	} {
		if _, err := r.Commit(ctx, base, changes, sig, sig, "noop"); !errors.Is(err, ErrNoChanges) {
			t.Errorf("%s: %v, want ErrNoChanges", name, err)
		}
	}
	for name, change := range map[string]FileChange{
		"escape":   {Path: "../x", Data: []byte("x")},
		"absolute": {Path: "/x", Data: []byte("x")},
		"dot git":  {Path: "sub/.git/config", Data: []byte("x")},
		"empty":    {Path: "", Data: []byte("x")},
	} {
		if _, err := r.Commit(ctx, base, []FileChange{change}, sig, sig, "bad"); err == nil || errors.Is(err, ErrNoChanges) {
			t.Errorf("%s: %v, want an invalid-path error", name, err)
		}
	}
	if _, err := r.Commit(ctx, strings.Repeat("9", 40), []FileChange{{Path: "x", Data: []byte("x")}}, sig, sig, "m"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown parent: %v, want ErrNotFound", err)
	}
	if _, err := r.Commit(ctx, base, []FileChange{{Path: "x", Data: []byte("x")}}, Signature{Name: "A <evil>"}, sig, "m"); err == nil {
		t.Error("a name with <> was accepted")
	}
	// Deleting everything is a commit with an empty tree.
	empty, err := r.Commit(ctx, base, []FileChange{{Path: "a.yaml", Delete: true}, {Path: "d", Delete: true}}, sig, sig, "empty")
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := r.ReadTree(ctx, empty, ""); err != nil || len(entries) != 0 {
		t.Fatalf("tree after deleting everything: %v, %v", entries, err)
	}
}

func TestCommitRootAndPushToEmptyRemote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := gittest.Serve(t)
	url := srv.NewBare(t, "fresh")
	r := newRepo(t, url)
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	if _, err := r.Commit(ctx, "", nil, sig, sig, "nothing"); !errors.Is(err, ErrNoChanges) {
		t.Fatalf("empty root commit: %v, want ErrNoChanges", err)
	}
	sha, err := r.Commit(ctx, "", []FileChange{{Path: "projects/demo.yaml", Data: []byte("kind: Project\n")}}, sig, sig, "init")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, Auth{}, sha, "main", false); err != nil {
		t.Fatal(err)
	}
	w := gittest.Clone(t, url)
	if got := w.Run("show", "HEAD:projects/demo.yaml"); got != "kind: Project" {
		t.Fatalf("pushed root commit holds %q", got)
	}
	if n := w.Run("rev-list", "--count", "HEAD"); n != "1" {
		t.Fatalf("%s commits", n)
	}
}

func TestPushNonFastForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, base := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	ours, err := r.Commit(ctx, base, []FileChange{{Path: "a.yaml", Data: []byte("a: ours\n")}}, sig, sig, "ours")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else pushes first.
	theirs := w.Write(map[string]string{"a.yaml": "a: theirs\n"}).Commit("theirs")
	w.Push("main")

	err = r.Push(ctx, Auth{}, ours, "main", false)
	if !errors.Is(err, ErrNonFastForward) {
		t.Fatalf("push after someone else pushed: %v, want ErrNonFastForward", err)
	}
	if got := w.Run("ls-remote", "origin", "refs/heads/main"); !strings.HasPrefix(got, theirs) {
		t.Fatalf("remote main moved: %s", got)
	}
	// The usual way out: fetch, rebuild on top, push.
	head, err := r.Fetch(ctx, Auth{}, "main")
	if err != nil || head != theirs {
		t.Fatalf("fetch: %s, %v", head, err)
	}
	again, err := r.Commit(ctx, head, []FileChange{{Path: "b.yaml", Data: []byte("b\n")}}, sig, sig, "ours again")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, Auth{}, again, "main", false); err != nil {
		t.Fatal(err)
	}
	// force overwrites.
	if err := r.Push(ctx, Auth{}, ours, "main", true); err != nil {
		t.Fatalf("forced push: %v", err)
	}
	if got := w.Run("ls-remote", "origin", "refs/heads/main"); !strings.HasPrefix(got, ours) {
		t.Fatalf("after a forced push the remote has %s", got)
	}
	// A new branch is created.
	if err := r.Push(ctx, Auth{}, again, "systemsync/run-42", false); err != nil {
		t.Fatal(err)
	}
	if got := w.Run("ls-remote", "origin", "refs/heads/systemsync/run-42"); !strings.HasPrefix(got, again) {
		t.Fatalf("new branch: %s", got)
	}
	if err := r.Push(ctx, Auth{}, again, "refs/tags/v1", false); err == nil {
		t.Fatal("push to a tag ref accepted as a branch")
	}
}

func TestPushRejectedByHook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, url, _, base := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	writeHook(t, filepath.Join(srv.Root, "specs.git"), "pre-receive",
		"#!/bin/sh\necho 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n")
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	sha, err := r.Commit(ctx, base, []FileChange{{Path: "a.yaml", Data: []byte("a: 2\n")}}, sig, sig, "change")
	if err != nil {
		t.Fatal(err)
	}
	err = r.Push(ctx, Auth{}, sha, "main", false)
	if !errors.Is(err, ErrPushRejected) {
		t.Fatalf("push to a protected branch: %v, want ErrPushRejected", err)
	}
	if errors.Is(err, ErrNonFastForward) {
		t.Fatalf("a hook's refusal is not a non-fast-forward: %v", err)
	}
	if !strings.Contains(err.Error(), "pre-receive hook declined") || !strings.Contains(err.Error(), "GH006: Protected branch update failed") {
		t.Fatalf("error lacks the server's message: %v", err)
	}
}

// gitHash is git's blob SHA of content.
func gitHash(t *testing.T, w *gittest.Work, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blob")
	if err := writeFile(p, content); err != nil {
		t.Fatal(err)
	}
	return w.Run("hash-object", p)
}

// TestPushRacedByAnotherPush: the branch moves after the remote advertised
// it and before it updates it (another push landed in between), so the
// remote's own compare-and-swap fails. That is a non-fast-forward to try
// again on the new tip, not a refusal.
func TestPushRacedByAnotherPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, url, w, base := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	theirs := w.Write(map[string]string{"a.yaml": "a: theirs\n"}).Commit("theirs")
	w.Push("other")
	// Between the advertisement and the update, main moves to theirs.
	writeHook(t, filepath.Join(srv.Root, "specs.git"), "pre-receive",
		"#!/bin/sh\nenv -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git update-ref refs/heads/main "+theirs+"\n")
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	ours, err := r.Commit(ctx, base, []FileChange{{Path: "b.yaml", Data: []byte("b: ours\n")}}, sig, sig, "ours")
	if err != nil {
		t.Fatal(err)
	}
	err = r.Push(ctx, Auth{}, ours, "main", false)
	if !errors.Is(err, ErrNonFastForward) || errors.Is(err, ErrPushRejected) {
		t.Fatalf("push raced by another: %v, want ErrNonFastForward only", err)
	}
	if got := w.Run("ls-remote", "origin", "refs/heads/main"); !strings.HasPrefix(got, theirs) {
		t.Fatalf("remote main is %s, want theirs %s", got, theirs)
	}
}
