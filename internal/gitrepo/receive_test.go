package gitrepo

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/systemsync/systemsync/internal/gittest"
)

// deltaSource returns a bare repository whose history makes git write
// deltas: files that change a little in each of several commits.
func deltaSource(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q", "-b", "main", ".")
	var long strings.Builder
	for i := range 200 {
		fmt.Fprintf(&long, "line %d: the same text in every version of the file\n", i)
	}
	for c := range 4 {
		for f := range 5 {
			p := filepath.Join(dir, "projects", fmt.Sprintf("p%d", f), "spec.yaml")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(fmt.Sprintf("version: %d\nfile: %d\n%s", c, f, long.String())), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gittest.Git(t, dir, "add", "-A")
		gittest.Git(t, dir, "commit", "-q", "-m", fmt.Sprintf("c%d", c))
	}
	return dir
}

// packOf returns a pack of every object reachable from main in dir, as git
// pack-objects writes it with args.
func packOf(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", append([]string{"pack-objects", "--stdout", "--revs", "-q"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("main\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("git pack-objects: %v\n%s", err, errOut.String())
	}
	return out.Bytes()
}

// gitObjects returns what git holds in dir for each of hashes: type and content.
func gitObjects(t *testing.T, dir string, hashes []string) map[string]*packedObject {
	t.Helper()
	cmd := exec.Command("git", "cat-file", "--batch")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(hashes, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file --batch: %v", err)
	}
	got := map[string]*packedObject{}
	rd := bufio.NewReader(bytes.NewReader(out))
	for range hashes {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("git cat-file: %q", line)
		}
		size, _ := strconv.Atoi(f[2])
		data := make([]byte, size+1)
		if _, err := io.ReadFull(rd, data); err != nil {
			t.Fatal(err)
		}
		typ, err := plumbing.ParseObjectType(f[1])
		if err != nil {
			t.Fatal(err)
		}
		got[f[0]] = &packedObject{hash: plumbing.NewHash(f[0]), typ: typ, data: data[:size]}
	}
	return got
}

// bareStorage returns a new bare repository and go-git's storage of it.
func bareStorage(t *testing.T) (string, *filesystem.Storage) {
	t.Helper()
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q", "--bare", ".")
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	t.Cleanup(func() { _ = st.Close() })
	return dir, st
}

// receive writes pack to a new packReceiver in chunks of 1000 bytes (as a
// fetch would, in pieces that cut objects anywhere), closes it, and returns
// Close's error and the objects handed to done.
func receive(t testing.TB, dir string, st *filesystem.Storage, budget int64, pack []byte) ([]*packedObject, error) {
	t.Helper()
	var got []*packedObject
	calls := 0
	w, err := newPackReceiver(dir, st, budget, func(objs []*packedObject) { got = objs; calls++ })
	if err != nil {
		t.Fatal(err)
	}
	for rest := pack; len(rest) > 0; {
		n := min(1000, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatalf("write: %v", err)
		}
		rest = rest[n:]
	}
	err = w.Close()
	if calls > 1 {
		t.Fatalf("done called %d times", calls)
	}
	return got, err
}

// packFiles lists the pack folder of the bare repository at dir.
func packFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// verifyPack runs git verify-pack -v on the one pack in dir, which checks
// the index against the pack (offsets, CRCs, hashes), and returns the
// hashes it lists.
func verifyPack(t *testing.T, dir string) []string {
	hashes, _ := verifyPackDeltas(t, dir)
	return hashes
}

// verifyPackDeltas is verifyPack, also counting the objects stored as deltas.
func verifyPackDeltas(t *testing.T, dir string) (hashes []string, deltas int) {
	t.Helper()
	files := packFiles(t, dir)
	if len(files) != 2 || !strings.HasSuffix(files[0], ".idx") || !strings.HasSuffix(files[1], ".pack") {
		t.Fatalf("pack folder holds %v, want one .idx and its .pack", files)
	}
	out := gittest.Git(t, dir, "verify-pack", "-v", filepath.Join("objects", "pack", files[0]))
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || len(f[0]) != 40 {
			continue
		}
		hashes = append(hashes, f[0])
		if len(f) == 7 { // depth and base: a delta
			deltas++
		}
	}
	sort.Strings(hashes)
	return hashes, deltas
}

func TestReceivePackIndexesItAsGitDoes(t *testing.T) {
	t.Parallel()
	src := deltaSource(t)
	for _, tc := range []struct {
		name   string
		args   []string
		deltas bool
	}{
		{"offset deltas", []string{"--delta-base-offset"}, true},
		{"reference deltas", nil, true},
		{"no deltas", []string{"--window=0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pack := packOf(t, src, tc.args...)
			dir, st := bareStorage(t)
			objs, err := receive(t, dir, st, receiveBudget, pack)
			if err != nil {
				t.Fatal(err)
			}
			listed, deltas := verifyPackDeltas(t, dir)
			if (deltas > 0) != tc.deltas {
				t.Fatalf("the pack holds %d deltas", deltas)
			}
			if len(objs) != len(listed) {
				t.Fatalf("done got %d objects, the pack holds %d", len(objs), len(listed))
			}
			want := gitObjects(t, src, listed)
			for _, o := range objs {
				w := want[o.hash.String()]
				if w == nil {
					t.Fatalf("object %s is not in the pack", o.hash)
				}
				if o.typ != w.typ || !bytes.Equal(o.data, w.data) {
					t.Fatalf("object %s: %s of %d bytes, git has a %s of %d bytes", o.hash, o.typ, len(o.data), w.typ, len(w.data))
				}
			}
			// go-git's storage, told to look again, finds every object.
			for _, h := range listed {
				if _, err := st.EncodedObject(plumbing.AnyObject, plumbing.NewHash(h)); err != nil {
					t.Fatalf("storage after the pack: %s: %v", h, err)
				}
			}
		})
	}
}

// handPack writes a version-2 pack of entries, each a header's type and
// size, the base hash of a REF delta, and the content to compress.
func handPack(entries ...handEntry) []byte {
	var b bytes.Buffer
	head := packHeader(uint32(len(entries)))
	b.Write(head[:])
	for _, e := range entries {
		b.Write(appendObjectHeader(nil, e.typ, uint64(len(e.data))))
		if e.typ == plumbing.REFDeltaObject {
			b.Write(e.base[:])
		}
		zw := zlib.NewWriter(&b)
		_, _ = zw.Write(e.data)
		_ = zw.Close()
	}
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

type handEntry struct {
	typ  plumbing.ObjectType
	base plumbing.Hash
	data []byte
}

func TestReceivePackReferenceDeltaBeforeItsBase(t *testing.T) {
	t.Parallel()
	base := []byte(strings.Repeat("the base blob's line\n", 50))
	target := append(append([]byte(nil), base...), "and one more line\n"...)
	baseHash := plumbing.ComputeHash(plumbing.BlobObject, base)
	pack := handPack(
		handEntry{typ: plumbing.REFDeltaObject, base: baseHash, data: packfile.DiffDelta(base, target)},
		handEntry{typ: plumbing.BlobObject, data: base},
	)
	dir, st := bareStorage(t)
	objs, err := receive(t, dir, st, receiveBudget, pack)
	if err != nil {
		t.Fatal(err)
	}
	targetHash := plumbing.ComputeHash(plumbing.BlobObject, target)
	want := []string{baseHash.String(), targetHash.String()}
	sort.Strings(want)
	if got := verifyPack(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("git verify-pack lists %v, want %v", got, want)
	}
	if len(objs) != 2 || objs[0].hash != targetHash || !bytes.Equal(objs[0].data, target) || objs[0].typ != plumbing.BlobObject {
		t.Fatalf("objects %v, want the delta's target first", objs)
	}
}

func TestReceivePackRefusesABrokenPack(t *testing.T) {
	t.Parallel()
	good := packOf(t, deltaSource(t), "--delta-base-offset")
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0xff
	badSum := append([]byte(nil), good...)
	badSum[len(badSum)-1] ^= 0xff
	base := []byte("a small base\n")
	// A delta of a few bytes (source size, target size) that says it
	// makes an object of 1 TiB.
	huge := binary.AppendUvarint([]byte{byte(len(base))}, 1<<40)
	manyObjects := handPack(handEntry{typ: plumbing.BlobObject, data: base})
	binary.BigEndian.PutUint32(manyObjects[8:], 1<<31)
	for _, tc := range []struct {
		name string
		pack []byte
	}{
		{"a delta declaring 1 TiB", handPack(
			handEntry{typ: plumbing.BlobObject, data: base},
			handEntry{typ: plumbing.REFDeltaObject, base: plumbing.ComputeHash(plumbing.BlobObject, base), data: huge},
		)},
		{"a header counting 2^31 objects", manyObjects},
		{"truncated", good[:len(good)-100]},
		{"a byte changed", flipped},
		{"wrong checksum", badSum},
		{"not a pack", []byte("<html>sign in</html>")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, st := bareStorage(t)
			objs, err := receive(t, dir, st, receiveBudget, tc.pack)
			if err == nil {
				t.Fatal("Close accepted the pack")
			}
			if objs != nil {
				t.Fatalf("done got %d objects", len(objs))
			}
			if files := packFiles(t, dir); len(files) != 0 {
				t.Fatalf("pack folder holds %v after a refused pack, want nothing", files)
			}
		})
	}
}

func TestReceivePackOverBudgetIsIndexedByGoGit(t *testing.T) {
	t.Parallel()
	src := deltaSource(t)
	pack := packOf(t, src, "--delta-base-offset")
	dir, st := bareStorage(t)
	objs, err := receive(t, dir, st, 4096, pack)
	if err != nil {
		t.Fatal(err)
	}
	if objs != nil {
		t.Fatalf("done got %d objects of a pack over the budget", len(objs))
	}
	listed := verifyPack(t, dir)
	if want := strings.Fields(gittest.Git(t, src, "rev-list", "--objects", "--no-object-names", "main")); len(listed) != len(want) {
		t.Fatalf("the pack holds %d objects, want %d", len(listed), len(want))
	}
}

func TestReceivePackNothingSent(t *testing.T) {
	t.Parallel()
	dir, st := bareStorage(t)
	if _, err := receive(t, dir, st, receiveBudget, nil); err != nil {
		t.Fatal(err)
	}
	if files := packFiles(t, dir); len(files) != 0 {
		t.Fatalf("pack folder holds %v, want nothing", files)
	}
}

func TestFetchKeepsTheFetchedObjectsForReading(t *testing.T) {
	t.Parallel()
	srv, url, w, sha := seeded(t, map[string]string{"a.yaml": "a: 1\n", "projects/p/b.yaml": "b: 2\n"})
	for i, url := range []string{url, "file://" + filepath.Join(srv.Root, "specs.git")} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			ctx := context.Background()
			r := newRepo(t, url)
			r.net.streamMin = 1 // the pack is small: go-git's PackWriter would take it
			if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
				t.Fatal(err)
			}
			entries, err := r.ReadTree(ctx, sha, "")
			if err != nil || len(entries) != 2 {
				t.Fatalf("ReadTree: %v, %v", entries, err)
			}
			for _, e := range entries {
				obj, ok := r.local.cache.Get(plumbing.NewHash(e.BlobSHA))
				if !ok {
					t.Fatalf("%s (%s) is not in the reading handle's cache after the fetch", e.Path, e.BlobSHA)
				}
				if _, fetched := obj.(*packedObject); !fetched {
					t.Fatalf("%s is cached as a %T, not as the fetch left it", e.Path, obj)
				}
			}
			// The next fetch brings a second pack; both commits read back.
			want := fmt.Sprintf("a: %d\n", i+2)
			next := w.Write(map[string]string{"a.yaml": want}).Commit(want)
			w.Push("main")
			if got, err := r.Fetch(ctx, Auth{}, "main"); err != nil || got != next {
				t.Fatalf("second fetch: %s, %v; want %s", got, err, next)
			}
			for commit, want := range map[string]string{sha: "a: 1\n", next: want} {
				if data, err := r.ReadFile(ctx, commit, "a.yaml"); err != nil || string(data) != want {
					t.Fatalf("a.yaml at %s: %q, %v; want %q", commit, data, err, want)
				}
			}
			if packs := countPacks(t, r); packs != 2 {
				t.Fatalf("%d packs after two fetches, want 2", packs)
			}
		})
	}
}

func TestFetchOfASmallPackIsGoGits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, _, sha := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	r := newRepo(t, url)
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	blob := plumbing.ComputeHash(plumbing.BlobObject, []byte("a: 1\n"))
	if _, ok := r.local.cache.Get(blob); ok {
		t.Fatal("a pack of 3 objects went through the stream indexer, not go-git's PackWriter")
	}
	if data, err := r.ReadFile(ctx, sha, "a.yaml"); err != nil || string(data) != "a: 1\n" {
		t.Fatalf("a.yaml: %q, %v", data, err)
	}
}

func TestReceivePackBudgetCountsDeltaTargets(t *testing.T) {
	t.Parallel()
	base := []byte(strings.Repeat("0123456789", 100))
	target := append(append([]byte(nil), base...), "!"...)
	baseHash := plumbing.ComputeHash(plumbing.BlobObject, base)
	for _, tc := range []struct {
		name string
		pack []byte
	}{
		{"delta after its base", handPack(
			handEntry{typ: plumbing.BlobObject, data: base},
			handEntry{typ: plumbing.REFDeltaObject, base: baseHash, data: packfile.DiffDelta(base, target)},
		)},
		{"delta before its base", handPack(
			handEntry{typ: plumbing.REFDeltaObject, base: baseHash, data: packfile.DiffDelta(base, target)},
			handEntry{typ: plumbing.BlobObject, data: base},
		)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The base and the delta fit in 1,500 bytes; the delta's target does not.
			dir, st := bareStorage(t)
			objs, err := receive(t, dir, st, 1500, tc.pack)
			if err != nil {
				t.Fatal(err)
			}
			if objs != nil {
				t.Fatalf("done got %d objects: the delta's target was not counted", len(objs))
			}
			if got := verifyPack(t, dir); len(got) != 2 {
				t.Fatalf("git verify-pack lists %v, want 2 objects", got)
			}
		})
	}
}

func TestReceivePackClosedTwice(t *testing.T) {
	t.Parallel()
	dir, st := bareStorage(t)
	w, err := newPackReceiver(dir, st, receiveBudget, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("a second Close succeeded")
	}
}

func TestPackSwitchOpenFails(t *testing.T) {
	t.Parallel()
	failed := errors.New("no room for a temporary file")
	smallOpened := false
	s := &packSwitch{min: 1,
		large: func() (io.WriteCloser, error) { return nil, failed },
		small: func() (io.WriteCloser, error) { smallOpened = true; return nil, errors.New("not this one") },
	}
	if _, err := s.Write(handPack(handEntry{typ: plumbing.BlobObject, data: []byte("x")})); !errors.Is(err, failed) {
		t.Fatalf("Write: %v, want %v", err, failed)
	}
	if err := s.Close(); !errors.Is(err, failed) {
		t.Fatalf("Close: %v, want %v", err, failed)
	}
	if smallOpened {
		t.Fatal("Close opened go-git's writer after the receiver failed to open")
	}
}
