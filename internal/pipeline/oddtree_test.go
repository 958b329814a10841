package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// A tree with entries a checkout cannot hold ("..", ".", ".git", a name
// with "/", names differing only in case) is a run whose rows name those
// paths as invalid; every other file is applied, and the next commit is
// applied too: Git → system never stalls on them. (A name with a NUL byte
// makes a tree git cannot parse, nor serve: gitrepo's tests cover it.)
func TestOddTreeEntriesAreInvalidRowsAndTheRestSyncs(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	base := e.work.Write(map[string]string{"projects/default/namespaces/base.yaml": ns("default", "base", "dev")}).Commit("base")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}

	dir := e.bareDir
	blob := func(s string) string { return gittest.WriteBlob(t, dir, s) }
	inner := gittest.WriteTree(t, dir, []gittest.RawEntry{{Mode: "100644", Name: "evil.yaml", SHA: blob(ns("default", "evil", "dev"))}})
	nsEntries := []gittest.RawEntry{
		{Mode: "100644", Name: ".", SHA: blob(ns("default", "dot", "dev"))},
		{Mode: "40000", Name: "..", SHA: inner},
		{Mode: "40000", Name: ".GIT", SHA: inner},
		{Mode: "100644", Name: "Twin.yaml", SHA: blob(ns("default", "Twin", "dev"))},
		{Mode: "100644", Name: "a/b.yaml", SHA: blob(ns("default", "b", "dev"))},
		{Mode: "100644", Name: "base.yaml", SHA: blob(ns("default", "base", "dev"))},
		{Mode: "100644", Name: "ok.yaml", SHA: blob(ns("default", "ok", "prod"))},
		{Mode: "100644", Name: "twin.yaml", SHA: blob(ns("default", "twin", "dev"))},
	}
	root := nest(t, dir, gittest.WriteTree(t, dir, nsEntries), "projects", "default", "namespaces")
	gittest.CommitTree(t, dir, "main", root, base, "odd entries")

	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}

	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 2 || runs[0].Status != pipeline.StatusPartial {
		t.Fatalf("runs: %+v", runs)
	}
	run, err := e.runner.Runs.Get(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range run.Rows {
		got[r.Path] = r.Action + " " + r.Outcome + " " + r.Message
	}
	want := map[string]string{
		`projects/default/namespaces/"."`:        `is a tree entry named "."`,
		`projects/default/namespaces/".."`:       `is a tree entry named ".."`,
		`projects/default/namespaces/".GIT"`:     `is a tree entry named ".GIT"`,
		`projects/default/namespaces/"a/b.yaml"`: `holds a "/"`,
		"projects/default/namespaces/Twin.yaml":  `"Twin.yaml", "twin.yaml" in one folder, which differ only in case`,
		"projects/default/namespaces/twin.yaml":  `"Twin.yaml", "twin.yaml" in one folder, which differ only in case`,
		"projects/default/namespaces/ok.yaml":    "create applied",
	}
	for p, w := range want {
		if g, ok := got[p]; !ok || !strings.Contains(g, w) || (w != "create applied" && !strings.HasPrefix(g, "invalid ")) {
			t.Errorf("row %s: %q, want %q", p, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rows %v, want %d of them", got, len(want))
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "ok"); err != nil {
		t.Fatalf("ok not applied: %v", err)
	}
	for _, name := range []string{"evil", "b", "twin", "dot"} {
		if _, err := e.sys.Get(ctx, "Namespace", "default", name); !controllerapi.IsNotFound(err) {
			t.Errorf("Namespace %s, from an odd entry, is in the system: %v", name, err)
		}
	}

	// The next commit, odd entries still there, is applied as any other.
	next := gittest.WriteTree(t, dir, append([]gittest.RawEntry{{Mode: "100644", Name: "next.yaml", SHA: blob(ns("default", "next", "dev"))}}, nsEntries...))
	root = nest(t, dir, next, "projects", "default", "namespaces")
	gittest.CommitTree(t, dir, "main", root, gittest.Git(t, dir, "rev-parse", "main"), "one more")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "next"); err != nil {
		t.Fatalf("the commit after the odd one was not applied: %v", err)
	}
}

// nest puts tree at the folders path (outermost first) and returns the root tree.
func nest(t *testing.T, dir, tree string, path ...string) string {
	for i := len(path) - 1; i >= 0; i-- {
		tree = gittest.WriteTree(t, dir, []gittest.RawEntry{{Mode: "40000", Name: path[i], SHA: tree}})
	}
	return tree
}
