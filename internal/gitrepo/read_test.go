package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestReadTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, _ := seeded(t, map[string]string{
		"README.md":                                  "# specs\n",
		"specs/projects/default.yaml":                "kind: Project\n",
		"specs/projects/default/.gitkeep":            "",
		"specs/projects/default/clusters/c1.yaml":    "kind: Cluster\n",
		"specs/projects/default/addons/values/v.yml": "replicas: 2\n",
		"specs/projects/default-extra.yaml":          "kind: Project\n",
		"specs/tool.sh":                              "#!/bin/sh\n",
	})
	// An executable, and a symlink pointing outside the tree.
	if err := os.Chmod(filepath.Join(w.Dir, "specs", "tool.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, w.Dir, "../../../etc/passwd", "specs/projects/default/leak.yaml")
	w.Commit("exec and symlink")
	// A submodule (a gitlink to a commit of another repository).
	w.Run("update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("1", 40)+",specs/vendor/lib")
	w.Run("commit", "-q", "-m", "submodule")
	head := w.Run("rev-parse", "HEAD")
	w.Push("main")

	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}

	entries, err := r.ReadTree(ctx, head, "specs")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		path string
		mode EntryMode
		size int64
	}{
		{"projects/default-extra.yaml", Regular, 14},
		{"projects/default.yaml", Regular, 14},
		{"projects/default/.gitkeep", Regular, 0},
		{"projects/default/addons/values/v.yml", Regular, 12},
		{"projects/default/clusters/c1.yaml", Regular, 14},
		{"projects/default/leak.yaml", Symlink, int64(len("../../../etc/passwd"))},
		{"tool.sh", Executable, 10},
		{"vendor/lib", Submodule, 0},
	}
	if len(entries) != len(want) {
		t.Fatalf("ReadTree(specs) = %v, want %d entries", entryPaths(entries), len(want))
	}
	for i, e := range entries {
		if e.Path != want[i].path || e.Mode != want[i].mode || e.Size != want[i].size {
			t.Errorf("entry %d = %+v, want %+v", i, e, want[i])
		}
		if len(e.BlobSHA) != 40 {
			t.Errorf("entry %s has SHA %q", e.Path, e.BlobSHA)
		}
	}
	// The blob SHA is the file's content, as git hashes it.
	if got := w.Run("rev-parse", head+":specs/projects/default.yaml"); entries[1].BlobSHA != got {
		t.Errorf("BlobSHA %s, git says %s", entries[1].BlobSHA, got)
	}
	// The symlink is listed, not followed: its blob is the link target.
	link, err := r.Blob(ctx, entries[5].BlobSHA, 0)
	if err != nil || string(link) != "../../../etc/passwd" {
		t.Errorf("symlink blob %q, %v", link, err)
	}

	for _, root := range []string{"", ".", "./"} {
		all, err := r.ReadTree(ctx, head, root)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(want)+1 || all[0].Path != "README.md" || all[1].Path != "specs/projects/default-extra.yaml" {
			t.Fatalf("ReadTree(%q) = %v", root, entryPaths(all))
		}
	}
	for _, folder := range []string{"specs/projects/default/clusters/", "./specs/projects/default/clusters"} {
		sub, err := r.ReadTree(ctx, head, folder)
		if err != nil || len(sub) != 1 || sub[0].Path != "c1.yaml" {
			t.Fatalf("ReadTree(%q) = %v, %v", folder, sub, err)
		}
	}
	for _, missing := range []string{"nope", "specs/nope/deeper", "README.md", "specs/vendor/lib"} {
		got, err := r.ReadTree(ctx, head, missing)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("ReadTree(%q) = %v, %v; want an empty list", missing, got, err)
		}
	}
	for _, bad := range []string{"../", "..", "specs/../..", "/etc", "specs/../../x"} {
		if _, err := r.ReadTree(ctx, head, bad); err == nil {
			t.Fatalf("ReadTree(%q) did not fail", bad)
		}
	}
	if _, err := r.ReadTree(ctx, strings.Repeat("e", 40), ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadTree of a commit not in the clone: %v, want ErrNotFound", err)
	}
	if _, err := r.ReadTree(ctx, "main", ""); err == nil {
		t.Fatal("ReadTree of a branch name (not a SHA) did not fail")
	}
}

func TestReadFileAndBlob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB
	_, url, w, _ := seeded(t, map[string]string{"small.yaml": "a: 1\n", "dir/big.bin": string(big)})
	head := w.Run("rev-parse", "HEAD")
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}

	data, err := r.ReadFile(ctx, head, "dir/big.bin")
	if err != nil || !bytes.Equal(data, big) {
		t.Fatalf("ReadFile(big): %d bytes, %v", len(data), err)
	}
	for _, missing := range []string{"nope.yaml", "dir", "dir/nope", "small.yaml/x"} {
		if _, err := r.ReadFile(ctx, head, missing); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ReadFile(%q): %v, want ErrNotFound", missing, err)
		}
	}
	if _, err := r.ReadFile(ctx, head, "../small.yaml"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadFile(../small.yaml): %v, want a bad-path error", err)
	}

	bigSHA := w.Run("rev-parse", head+":dir/big.bin")
	if _, err := r.Blob(ctx, bigSHA, 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Blob(big, max 1000): %v, want ErrTooLarge", err)
	}
	got, err := r.Blob(ctx, bigSHA, int64(len(big)))
	if err != nil || len(got) != len(big) {
		t.Fatalf("Blob(big, max = its size): %d bytes, %v", len(got), err)
	}
	smallSHA := w.Run("rev-parse", head+":small.yaml")
	if got, err := r.Blob(ctx, smallSHA, 1000); err != nil || string(got) != "a: 1\n" {
		t.Fatalf("Blob(small): %q, %v", got, err)
	}
	if _, err := r.Blob(ctx, strings.Repeat("f", 40), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Blob(missing): %v, want ErrNotFound", err)
	}
	if _, err := r.Blob(ctx, head, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Blob(a commit's SHA): %v, want ErrNotFound", err)
	}
}

func TestChangedPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, w, first := seeded(t, map[string]string{
		"keep.yaml":          "same\n",
		"modify.yaml":        "v: 1\n",
		"delete.yaml":        "gone soon\n",
		"old/name.yaml":      "renamed content\n",
		"deep/a/b/keep.yaml": "same\n",
	})
	w.Remove("delete.yaml").Run("mv", "old/name.yaml", "new-name.yaml")
	second := w.Write(map[string]string{"modify.yaml": "v: 2\n", "added/x.yaml": "x\n"}).Commit("changes")
	w.Push("main")
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}

	got, err := r.ChangedPaths(ctx, first, second)
	if err != nil {
		t.Fatal(err)
	}
	want := "added/x.yaml,delete.yaml,modify.yaml,new-name.yaml,old/name.yaml"
	if strings.Join(got, ",") != want {
		t.Fatalf("ChangedPaths = %v, want %s", got, want)
	}
	// The same as git sees it.
	if gitSays := strings.ReplaceAll(w.Run("diff", "--no-renames", "--name-only", first, second), "\n", ","); gitSays != want {
		t.Fatalf("git diff says %s", gitSays)
	}
	got, err = r.ChangedPaths(ctx, second, second)
	if err != nil || len(got) != 0 {
		t.Fatalf("ChangedPaths(x, x) = %v, %v", got, err)
	}
	got, err = r.ChangedPaths(ctx, "", first)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "deep/a/b/keep.yaml,delete.yaml,keep.yaml,modify.yaml,old/name.yaml" {
		t.Fatalf("ChangedPaths(\"\", first) = %v", got)
	}
	if _, err := r.ChangedPaths(ctx, strings.Repeat("a", 40), second); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ChangedPaths from a missing commit: %v", err)
	}
}

// TestBlobReadsExactlyTheContent: blobs of every size up to the limit
// come back whole, as git cat-file gives them.
func TestBlobReadsExactlyTheContent(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"empty": ""}
	for _, n := range []int{1, 511, 512, 4095, 32 * 1024, 32*1024 + 1, 200_000} {
		files[fmt.Sprintf("f%d", n)] = strings.Repeat("abcdefghij", n/10+1)[:n]
	}
	_, url, _, head := seeded(t, files)
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	entries, err := r.ReadTree(ctx, head, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := r.Blob(ctx, e.BlobSHA, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != files[e.Path] || int64(len(data)) != e.Size {
			t.Fatalf("%s: %d bytes, want %d", e.Path, len(data), len(files[e.Path]))
		}
	}
}

// storeRaw writes an object of type typ with exactly data into the clone.
func storeRaw(t *testing.T, r *Repo, typ plumbing.ObjectType, data []byte) plumbing.Hash {
	t.Helper()
	obj := r.local.st.NewEncodedObject()
	obj.SetType(typ)
	w, err := obj.Writer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := r.local.st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// rawTree encodes entries (mode, name, hash) byte for byte, unchecked.
func rawTree(entries ...any) []byte {
	var b bytes.Buffer
	for i := 0; i < len(entries); i += 3 {
		h := entries[i+2].(plumbing.Hash)
		fmt.Fprintf(&b, "%s %s\x00", entries[i], entries[i+1])
		b.Write(h[:])
	}
	return b.Bytes()
}

// Trees git refuses to check out are read, not refused: each odd entry is
// listed once with a Problem, its path quoted; a subtree that cannot be
// parsed (a name holding a NUL byte) is its folder's problem; case twins
// keep their paths. ChangedPaths names them the same way, and the files
// beside them are read as usual.
func TestReadTreeListsOddEntriesWithTheirProblem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, _, base := seeded(t, map[string]string{"keep.yaml": "a: 1\n"})
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	blob := storeRaw(t, r, plumbing.BlobObject, []byte("b: 2\n"))
	inner := storeRaw(t, r, plumbing.TreeObject, rawTree("100644", "x.yaml", blob))
	nul := storeRaw(t, r, plumbing.TreeObject, rawTree("100644", "x\x00y.yaml", blob))
	twinDir := storeRaw(t, r, plumbing.TreeObject, rawTree("100644", "in.yaml", blob))
	root := storeRaw(t, r, plumbing.TreeObject, rawTree(
		"40000", "..", inner,
		"100644", ".", blob,
		"100644", "A.yaml", blob,
		"40000", "Dir", twinDir,
		"100644", "a.yaml", blob,
		"40000", "a\\b", inner,
		"100644", "a/b.yaml", blob,
		"40000", "bad", nul,
		"40000", "dir", twinDir,
		"100644", "keep.yaml", blob,
	))
	commit := storeRaw(t, r, plumbing.CommitObject, []byte(fmt.Sprintf(
		"tree %s\nparent %s\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nodd\n", root, base)))

	entries, err := r.ReadTree(ctx, commit.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Path] = e.Problem
	}
	twins := func(a, b string) string {
		return fmt.Sprintf(`is one of the names %q, %q in one folder, which differ only in case`, a, b)
	}
	want := map[string]string{
		`".."`:        `is a tree entry named ".."`,
		`"."`:         `is a tree entry named "."`,
		"A.yaml":      twins("A.yaml", "a.yaml"),
		"a.yaml":      twins("A.yaml", "a.yaml"),
		"Dir/in.yaml": twins("Dir", "dir"),
		"dir/in.yaml": twins("Dir", "dir"),
		`a\b/x.yaml`:  "",
		`"a/b.yaml"`:  `holds a "/"`,
		"bad":         "is a Git tree that cannot be read",
		"keep.yaml":   "",
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok || (w == "" && g != "") || !strings.Contains(g, w) {
			t.Errorf("%s: problem %q, want %q", p, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %d", got, len(want))
	}

	paths, err := r.ChangedPaths(ctx, base, commit.String())
	if err != nil {
		t.Fatal(err)
	}
	wantPaths := []string{`"."`, `".."`, `"a/b.yaml"`, "A.yaml", "Dir/in.yaml", "a.yaml", `a\b/x.yaml`, "bad", "dir/in.yaml", "keep.yaml"}
	if strings.Join(paths, " ") != strings.Join(wantPaths, " ") {
		t.Fatalf("changed paths %q, want %q", paths, wantPaths)
	}
	// From the odd commit back: the same paths.
	back, err := r.ChangedPaths(ctx, commit.String(), base)
	if err != nil || strings.Join(back, " ") != strings.Join(wantPaths, " ") {
		t.Fatalf("changed paths back %q, %v", back, err)
	}
}
