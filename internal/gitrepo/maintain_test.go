package gitrepo

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestRepackKeepsEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, base := seeded(t, map[string]string{"a.yaml": "a: 0\n", "d/b.yaml": "b\n"})
	r := newRepo(t, url)
	r.maxPacks = 3
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	// A commit made here and never pushed: only a loose object.
	sig := Signature{Name: "Bot", Email: "bot@example.com"}
	local, err := r.Commit(ctx, base, []FileChange{{Path: "local.yaml", Data: []byte("mine\n")}}, sig, sig, "local only")
	if err != nil {
		t.Fatal(err)
	}
	var shas []string
	for i := 1; i <= 3; i++ {
		want := w.Write(map[string]string{"a.yaml": fmt.Sprintf("a: %d\n", i)}).Commit(fmt.Sprintf("c%d", i))
		w.Push("main")
		got, err := r.Fetch(ctx, Auth{}, "main")
		if err != nil || got != want {
			t.Fatalf("fetch %d: %s, %v", i, got, err)
		}
		shas = append(shas, got)
	}
	// Four fetches made more than three packs, so the last one: they were merged into one.
	if packs := countPacks(t, r); packs != 1 {
		t.Fatalf("%d packs after the repack, want 1", packs)
	}
	bareGit(t, r.path, "fsck", "--strict", "--no-dangling")
	for i, sha := range shas {
		data, err := r.ReadFile(ctx, sha, "a.yaml")
		if err != nil || string(data) != fmt.Sprintf("a: %d\n", i+1) {
			t.Fatalf("a.yaml at %s after the repack: %q, %v", sha, data, err)
		}
	}
	if data, err := r.ReadFile(ctx, local, "local.yaml"); err != nil || string(data) != "mine\n" {
		t.Fatalf("the unpushed commit after the repack: %q, %v", data, err)
	}
	// The clone goes on working: fetch, commit, push.
	want := w.Write(map[string]string{"a.yaml": "a: 9\n"}).Commit("c9")
	w.Push("main")
	got, err := r.Fetch(ctx, Auth{}, "main")
	if err != nil || got != want {
		t.Fatalf("fetch after the repack: %s, %v", got, err)
	}
	next, err := r.Commit(ctx, got, []FileChange{{Path: "d/b.yaml", Delete: true}}, sig, sig, "rm b")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, Auth{}, next, "main", false); err != nil {
		t.Fatal(err)
	}
}

func countPacks(t *testing.T, r *Repo) int {
	t.Helper()
	for _, line := range strings.Split(bareGit(t, r.path, "count-objects", "-v"), "\n") {
		if n, ok := strings.CutPrefix(line, "packs: "); ok {
			var packs int
			fmt.Sscan(n, &packs)
			return packs
		}
	}
	t.Fatal("no pack count")
	return 0
}
