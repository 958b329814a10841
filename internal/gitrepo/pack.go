package gitrepo

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"

	"github.com/systemsync/systemsync/internal/parallel"
)

// packMin is the number of new objects from which a commit stores them as
// one pack rather than as loose objects (git's transfer.unpackLimit is also
// 100). A loose object is a file of its own, written after a check that it
// is not there yet; a pack is two files, but every commit that writes one
// adds a pack to look objects up in, until a repack merges them.
const packMin = 100

// packCompression is the zlib level of the packs commits write: the
// fastest, which on YAML files makes packs ~5% larger than git's default
// level, in half the time.
const packCompression = zlib.BestSpeed

// maxCommitPacks bounds how many commits' own packs a Repo remembers.
const maxCommitPacks = 16

// commitPacks remembers the latest commits that were stored as a pack of
// their own (the commit and every object it added), so that a push can send
// that pack as it is. The zero value is empty and ready; Repo.mu guards it.
type commitPacks struct {
	pack  map[plumbing.Hash]plumbing.Hash // commit → its pack
	order []plumbing.Hash                 // commits, oldest first
}

func (c *commitPacks) add(commit, pack plumbing.Hash) {
	if c.pack == nil {
		c.pack = map[plumbing.Hash]plumbing.Hash{}
	}
	if _, ok := c.pack[commit]; !ok {
		c.order = append(c.order, commit)
	}
	c.pack[commit] = pack
	if len(c.order) > maxCommitPacks {
		delete(c.pack, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *commitPacks) get(commit plumbing.Hash) (plumbing.Hash, bool) {
	p, ok := c.pack[commit]
	return p, ok
}

// objectSet is the new objects of a commit being built, each once, in the
// order they were made. Nothing is stored until storeObjects.
type objectSet struct {
	objs []*plumbing.MemoryObject
	seen map[plumbing.Hash]bool
}

// add keeps obj (its hash computed) unless an object with its hash is
// there already, and returns the hash.
func (s *objectSet) add(obj *plumbing.MemoryObject) plumbing.Hash {
	h := obj.Hash()
	if s.seen == nil {
		s.seen = map[plumbing.Hash]bool{}
	}
	if !s.seen[h] {
		s.seen[h] = true
		s.objs = append(s.objs, obj)
	}
	return h
}

// newBlob returns data as a blob object, its hash not yet computed.
func newBlob(data []byte) *plumbing.MemoryObject {
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	_, _ = obj.Write(data) // a MemoryObject's Write cannot fail
	return obj
}

// packEntry is one object as a pack holds it: the type and size header
// followed by the zlib-compressed content.
type packEntry struct {
	hash plumbing.Hash
	data []byte
	crc  uint32
}

// writePack stores objs as one pack (and its version-2 index) in the
// objects/pack folder of the repository at path, and returns the pack's
// checksum. Objects are compressed on every core. Both files are written
// under temporary names, synced, and renamed into place index first, so
// that a reader never sees a pack without its index; a crash leaves only
// tmp_pack_* files, which openRepo removes.
func writePack(path string, objs []*plumbing.MemoryObject) (plumbing.Hash, error) {
	entries := make([]packEntry, len(objs))
	var failed atomic.Pointer[error]
	zpool := sync.Pool{New: func() any {
		zw, _ := zlib.NewWriterLevel(nil, packCompression) // a valid level cannot fail
		return zw
	}}
	parallel.For(len(objs), func(i int) {
		e, err := packObject(objs[i], zpool.Get().(*zlib.Writer), &zpool)
		if err != nil {
			failed.CompareAndSwap(nil, &err)
			return
		}
		entries[i] = e
	})
	if err := failed.Load(); err != nil {
		return plumbing.ZeroHash, *err
	}

	dir := filepath.Join(path, "objects", "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return plumbing.ZeroHash, err
	}
	packFile, err := os.CreateTemp(dir, "tmp_pack_")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer removeTemp(packFile)
	idx := &idxfile.Writer{}
	if err := idx.OnHeader(uint32(len(entries))); err != nil {
		return plumbing.ZeroHash, err
	}
	sum := sha1.New()
	bw := bufio.NewWriterSize(packFile, 256<<10)
	w := &countingWriter{w: io.MultiWriter(bw, sum)}
	head := packHeader(uint32(len(entries)))
	if _, err := w.Write(head[:]); err != nil {
		return plumbing.ZeroHash, err
	}
	for _, e := range entries {
		idx.Add(e.hash, uint64(w.n), e.crc)
		if _, err := w.Write(e.data); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	var checksum plumbing.Hash
	copy(checksum[:], sum.Sum(nil))
	if _, err := bw.Write(checksum[:]); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := bw.Flush(); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := idx.OnFooter(checksum); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := installPack(dir, packFile, idx, checksum); err != nil {
		return plumbing.ZeroHash, err
	}
	return checksum, nil
}

// packObject compresses obj into its pack entry with zw, which it puts
// back in pool when done.
func packObject(obj *plumbing.MemoryObject, zw *zlib.Writer, pool *sync.Pool) (packEntry, error) {
	defer pool.Put(zw)
	var buf bytes.Buffer
	buf.Grow(int(obj.Size()/2) + 32)
	var head [10]byte
	buf.Write(appendObjectHeader(head[:0], obj.Type(), uint64(obj.Size())))
	zw.Reset(&buf)
	r, err := obj.Reader()
	if err != nil {
		return packEntry{}, err
	}
	if _, err := io.Copy(zw, r); err != nil {
		return packEntry{}, err
	}
	if err := zw.Close(); err != nil {
		return packEntry{}, err
	}
	return packEntry{hash: obj.Hash(), data: buf.Bytes(), crc: crc32.ChecksumIEEE(buf.Bytes())}, nil
}

// appendObjectHeader appends the header of a pack entry: the type in bits
// 4-6 of the first byte, the size in its low 4 bits and then 7 bits a
// byte, the high bit saying more follows.
func appendObjectHeader(dst []byte, typ plumbing.ObjectType, size uint64) []byte {
	c := byte(typ)<<4 | byte(size&0x0f)
	size >>= 4
	for size != 0 {
		dst = append(dst, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(dst, c)
}

// packHeader is a version-2 pack's header: signature, version, object count.
func packHeader(count uint32) [12]byte {
	var head [12]byte
	copy(head[:], "PACK")
	binary.BigEndian.PutUint32(head[4:], 2)
	binary.BigEndian.PutUint32(head[8:], count)
	return head
}

// removeTemp closes f and removes it, unless it was renamed into place.
func removeTemp(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
