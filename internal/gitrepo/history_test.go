package gitrepo

import (
	"context"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/gittest"
)

func TestCommitsBetween(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, first := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	second := w.Write(map[string]string{"a.yaml": "a: 2\n"}).Commit("second")
	// A merge of a side branch: both parents' commits are new.
	w.Run("checkout", "-q", "-b", "side", first)
	w.Write(map[string]string{"b.yaml": "b: 1\n"}).Commit("side")
	w.Run("checkout", "-q", "main")
	w.Run("merge", "-q", "--no-edit", "side")
	merge := w.Run("rev-parse", "HEAD")
	w.Push("main")
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	list := func(from, to string, max int) ([]string, bool) {
		t.Helper()
		var got []string
		complete, err := r.Commits(ctx, from, to, max, func(c CommitInfo) bool {
			if c.AuthorEmail != "author@example.com" || c.CommitterEmail != "author@example.com" {
				t.Fatalf("commit %s by %s / %s", c.SHA, c.AuthorEmail, c.CommitterEmail)
			}
			got = append(got, strings.TrimSpace(c.Message))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, complete
	}
	if got, complete := list(first, merge, 10); strings.Join(got, ",") != "Merge branch 'side',second,side" || !complete {
		t.Fatalf("first..merge: %v complete %v", got, complete)
	}
	if got, _ := list(second, merge, 10); strings.Join(got, ",") != "Merge branch 'side',side" {
		t.Fatalf("second..merge: %v", got)
	}
	if got, complete := list("", merge, 10); len(got) != 4 || !complete {
		t.Fatalf("..merge: %v", got)
	}
	if got, complete := list("", merge, 2); len(got) != 2 || complete {
		t.Fatalf("..merge, at most 2: %v complete %v", got, complete)
	}
	if got, complete := list(merge, merge, 10); len(got) != 0 || !complete {
		t.Fatalf("merge..merge: %v", got)
	}
	// each ends the walk when it returns false.
	n := 0
	complete, err := r.Commits(ctx, "", merge, 10, func(CommitInfo) bool { n++; return false })
	if err != nil || complete || n != 1 {
		t.Fatalf("a stopped walk: %d commits, complete %v, %v", n, complete, err)
	}
	if _, err := r.Commits(ctx, "", strings.Repeat("ab", 20), 10, func(CommitInfo) bool { return true }); err == nil {
		t.Fatal("an unknown commit listed nothing without an error")
	}
}

func TestDeleteBranch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, url, w, _ := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	w.Run("checkout", "-q", "-b", "systemsync/conflict-7")
	w.Write(map[string]string{"a.yaml": "a: 2\n"}).Commit("conflict")
	w.Push("systemsync/conflict-7")
	bare := srv.Root + "/specs.git"
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "systemsync/conflict-7"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteBranch(ctx, Auth{}, "systemsync/conflict-7"); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, bare, "branch", "--list", "systemsync/*"); got != "" {
		t.Fatalf("the branch is still on the remote: %q", got)
	}
	if got := gittest.Git(t, bare, "branch", "--list", "main"); !strings.Contains(got, "main") {
		t.Fatalf("main went too: %q", got)
	}
	// Gone already: not an error.
	if err := r.DeleteBranch(ctx, Auth{}, "systemsync/conflict-7"); err != nil {
		t.Fatalf("deleting a missing branch: %v", err)
	}
	if err := r.DeleteBranch(ctx, Auth{}, "refs/tags/v1"); err == nil {
		t.Fatal("a tag was accepted as a branch")
	}
}
