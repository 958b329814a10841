package gitrepo

import (
	"bytes"
	"crypto/sha1"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// fuzzBudget is the in-memory budget of the fuzzed receiver: small, so
// that inputs reach it.
const fuzzBudget = 1 << 20

// FuzzPackReceiver feeds the pack receiver what a remote could send, from
// real packs (git pack-objects: offset deltas, reference deltas, none) cut
// and changed by the fuzzer. The receiver must never panic; the in-memory
// indexer must stay within its budget (the bytes it allocates too); a pack
// it accepts must be one go-git's parser reads to the same objects, with
// true hashes and checksum; and the receiver must either install exactly
// one pack and its index or refuse with an error and leave nothing.
//
//	go test -run '^$' -fuzz '^FuzzPackReceiver$' -fuzztime 10s ./internal/gitrepo
func FuzzPackReceiver(f *testing.F) {
	src := deltaSource(f)
	f.Add(packOf(f, src, "--delta-base-offset"))
	f.Add(packOf(f, src))
	f.Add(packOf(f, src, "--depth=0", "--window=0"))
	base := []byte(strings.Repeat("the base blob's line\n", 20))
	target := append(append([]byte(nil), base...), "and one more line\n"...)
	baseHash := plumbing.ComputeHash(plumbing.BlobObject, base)
	f.Add(handPack(
		handEntry{typ: plumbing.REFDeltaObject, base: baseHash, data: packfile.DiffDelta(base, target)},
		handEntry{typ: plumbing.BlobObject, data: base},
	))
	f.Add(handPack())
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01"))
	f.Add([]byte("<html>sign in</html>"))

	f.Fuzz(func(t *testing.T, data []byte) {
		checkIndexer(t, data)
		checkReceiver(t, data)
	})
}

// checkIndexer runs the in-memory indexer on data alone.
func checkIndexer(t *testing.T, data []byte) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := indexPackStream(bytes.NewReader(data), fuzzBudget)
	runtime.ReadMemStats(&after)
	// The objects' bytes count against the budget; what else it allocates
	// (read buffer, zlib state, tables sized by the header's count, which
	// the budget bounds too) is a few times that at most.
	if alloc, most := after.TotalAlloc-before.TotalAlloc, uint64(4*fuzzBudget+4*len(data)); alloc > most {
		t.Fatalf("indexing %d bytes allocated %d bytes, more than %d", len(data), alloc, most)
	}
	if res.err != nil {
		if len(res.objects) != 0 {
			t.Fatalf("refused (%v) with %d objects", res.err, len(res.objects))
		}
		return
	}
	total := int64(0)
	for _, o := range res.objects {
		total += o.Size()
		if h := plumbing.ComputeHash(o.typ, o.data); h != o.hash {
			t.Fatalf("object %s holds content hashing to %s", o.hash, h)
		}
	}
	if total > fuzzBudget {
		t.Fatalf("accepted %d bytes of objects, over the budget of %d", total, fuzzBudget)
	}
	if len(data) < 32 || plumbing.Hash(sha1.Sum(data[:len(data)-20])) != res.checksum || !bytes.Equal(res.checksum[:], data[len(data)-20:]) {
		t.Fatalf("accepted a pack whose checksum %s is not its trailer", res.checksum)
	}
	// go-git's parser reads the same pack to the same objects.
	idx := &idxfile.Writer{}
	p, err := packfile.NewParser(packfile.NewScanner(bytes.NewReader(data)), idx)
	if err == nil {
		_, err = p.Parse()
	}
	if err != nil {
		t.Fatalf("the indexer accepted a pack go-git's parser refuses: %v", err)
	}
	index, err := idx.Index()
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	iter, err := index.Entries()
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := iter.Next()
		if err != nil {
			break
		}
		want = append(want, e.Hash.String())
	}
	for _, e := range res.entries {
		got = append(got, e.hash.String())
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the indexer found objects %v, go-git %v", got, want)
	}
}

// checkReceiver runs the whole receiver, files and go-git's parser behind
// it, on data written in pieces.
func checkReceiver(t *testing.T, data []byte) {
	dir := t.TempDir()
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRU(cache.MiByte))
	defer st.Close()
	objs, err := receive(t, dir, st, fuzzBudget, data)
	files := packFiles(t, dir)
	switch {
	case err != nil && (len(files) != 0 || objs != nil):
		t.Fatalf("refused (%v), yet left %v and gave %d objects", err, files, len(objs))
	case err == nil && len(files) != 0 && (len(files) != 2 || !strings.HasSuffix(files[0], ".idx") || !strings.HasSuffix(files[1], ".pack")):
		t.Fatalf("accepted, leaving %v", files)
	case err == nil && len(files) == 2:
		installed, rerr := os.ReadFile(filepath.Join(dir, "objects", "pack", files[1]))
		if rerr != nil || !bytes.Equal(installed, data) {
			t.Fatalf("the installed pack is not what was received (%v)", rerr)
		}
	}
}
