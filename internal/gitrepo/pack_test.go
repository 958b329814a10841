package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/gittest"
)

// A commit of many files is stored as one pack: git finds the clone and
// the pushed repository sound, a clone of the remote holds every file, and
// go-git reads the pack back (a second commit on top, a fetch, a repack).
func TestCommitManyFilesAsOnePack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, url, w, base := seeded(t, map[string]string{
		"projects/default.yaml":           "kind: Project\n",
		"projects/default/keep/keep.yaml": "kind: Keep\n",
	})
	bare := filepath.Join(srv.Root, "specs.git")
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	sig := Signature{Name: "System Sync bot", Email: "bot@systemsync.example"}

	const n = 1200
	want := map[string]string{"projects/default.yaml": "kind: Project\n", "projects/default/keep/keep.yaml": "kind: Keep\n"}
	var changes []FileChange
	for i := range n {
		p := fmt.Sprintf("projects/p%d/namespaces/ns-%04d.yaml", i%7, i)
		content := fmt.Sprintf("kind: Namespace\nmetadata:\n  name: ns-%04d\n", i)
		if i%100 == 0 {
			content = "kind: Namespace\n" // the same blob many times over
		}
		want[p] = content
		changes = append(changes, FileChange{Path: p, Data: []byte(content)})
	}
	changes = append(changes, FileChange{Path: "projects/p0/.gitkeep", Data: []byte{}})
	want["projects/p0/.gitkeep"] = ""
	looseBefore := looseObjects(t, r.path)
	sha, err := r.Commit(ctx, base, changes, sig, sig, "Manually Triggered System Sync")
	if err != nil {
		t.Fatal(err)
	}
	if loose := looseObjects(t, r.path); loose != looseBefore {
		t.Errorf("the commit left %d loose objects, want none (before: %d)", loose-looseBefore, looseBefore)
	}
	if packs := countPacks(t, r); packs != 2 { // the fetch's and the commit's
		t.Errorf("%d packs after the commit, want 2", packs)
	}
	bareGit(t, r.path, "fsck", "--strict", "--no-dangling", sha)
	if err := r.Push(ctx, Auth{}, sha, "main", false); err != nil {
		t.Fatal(err)
	}
	bareGit(t, bare, "fsck", "--strict", "--no-dangling")
	bareGit(t, r.path, "fsck", "--strict", "--no-dangling")

	got := gittest.Clone(t, url)
	if head := got.Run("rev-parse", "HEAD"); head != sha {
		t.Fatalf("the remote's main is %s, want %s", head, sha)
	}
	checkFiles(t, got.Dir, want)

	// go-git reads what it packed: the tree, a file, and a packed commit
	// as the parent of the next one, which edits and deletes files.
	entries, err := r.ReadTree(ctx, sha, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Fatalf("ReadTree lists %d files, want %d", len(entries), len(want))
	}
	if data, err := r.ReadFile(ctx, sha, "projects/p3/namespaces/ns-0003.yaml"); err != nil || string(data) != want["projects/p3/namespaces/ns-0003.yaml"] {
		t.Fatalf("ReadFile: %q, %v", data, err)
	}
	var more []FileChange
	for i := range 150 {
		p := fmt.Sprintf("projects/p%d/namespaces/ns-%04d.yaml", i%7, i)
		if i%2 == 0 {
			more = append(more, FileChange{Path: p, Delete: true})
			delete(want, p)
			continue
		}
		want[p] = fmt.Sprintf("kind: Namespace\nmetadata:\n  name: ns-%04d\n  labels: {rev: \"2\"}\n", i)
		more = append(more, FileChange{Path: p, Data: []byte(want[p])})
	}
	sha2, err := r.Commit(ctx, sha, more, sig, sig, "second")
	if err != nil {
		t.Fatal(err)
	}
	// A small commit stays loose.
	sha3, err := r.Commit(ctx, sha2, []FileChange{{Path: "projects/default.yaml", Data: []byte("kind: Project\n# edited\n")}}, sig, sig, "third")
	if err != nil {
		t.Fatal(err)
	}
	want["projects/default.yaml"] = "kind: Project\n# edited\n"
	if loose := looseObjects(t, r.path); loose == looseBefore {
		t.Errorf("the small commit wrote no loose objects")
	}
	if err := r.Push(ctx, Auth{}, sha3, "main", false); err != nil {
		t.Fatal(err)
	}
	bareGit(t, bare, "fsck", "--strict", "--no-dangling")
	got.Run("pull", "-q", "origin", "main")
	checkFiles(t, got.Dir, want)

	// Someone else pushes; the fetch negotiates from the packed commits.
	w.Run("pull", "-q", "origin", "main")
	theirs := w.Write(map[string]string{"projects/default/keep/keep.yaml": "kind: Keep\nby: someone\n"}).Commit("theirs")
	w.Push("main")
	if got, err := r.Fetch(ctx, Auth{}, "main"); err != nil || got != theirs {
		t.Fatalf("fetch after the pushes: %s, %v; want %s", got, err, theirs)
	}
	want["projects/default/keep/keep.yaml"] = "kind: Keep\nby: someone\n"

	// A repack keeps every object, the packed ones included.
	r.netMu.Lock()
	err = r.repack()
	r.netMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if packs := countPacks(t, r); packs != 1 {
		t.Errorf("%d packs after the repack, want 1", packs)
	}
	bareGit(t, r.path, "fsck", "--strict", "--no-dangling")
	entries, err = r.ReadTree(ctx, theirs, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Fatalf("ReadTree after the repack lists %d files, want %d", len(entries), len(want))
	}
}

// A change set that ends where its parent was writes nothing, not even a pack.
func TestCommitManyFilesNoChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files := map[string]string{}
	for i := range 150 {
		files[fmt.Sprintf("f/%03d.yaml", i)] = fmt.Sprintf("n: %d\n", i)
	}
	_, url, _, base := seeded(t, files)
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	packs := countPacks(t, r)
	var same []FileChange
	for p, c := range files {
		same = append(same, FileChange{Path: p, Data: []byte(c)})
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	if _, err := r.Commit(ctx, base, same, sig, sig, "same"); err == nil || !strings.Contains(err.Error(), ErrNoChanges.Error()) {
		t.Fatalf("rewriting every file as it is: %v, want ErrNoChanges", err)
	}
	if got := countPacks(t, r); got != packs {
		t.Fatalf("%d packs after a commit with no changes, want %d", got, packs)
	}
}

// manyChanges writes n files under folder, each holding tag.
func manyChanges(folder, tag string, n int) []FileChange {
	var out []FileChange
	for i := range n {
		out = append(out, FileChange{Path: fmt.Sprintf("%s/f%04d.yaml", folder, i), Data: []byte(fmt.Sprintf("n: %d\ntag: %s\n", i, tag))})
	}
	return out
}

// A packed commit is pushed as its own pack when that is all the remote
// lacks, and by go-git's push otherwise; either way refusals keep their
// meaning.
func TestPushOwnPack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "ghs_packPushToken"
	srv, _, w, base := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	bare := filepath.Join(srv.Root, "specs.git")
	origin := serveWithToken(t, srv.Root, token)
	url := origin + "/specs.git"
	auth := Auth{Token: token, Origin: origin}
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, auth, "main"); err != nil {
		t.Fatal(err)
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	commit := func(parent, tag string) string {
		t.Helper()
		sha, err := r.Commit(ctx, parent, manyChanges("many", tag, 300), sig, sig, tag)
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}

	// Someone else pushes first: not a fast-forward, and nothing moves.
	ours := commit(base, "ours")
	theirs := w.Write(map[string]string{"a.yaml": "a: theirs\n"}).Commit("theirs")
	w.Push("main")
	if err := r.Push(ctx, auth, ours, "main", false); !errors.Is(err, ErrNonFastForward) {
		t.Fatalf("push after someone else pushed: %v, want ErrNonFastForward", err)
	}
	// A wrong token is refused, and not shown.
	if err := r.Push(ctx, Auth{Token: "ghs_wrongToken", Origin: origin}, ours, "systemsync/1", true); err == nil || strings.Contains(err.Error(), "ghs_wrongToken") {
		t.Fatalf("push with a wrong token: %v", err)
	}
	// To a new branch (a review branch) it goes, forced or not.
	if err := r.Push(ctx, auth, ours, "systemsync/1", true); err != nil {
		t.Fatal(err)
	}
	if got := bareGit(t, bare, "rev-parse", "refs/heads/systemsync/1"); got != ours {
		t.Fatalf("systemsync/1 is %s, want %s", got, ours)
	}
	if got := bareGit(t, r.path, "rev-parse", "refs/remotes/origin/systemsync/1"); got != ours {
		t.Fatalf("the tracking branch is %s, want %s", got, ours)
	}
	if err := r.Push(ctx, auth, ours, "systemsync/1", false); err != nil {
		t.Fatalf("pushing again what the remote has: %v", err)
	}
	bareGit(t, bare, "fsck", "--strict", "--no-dangling")

	// Rebuilt on their commit, it is a fast-forward of main.
	head, err := r.Fetch(ctx, auth, "main")
	if err != nil || head != theirs {
		t.Fatalf("fetch: %s, %v", head, err)
	}
	again := commit(head, "again")
	for _, branch := range []string{"systemsync/3", "main"} {
		if err := r.Push(ctx, auth, again, branch, false); err != nil {
			t.Fatal(err)
		}
		if got := bareGit(t, bare, "rev-parse", "refs/heads/"+branch); got != again {
			t.Fatalf("%s is %s, want %s", branch, got, again)
		}
	}
	// A commit on top of one the remote has only as an ancestor: go-git's
	// push sends what is missing.
	older := commit(base, "older")
	if err := r.Push(ctx, auth, older, "systemsync/2", false); err != nil {
		t.Fatal(err)
	}
	// After a repack the commit's own pack is gone: go-git's push again.
	after := commit(again, "after")
	r.netMu.Lock()
	err = r.repack()
	r.netMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, auth, after, "main", false); err != nil {
		t.Fatal(err)
	}
	bareGit(t, bare, "fsck", "--strict", "--no-dangling")
	bareGit(t, r.path, "fsck", "--strict", "--no-dangling")
	got := gittest.Clone(t, srv.URL+"/specs.git")
	want := map[string]string{"a.yaml": "a: theirs\n"}
	for _, c := range manyChanges("many", "after", 300) {
		want[c.Path] = string(c.Data)
	}
	checkFiles(t, got.Dir, want)

	// A hook's refusal of a packed commit is ErrPushRejected, with its message.
	writeHook(t, bare, "pre-receive", "#!/bin/sh\necho 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n")
	refused := commit(after, "refused")
	err = r.Push(ctx, auth, refused, "main", false)
	if !errors.Is(err, ErrPushRejected) || errors.Is(err, ErrNonFastForward) {
		t.Fatalf("push refused by a hook: %v, want ErrPushRejected", err)
	}
	if !strings.Contains(err.Error(), "GH006: Protected branch update failed") {
		t.Fatalf("error lacks the server's message: %v", err)
	}
}

// A root commit of many files goes to an empty remote as its own pack,
// over HTTP and to a local path (go-git runs git-receive-pack).
func TestPushOwnPackToEmptyRemote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := gittest.Serve(t)
	remotes := map[string]string{srv.NewBare(t, "fresh"): filepath.Join(srv.Root, "fresh.git")}
	srv.NewBare(t, "local")
	remotes[filepath.Join(srv.Root, "local.git")] = filepath.Join(srv.Root, "local.git")
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	changes := manyChanges("projects/default/namespaces", "root", 250)
	want := map[string]string{}
	for _, c := range changes {
		want[c.Path] = string(c.Data)
	}
	for url, bare := range remotes {
		r := newRepo(t, url)
		sha, err := r.Commit(ctx, "", changes, sig, sig, "init")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Push(ctx, Auth{}, sha, "main", false); err != nil {
			t.Fatalf("push to %s: %v", url, err)
		}
		bareGit(t, bare, "fsck", "--strict", "--no-dangling")
		checkFiles(t, gittest.Clone(t, url).Dir, want)
		if got, err := r.Fetch(ctx, Auth{}, "main"); err != nil || got != sha {
			t.Fatalf("fetch from %s after the push: %s, %v; want %s", url, got, err, sha)
		}
	}
}

// checkFiles fails unless the work tree at dir holds exactly want (path →
// content), besides .git.
func checkFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		content, ok := want[rel]
		switch {
		case !ok:
			t.Errorf("the clone has %s, which it should not", rel)
		case string(data) != content:
			t.Errorf("%s holds %q, want %q", rel, data, content)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("the clone holds %d files, want %d", seen, len(want))
	}
}

// looseObjects counts the loose objects of the repository at path.
func looseObjects(t *testing.T, path string) int {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(path, "objects", "[0-9a-f][0-9a-f]"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		files, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		n += len(files)
	}
	return n
}
