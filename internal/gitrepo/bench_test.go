package gitrepo

import (
	"context"
	"fmt"
	"testing"

	"github.com/systemsync/systemsync/internal/gittest"
)

// benchRemote serves a repository of 2,000 small files in 20 folders and
// returns its URL and a CLI work tree to push new commits from.
func benchRemote(b *testing.B) (string, *gittest.Work) {
	b.Helper()
	files := make(map[string]string, 2000)
	for i := range 2000 {
		files[fmt.Sprintf("projects/p%02d/workloads/w%04d.yaml", i%20, i)] =
			fmt.Sprintf("apiVersion: apps.k8smgmt.io/v3\nkind: Workload\nmetadata:\n  name: w%04d\n  project: p%02d\nspec:\n  namespace: ns\n", i, i%20)
	}
	_, url, w, _ := seeded(b, files)
	return url, w
}

// pushOne commits one changed file with the CLI and pushes it; it returns
// the new SHA.
func pushOne(b *testing.B, w *gittest.Work, i int) string {
	b.Helper()
	sha := w.Write(map[string]string{fmt.Sprintf("projects/p%02d/workloads/w%04d.yaml", i%20, i%2000): fmt.Sprintf("changed: %d\n", i)}).Commit(fmt.Sprintf("change %d", i))
	w.Push("main")
	return sha
}

// BenchmarkFetchOneNewCommit measures Fetch of a branch that moved by one
// commit (one changed file) since the last fetch, into the cached clone.
func BenchmarkFetchOneNewCommit(b *testing.B) {
	ctx := context.Background()
	url, w := benchRemote(b)
	r := newRepo(b, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		want := pushOne(b, w, i)
		b.StartTimer()
		got, err := r.Fetch(ctx, Auth{}, "main")
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("fetched %s, want %s", got, want)
		}
	}
}

// BenchmarkFetchOneNewCommitGitCLI is the floor: the same with `git fetch`
// into a bare clone made by the git CLI.
func BenchmarkFetchOneNewCommitGitCLI(b *testing.B) {
	url, w := benchRemote(b)
	dir := b.TempDir()
	gittest.Git(b, dir, "clone", "-q", "--bare", url, "clone.git")
	dir += "/clone.git"
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		want := pushOne(b, w, i)
		b.StartTimer()
		gittest.Git(b, dir, "fetch", "-q", "origin", "+refs/heads/main:refs/remotes/origin/main")
		b.StopTimer()
		if got := gittest.Git(b, dir, "rev-parse", "refs/remotes/origin/main"); got != want {
			b.Fatalf("fetched %s, want %s", got, want)
		}
		b.StartTimer()
	}
}
