package gitrepo

import (
	"context"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// BenchmarkCommitAndPush10000Files measures one commit of 10,000 generated
// spec files into an empty repository, and its push over HTTP to a bare
// repository served by git http-backend: what a full export does in Git.
func BenchmarkCommitAndPush10000Files(b *testing.B) {
	ctx := context.Background()
	var changes []FileChange
	for _, f := range spectest.Generate(10000, 1) {
		changes = append(changes, FileChange{Path: f.Path, Data: f.Data})
	}
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	var commit, push time.Duration
	for b.Loop() {
		b.StopTimer()
		srv := gittest.Serve(b)
		url := srv.NewBare(b, "specs")
		r := newRepo(b, url)
		b.StartTimer()
		t0 := time.Now()
		sha, err := r.Commit(ctx, "", changes, sig, sig, "everything")
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := r.Push(ctx, Auth{}, sha, "main", false); err != nil {
			b.Fatal(err)
		}
		commit += t1.Sub(t0)
		push += time.Since(t1)
	}
	b.ReportMetric(float64(commit.Milliseconds())/float64(b.N), "commit-ms/op")
	b.ReportMetric(float64(push.Milliseconds())/float64(b.N), "push-ms/op")
}
