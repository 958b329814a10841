package gitrepo

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/systemsync/systemsync/internal/gittest"
)

func TestFetchBranchThenNewCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, first := seeded(t, map[string]string{"projects/default.yaml": "kind: Project\n"})
	r := newRepo(t, url)

	got, err := r.Fetch(ctx, Auth{}, "main")
	if err != nil {
		t.Fatal(err)
	}
	if got != first {
		t.Fatalf("first fetch gave %s, want %s", got, first)
	}

	second := w.Write(map[string]string{"projects/default/clusters/c1.yaml": "kind: Cluster\n"}).Commit("add cluster")
	w.Push("main")
	got, err = r.Fetch(ctx, Auth{}, "refs/heads/main")
	if err != nil {
		t.Fatal(err)
	}
	if got != second {
		t.Fatalf("second fetch gave %s, want the new commit %s", got, second)
	}
	entries, err := r.ReadTree(ctx, got, "projects")
	if err != nil {
		t.Fatal(err)
	}
	if paths := entryPaths(entries); strings.Join(paths, ",") != "default.yaml,default/clusters/c1.yaml" {
		t.Fatalf("tree after second fetch: %v", paths)
	}

	// Nothing new: same answer, no error.
	again, err := r.Fetch(ctx, Auth{}, "main")
	if err != nil || again != second {
		t.Fatalf("up-to-date fetch: %s, %v", again, err)
	}
	// The branch is kept where later fetches (and git) find it.
	if ref := bareGit(t, r.path, "rev-parse", "refs/remotes/origin/main"); ref != second {
		t.Fatalf("refs/remotes/origin/main is %s, want %s", ref, second)
	}
	// HEAD is the remote's default branch.
	if head, err := r.Fetch(ctx, Auth{}, "HEAD"); err != nil || head != second {
		t.Fatalf("fetch HEAD: %s, %v; want %s", head, err, second)
	}
	// A force-pushed branch is followed too.
	w.Run("reset", "-q", "--hard", first)
	rewritten := w.Write(map[string]string{"other.yaml": "x: 1\n"}).Commit("rewritten")
	w.Run("push", "-q", "--force", "origin", "HEAD:refs/heads/main")
	if got, err := r.Fetch(ctx, Auth{}, "main"); err != nil || got != rewritten {
		t.Fatalf("fetch after a force push: %s, %v; want %s", got, err, rewritten)
	}
}

func TestFetchPullRef(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, _ := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	r := newRepo(t, url)

	w.Run("checkout", "-q", "-b", "feature")
	head := w.Write(map[string]string{"b.yaml": "b: 2\n"}).Commit("feature")
	w.Run("push", "-q", "origin", "HEAD:refs/pull/1/head")

	got, err := r.Fetch(ctx, Auth{}, "refs/pull/1/head")
	if err != nil {
		t.Fatal(err)
	}
	if got != head {
		t.Fatalf("refs/pull/1/head fetched as %s, want %s", got, head)
	}
	data, err := r.ReadFile(ctx, got, "b.yaml")
	if err != nil || string(data) != "b: 2\n" {
		t.Fatalf("b.yaml at PR head: %q, %v", data, err)
	}
	if ref := bareGit(t, r.path, "rev-parse", "refs/systemsync/pull/1/head"); ref != head {
		t.Fatalf("refs/systemsync/pull/1/head is %s, want %s", ref, head)
	}
}

func TestFetchBySHA(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, url, w, first := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	second := w.Write(map[string]string{"a.yaml": "a: 2\n"}).Commit("two")
	w.Push("main")
	w.Run("checkout", "-q", "-b", "pr", first)
	onPR := w.Write(map[string]string{"c.yaml": "c: 3\n"}).Commit("on a PR only")
	w.Run("push", "-q", "origin", "HEAD:refs/pull/7/head")

	t.Run("server without allowReachableSHA1InWant", func(t *testing.T) {
		// git http-backend's default: go-git cannot ask for a bare SHA, so
		// the branches and pull refs are fetched and the SHA found there.
		r := newRepo(t, url)
		for _, want := range []string{first, second, onPR} {
			got, err := r.Fetch(ctx, Auth{}, want)
			if err != nil {
				t.Fatalf("fetch %s: %v", want, err)
			}
			if got != want {
				t.Fatalf("fetch %s gave %s", want, got)
			}
		}
		data, err := r.ReadFile(ctx, second, "a.yaml")
		if err != nil || string(data) != "a: 2\n" {
			t.Fatalf("a.yaml at %s: %q, %v", second, data, err)
		}
		_, err = r.Fetch(ctx, Auth{}, strings.Repeat("ab", 20))
		if !errors.Is(err, ErrRefNotFound) {
			t.Fatalf("unknown SHA: %v, want ErrRefNotFound", err)
		}
	})

	t.Run("server allowing reachable SHAs", func(t *testing.T) {
		bareGit(t, filepath.Join(srv.Root, "specs.git"), "config", "uploadpack.allowReachableSHA1InWant", "true")
		r := newRepo(t, url)
		got, err := r.Fetch(ctx, Auth{}, strings.ToUpper(onPR))
		if err != nil {
			t.Fatal(err)
		}
		if got != onPR {
			t.Fatalf("fetch by SHA gave %s, want %s", got, onPR)
		}
		// Fetched by SHA directly: only that commit's ref, no branches.
		if refs := bareGit(t, r.path, "for-each-ref", "--format=%(refname)"); refs != "refs/systemsync/fetched" {
			t.Fatalf("refs after a direct SHA fetch: %q", refs)
		}
		_, err = r.Fetch(ctx, Auth{}, strings.Repeat("cd", 20))
		if !errors.Is(err, ErrRefNotFound) {
			t.Fatalf("unknown SHA: %v, want ErrRefNotFound", err)
		}
	})
}

func TestFetchMissingRef(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := gittest.Serve(t)
	empty := srv.NewBare(t, "empty")
	r := newRepo(t, empty)
	if _, err := r.Fetch(ctx, Auth{}, "main"); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("fetch from an empty remote: %v, want ErrRefNotFound", err)
	}

	_, url, _, _ := seeded(t, map[string]string{"a": "a"})
	r = newRepo(t, url)
	for _, ref := range []string{"nope", "refs/pull/99/head", "refs/tags/v9"} {
		_, err := r.Fetch(ctx, Auth{}, ref)
		if !errors.Is(err, ErrRefNotFound) {
			t.Fatalf("fetch %s: %v, want ErrRefNotFound", ref, err)
		}
		if !strings.Contains(err.Error(), ref) {
			t.Fatalf("error %q does not name the ref", err)
		}
	}
	for _, bad := range []string{"", "a b", "main:evil", "+main", "refs/heads/*", "../x", "refs/../../config"} {
		_, err := r.Fetch(ctx, Auth{}, bad)
		if err == nil || errors.Is(err, ErrRefNotFound) {
			t.Fatalf("fetch %q: %v, want an invalid-ref error", bad, err)
		}
	}
}

func TestFetchFileRemote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _, w, first := seeded(t, map[string]string{"projects/p.yaml": "kind: Project\n"})
	bare := filepath.Join(srv.Root, "specs.git")
	for _, url := range []string{"file://" + bare, bare} {
		r := newRepo(t, url)
		got, err := r.Fetch(ctx, Auth{}, "main")
		if err != nil {
			t.Fatalf("fetch from %s: %v", url, err)
		}
		if got != first {
			t.Fatalf("fetch from %s gave %s, want %s", url, got, first)
		}
		data, err := r.ReadFile(ctx, got, "projects/p.yaml")
		if err != nil || string(data) != "kind: Project\n" {
			t.Fatalf("read from %s clone: %q, %v", url, data, err)
		}
	}
	// A commit and push over file:// too.
	r := newRepo(t, "file://"+bare)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	c, err := r.Commit(ctx, first, []FileChange{{Path: "projects/q.yaml", Data: []byte("kind: Project\n")}}, sig, sig, "add q")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, Auth{}, c, "main", false); err != nil {
		t.Fatal(err)
	}
	w.Run("pull", "-q", "origin", "main")
	if got := w.Run("rev-parse", "HEAD"); got != c {
		t.Fatalf("after push over file://, main is %s, want %s", got, c)
	}
}

func TestFetchWithToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "ghs_s3cretInstallationToken"
	srv, _, _, first := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	origin := serveWithToken(t, srv.Root, token)
	url := origin + "/specs.git"

	r := newRepo(t, url)
	for _, auth := range []Auth{{}, {Token: "ghs_wrongToken", Origin: origin}} {
		_, err := r.Fetch(ctx, auth, "main")
		if err == nil {
			t.Fatalf("fetch with %+v succeeded, want an authentication error", auth)
		}
		if errors.Is(err, ErrRefNotFound) {
			t.Fatalf("fetch with %+v: %v, an auth failure is not a missing ref", auth, err)
		}
		if auth.Token != "" && strings.Contains(err.Error(), auth.Token) {
			t.Fatalf("error shows the token: %v", err)
		}
	}
	got, err := r.Fetch(ctx, Auth{Token: token, Origin: origin}, "main")
	if err != nil {
		t.Fatal(err)
	}
	if got != first {
		t.Fatalf("fetch with the token gave %s, want %s", got, first)
	}
	// Push with the token works too; without it, it fails.
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	c, err := r.Commit(ctx, got, []FileChange{{Path: "b.yaml", Data: []byte("b: 1\n")}}, sig, sig, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, Auth{Token: "ghs_wrongToken", Origin: origin}, c, "main", false); err == nil || strings.Contains(err.Error(), "ghs_wrongToken") {
		t.Fatalf("push with a wrong token: %v", err)
	}
	if err := r.Push(ctx, Auth{Token: token, Origin: origin}, c, "main", false); err != nil {
		t.Fatal(err)
	}
	// The token was never written into the clone.
	if cfg := bareGit(t, r.path, "config", "--list"); strings.Contains(cfg, token) {
		t.Fatalf("clone config holds the token:\n%s", cfg)
	}
}

func TestFetchConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, _ := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	head := w.Write(map[string]string{"b.yaml": "b: 1\n"}).Commit("b")
	w.Push("main")
	r := newRepo(t, url)

	var wg sync.WaitGroup
	errs := make([]error, 8)
	shas := make([]string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shas[i], errs[i] = r.Fetch(ctx, Auth{}, "main")
			if errs[i] == nil {
				// Reads run alongside the other fetches.
				_, errs[i] = r.ReadTree(ctx, shas[i], "")
			}
		}()
	}
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil {
			t.Fatalf("fetch %d: %v", i, errs[i])
		}
		if shas[i] != head {
			t.Fatalf("fetch %d gave %s, want %s", i, shas[i], head)
		}
	}
}

func TestManagerSameRepoAndLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	m := NewManager(dir, nil, AllowAll())
	defer m.Close()
	a, err := m.Repo(ctx, "https://github.example.com/acme/specs.git")
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Repo(ctx, "https://github.example.com/acme/specs.git")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("the same URL gave two Repos")
	}
	c, err := m.Repo(ctx, "https://github.example.com/acme/other.git")
	if err != nil {
		t.Fatal(err)
	}
	if c == a || c.path == a.path {
		t.Fatal("two URLs share a clone")
	}
	if rel, _ := filepath.Rel(dir, a.path); !strings.HasPrefix(rel, "github.example.com_acme_specs-") || !strings.HasSuffix(rel, ".git") {
		t.Fatalf("clone folder %s", rel)
	}
	if got := bareGit(t, a.path, "config", "remote.origin.url"); got != "https://github.example.com/acme/specs.git" {
		t.Fatalf("origin of the clone: %s", got)
	}
	if _, err := m.Repo(ctx, "https://x-access-token:ghs_abc@github.example.com/acme/specs.git"); err == nil || strings.Contains(err.Error(), "ghs_abc") {
		t.Fatalf("URL with credentials: %v", err)
	}
	// A new Manager over the same folder finds the clone again.
	m2 := NewManager(dir, nil, AllowAll())
	defer m2.Close()
	a2, err := m2.Repo(ctx, "https://github.example.com/acme/specs.git")
	if err != nil || a2.path != a.path {
		t.Fatalf("reopen: %v, %s vs %s", err, a2.path, a.path)
	}
}

func entryPaths(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Path)
	}
	return out
}

func TestFetchCancelled(t *testing.T) {
	t.Parallel()
	_, url, _, _ := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	r := newRepo(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Fetch(ctx, Auth{}, "main"); !errors.Is(err, context.Canceled) {
		t.Fatalf("fetch with a cancelled context: %v", err)
	}
	// The clone is still good for the next caller.
	if _, err := r.Fetch(context.Background(), Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
}
