package gitrepo

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// receiveBudget bounds the inflated bytes a fetched pack may hold for it to
// be indexed in memory as it arrives (git's own delta base cache,
// core.deltaBaseCacheLimit, is 96 MiB too). A larger pack is indexed by
// go-git from the file once it is complete, which inflates its objects again
// from disk for every delta, and gives the object cache nothing.
const receiveBudget = 96 << 20

// streamIndexMin is the object count from which a fetched pack is indexed
// by a packReceiver. A smaller pack goes to go-git's PackWriter, which adds
// its index to the storage's; after a packReceiver the storage reads every
// pack index of the clone again, which costs more than indexing a small pack
// twice.
const streamIndexMin = 512

// fetchStorage is the storage of handle h, the clone at path, as a fetch
// sees it: go-git hands the pack a remote sends to PackfileWriter, which
// gives it to a packReceiver when the pack's header counts at least
// h.streamMin objects; the objects received go to h.addReceived.
type fetchStorage struct {
	*filesystem.Storage
	h    *handle
	path string
}

// PackfileWriter implements storer.PackfileWriter.
func (s fetchStorage) PackfileWriter() (io.WriteCloser, error) {
	large := func() (io.WriteCloser, error) {
		return newPackReceiver(s.path, s.Storage, receiveBudget, s.h.addReceived)
	}
	return &packSwitch{small: s.Storage.PackfileWriter, large: large, min: s.h.streamMin}, nil
}

// packSwitch passes a pack on to small or large, by the object count in its
// 12-byte header (signature, version, count).
type packSwitch struct {
	head         []byte
	w            io.WriteCloser
	err          error // opening the destination failed
	small, large func() (io.WriteCloser, error)
	min          int
}

func (s *packSwitch) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.w != nil {
		return s.w.Write(p)
	}
	s.head = append(s.head, p...)
	if len(s.head) < 12 {
		return len(p), nil
	}
	open := s.small
	if string(s.head[:4]) == "PACK" && binary.BigEndian.Uint32(s.head[8:12]) >= uint32(s.min) {
		open = s.large
	}
	if err := s.open(open); err != nil {
		return 0, err
	}
	return len(p), nil
}

// open makes w the destination and writes what was held back to it.
func (s *packSwitch) open(open func() (io.WriteCloser, error)) error {
	w, err := open()
	if err != nil {
		s.err = err
		return err
	}
	s.w = w
	head := s.head
	s.head = nil
	_, err = w.Write(head)
	return err
}

func (s *packSwitch) Close() error {
	if s.err != nil && s.w == nil {
		return s.err
	}
	if s.w == nil {
		if len(s.head) == 0 {
			return nil
		}
		if err := s.open(s.small); err != nil {
			return err
		}
	}
	return s.w.Close()
}

// packReceiver stores a pack a remote sends as objects/pack/pack-<sum>.pack
// with its index, indexing it while it arrives: each object is inflated
// once, a delta applied to its base in memory, and the objects are given to
// done, so that reading the commit just fetched inflates nothing again.
// go-git's own PackWriter inflates every object twice and then the reader a
// third time. A pack over receiveBudget, or one the in-memory index cannot
// read, is indexed by go-git's parser from the file instead (its errors are
// the ones reported). Write and Close are called from one goroutine (go-git's
// fetch).
type packReceiver struct {
	dir     string
	file    *os.File
	out     *bufio.Writer
	written int64
	pw      *io.PipeWriter
	result  chan receivedPack
	st      *filesystem.Storage // told to look for packs again once this one is in place
	done    func([]*packedObject)
	closed  bool
}

// receivedPack is what indexing a pack in memory found.
type receivedPack struct {
	objects  []*packedObject
	entries  []idxEntry
	checksum plumbing.Hash
	err      error
}

// idxEntry is an object's place in the pack, for the index.
type idxEntry struct {
	hash   plumbing.Hash
	offset int64
	crc    uint32
}

// newPackReceiver returns a receiver storing a pack in the clone at
// repoPath, whose storage st it tells to look again once the pack is in
// place. A pack that inflates to at most budget bytes is indexed as it
// arrives and its objects given to done.
func newPackReceiver(repoPath string, st *filesystem.Storage, budget int64, done func([]*packedObject)) (*packReceiver, error) {
	dir := filepath.Join(repoPath, "objects", "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "tmp_pack_")
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	w := &packReceiver{dir: dir, file: f, out: bufio.NewWriterSize(f, 256<<10), pw: pw,
		result: make(chan receivedPack, 1), st: st, done: done}
	go func() {
		res := indexPackStream(pr, budget)
		// Whatever happened, read on to the end, so that Write never blocks.
		_, _ = io.Copy(io.Discard, pr)
		w.result <- res
	}()
	return w, nil
}

// Write stores p and passes it to the indexer.
func (w *packReceiver) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	w.written += int64(n)
	if err != nil {
		return n, err
	}
	if _, err := w.pw.Write(p); err != nil {
		return n, err
	}
	return n, nil
}

// Close installs the pack and its index, or removes what was written when
// the remote sent nothing or the pack is not valid.
func (w *packReceiver) Close() (err error) {
	if w.closed {
		return errors.New("gitrepo: pack receiver closed twice")
	}
	w.closed = true
	defer removeTemp(w.file)
	flushErr := w.out.Flush()
	_ = w.pw.Close()
	res := <-w.result
	if flushErr != nil {
		return flushErr
	}
	if w.written == 0 {
		return nil // nothing fetched
	}
	if errors.Is(res.err, io.ErrUnexpectedEOF) {
		// Cut short (a cancelled fetch, a dropped connection): no parser
		// can make an index of it.
		return fmt.Errorf("fetched pack: %w", res.err)
	}
	idx := &idxfile.Writer{}
	if res.err == nil {
		if err := idx.OnHeader(uint32(len(res.entries))); err != nil {
			return err
		}
		for _, e := range res.entries {
			idx.Add(e.hash, uint64(e.offset), e.crc)
		}
		if err := idx.OnFooter(res.checksum); err != nil {
			return err
		}
	} else {
		// go-git reads the complete file: a pack too large for memory, or
		// one the stream indexer refused (its verdict is go-git's).
		res.objects = nil
		// go-git sizes its index by the header's count before reading an
		// object: a count the bytes cannot hold (an object takes 8 at
		// least) is refused first.
		var head [12]byte
		if _, err := w.file.ReadAt(head[:], 0); err == nil && string(head[:4]) == "PACK" {
			if count := int64(binary.BigEndian.Uint32(head[8:])); count > w.written/8 {
				return fmt.Errorf("fetched pack: its header counts %d objects, more than its %d bytes can hold", count, w.written)
			}
		}
		if _, err := w.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		p, err := packfile.NewParser(packfile.NewScanner(w.file), idx)
		if err != nil {
			return err
		}
		if res.checksum, err = p.Parse(); err != nil {
			if errors.Is(err, packfile.ErrEmptyPackfile) {
				return nil
			}
			return fmt.Errorf("index fetched pack: %w", err)
		}
	}
	if err := installPack(w.dir, w.file, idx, res.checksum); err != nil {
		return err
	}
	w.st.Reindex()
	if w.done != nil && len(res.objects) > 0 {
		w.done(res.objects)
	}
	return nil
}

// installPack writes idx (complete, footer given) beside packFile (the
// whole pack, written), syncs both and renames them into dir as
// pack-<checksum>.idx and .pack, the index first, so that a reader never
// sees a pack without its index. A pack of that checksum already there is
// left as it is.
func installPack(dir string, packFile *os.File, idx *idxfile.Writer, checksum plumbing.Hash) error {
	index, err := idx.Index()
	if err != nil {
		return err
	}
	idxFile, err := os.CreateTemp(dir, "tmp_pack_")
	if err != nil {
		return err
	}
	defer removeTemp(idxFile)
	bw := bufio.NewWriterSize(idxFile, 64<<10)
	if _, err := idxfile.NewEncoder(bw).Encode(index); err != nil {
		return fmt.Errorf("encode pack index: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	for _, f := range []*os.File{packFile, idxFile} {
		if err := f.Chmod(0o444); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	base := filepath.Join(dir, "pack-"+checksum.String())
	if _, err := os.Stat(base + ".pack"); err == nil {
		return nil // the same objects, packed before
	}
	if err := os.Rename(idxFile.Name(), base+".idx"); err != nil {
		return err
	}
	return os.Rename(packFile.Name(), base+".pack")
}

// packedObject is an object of a fetched pack, held in memory. It is what a
// fetch puts in the reading handle's object cache; go-git reads it through
// plumbing.EncodedObject like any object, and it is never written.
type packedObject struct {
	hash plumbing.Hash
	typ  plumbing.ObjectType
	data []byte
}

func (o *packedObject) Hash() plumbing.Hash         { return o.hash }
func (o *packedObject) Type() plumbing.ObjectType   { return o.typ }
func (o *packedObject) SetType(plumbing.ObjectType) {}
func (o *packedObject) Size() int64                 { return int64(len(o.data)) }

// SetSize and SetType are no-ops: a fetched object is shared through the
// cache and never changes.
func (o *packedObject) SetSize(int64) {}

func (o *packedObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Writer refuses: a fetched object is read-only.
func (o *packedObject) Writer() (io.WriteCloser, error) {
	return nil, errors.New("gitrepo: a fetched object is read-only")
}

// errOverBudget ends an in-memory index whose pack inflates to more than
// its budget.
var errOverBudget = errors.New("pack inflates to more than the in-memory budget")

// pendingDelta is a REF delta whose base had not arrived yet.
type pendingDelta struct {
	at    int // index in entries
	base  plumbing.Hash
	delta []byte
}

// indexPackStream reads a version-2 pack from r and returns every object
// (content, type, hash), its offset and CRC, and the pack's checksum, which
// it verifies. It keeps every object's content in memory, up to budget
// inflated bytes (then errOverBudget).
func indexPackStream(r io.Reader, budget int64) receivedPack {
	s := &packStream{rd: r, buf: make([]byte, 64<<10), sum: sha1.New()}
	var head [12]byte
	if _, err := io.ReadFull(s, head[:]); err != nil {
		return receivedPack{err: fmt.Errorf("pack header: %w", err)}
	}
	if string(head[:4]) != "PACK" {
		return receivedPack{err: errors.New("not a pack: no PACK signature")}
	}
	if v := binary.BigEndian.Uint32(head[4:]); v != 2 && v != 3 {
		return receivedPack{err: fmt.Errorf("pack version %d is not supported", v)}
	}
	count := int(binary.BigEndian.Uint32(head[8:]))
	if int64(count) > budget/64 {
		return receivedPack{err: errOverBudget}
	}
	hint := min(count, 1<<16) // the header's count is not trusted with memory
	objs := make([]*packedObject, 0, hint)
	entries := make([]idxEntry, 0, hint)
	byOffset := make(map[int64]int, hint)
	byHash := make(map[plumbing.Hash]int, hint)
	var pending []pendingDelta
	var zr io.ReadCloser
	used := int64(0)
	inflate := func(size int64) ([]byte, error) {
		if size > budget-used {
			return nil, errOverBudget
		}
		used += size
		var err error
		if zr == nil {
			zr, err = zlib.NewReader(s)
		} else {
			err = zr.(zlib.Resetter).Reset(s, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(zr, data); err != nil {
			return nil, fmt.Errorf("inflate %d bytes: %w", size, err)
		}
		// Read to the end of the zlib stream (its checksum included).
		var one [1]byte
		if n, err := zr.Read(one[:]); n != 0 || err != io.EOF {
			if err == nil || err == io.EOF {
				err = errors.New("more content than its header says")
			}
			return nil, fmt.Errorf("inflate %d bytes: %w", size, err)
		}
		return data, nil
	}
	// patch applies delta to base, once the target size the delta
	// declares is known to fit the budget.
	patch := func(base, delta []byte) ([]byte, error) {
		size, err := deltaTargetSize(delta)
		if err != nil {
			return nil, err
		}
		if size > budget-used {
			return nil, errOverBudget
		}
		used += size
		return packfile.PatchDelta(base, delta)
	}
	// put makes the object at index i from its content.
	put := func(i int, typ plumbing.ObjectType, data []byte) {
		o := &packedObject{hash: plumbing.ComputeHash(typ, data), typ: typ, data: data}
		objs[i] = o
		byHash[o.hash] = i
		entries[i].hash = o.hash
	}
	// next reads the object at offset (its CRC begun) as index len(objs).
	next := func(offset int64) error {
		i := len(objs)
		objs = append(objs, nil)
		entries = append(entries, idxEntry{offset: offset})
		byOffset[offset] = i
		typ, size, err := s.objectHeader()
		if err != nil {
			return err
		}
		switch typ {
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
			data, err := inflate(size)
			if err != nil {
				return err
			}
			entries[i].crc = s.objectCRC()
			put(i, typ, data)
		case plumbing.OFSDeltaObject:
			rel, err := s.ofsDeltaOffset()
			if err != nil || rel <= 0 || rel > offset {
				return errors.New("bad delta base offset")
			}
			base, ok := byOffset[offset-rel]
			if !ok || objs[base] == nil {
				return fmt.Errorf("no object at its delta base offset %d", offset-rel)
			}
			delta, err := inflate(size)
			if err != nil {
				return err
			}
			entries[i].crc = s.objectCRC()
			data, err := patch(objs[base].data, delta)
			if err != nil {
				return err
			}
			put(i, objs[base].typ, data)
		case plumbing.REFDeltaObject:
			var ref plumbing.Hash
			if _, err := io.ReadFull(s, ref[:]); err != nil {
				return err
			}
			delta, err := inflate(size)
			if err != nil {
				return err
			}
			entries[i].crc = s.objectCRC()
			base, ok := byHash[ref]
			if !ok {
				// Its base comes later in the pack: resolved at the end.
				pending = append(pending, pendingDelta{at: i, base: ref, delta: delta})
				return nil
			}
			data, err := patch(objs[base].data, delta)
			if err != nil {
				return err
			}
			put(i, objs[base].typ, data)
		default:
			return fmt.Errorf("unknown type %d", typ)
		}
		return nil
	}
	for range count {
		offset := s.pos()
		s.startObject()
		if err := next(offset); err != nil {
			return receivedPack{err: fmt.Errorf("object at %d: %w", offset, err)}
		}
	}
	checksum, err := s.trailer()
	if err != nil {
		return receivedPack{err: err}
	}
	for len(pending) > 0 {
		rest := pending[:0]
		for _, p := range pending {
			base, ok := byHash[p.base]
			if !ok { // its base is another delta still waiting, or not in the pack
				rest = append(rest, p)
				continue
			}
			data, err := patch(objs[base].data, p.delta)
			if err != nil {
				return receivedPack{err: fmt.Errorf("object at %d: %w", entries[p.at].offset, err)}
			}
			put(p.at, objs[base].typ, data)
		}
		if len(rest) == len(pending) {
			return receivedPack{err: fmt.Errorf("object at %d: delta base %s is not in the pack", entries[rest[0].at].offset, rest[0].base)}
		}
		pending = rest
	}
	return receivedPack{objects: objs, entries: entries, checksum: checksum}
}

// deltaTargetSize returns the size of the object delta makes: the second of
// the two little-endian base-128 numbers (source size, target size) a delta
// starts with.
func deltaTargetSize(delta []byte) (int64, error) {
	var size int64
	for range 2 {
		size = 0
		for shift := 0; ; shift += 7 {
			if len(delta) == 0 || shift > 56 {
				return 0, packfile.ErrInvalidDelta
			}
			c := delta[0]
			delta = delta[1:]
			size |= int64(c&0x7f) << shift
			if c&0x80 == 0 {
				break
			}
		}
	}
	return size, nil
}

// packStream reads a pack from a stream: bytes one at a time for zlib
// (which then reads no further than its stream) from a buffer, keeping the
// stream's offset, the SHA-1 of everything read and the CRC-32 of the
// current object's bytes. Both sums are taken a buffer at a time.
type packStream struct {
	rd     io.Reader
	buf    []byte
	r, w   int
	off    int64 // stream offset of buf[0]
	hashed int   // buf[:hashed] is in sum and crc
	sum    hash.Hash
	crc    uint32
}

func (s *packStream) fill() error {
	s.flushSums()
	s.off += int64(s.w)
	s.r, s.w, s.hashed = 0, 0, 0
	for {
		n, err := s.rd.Read(s.buf)
		if n > 0 {
			s.w = n
			return nil
		}
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

func (s *packStream) flushSums() {
	if s.r > s.hashed {
		s.sum.Write(s.buf[s.hashed:s.r])
		s.crc = crc32.Update(s.crc, crc32.IEEETable, s.buf[s.hashed:s.r])
		s.hashed = s.r
	}
}

// ReadByte implements io.ByteReader.
func (s *packStream) ReadByte() (byte, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	b := s.buf[s.r]
	s.r++
	return b, nil
}

// Read implements io.Reader.
func (s *packStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.r += n
	return n, nil
}

func (s *packStream) pos() int64 { return s.off + int64(s.r) }

// startObject begins the CRC of an object at the current offset.
func (s *packStream) startObject() {
	s.flushSums()
	s.crc = 0
}

// objectCRC returns the CRC of the bytes since startObject.
func (s *packStream) objectCRC() uint32 {
	s.flushSums()
	return s.crc
}

// objectHeader reads an object's type and size.
func (s *packStream) objectHeader() (plumbing.ObjectType, int64, error) {
	c, err := s.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 0x0f)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if shift > 56 {
			return 0, 0, errors.New("object size too large")
		}
		if c, err = s.ReadByte(); err != nil {
			return 0, 0, err
		}
		size |= int64(c&0x7f) << shift
	}
	return typ, size, nil
}

// ofsDeltaOffset reads an OFS delta's distance back to its base.
func (s *packStream) ofsDeltaOffset() (int64, error) {
	c, err := s.ReadByte()
	if err != nil {
		return 0, err
	}
	off := int64(c & 0x7f)
	for c&0x80 != 0 {
		if off >= 1<<55 {
			return 0, errors.New("delta base offset too large")
		}
		if c, err = s.ReadByte(); err != nil {
			return 0, err
		}
		off = (off+1)<<7 | int64(c&0x7f)
	}
	return off, nil
}

// trailer reads the pack's checksum and checks it against what was read.
func (s *packStream) trailer() (plumbing.Hash, error) {
	s.flushSums()
	var want plumbing.Hash
	copy(want[:], s.sum.Sum(nil))
	var got plumbing.Hash
	if _, err := io.ReadFull(s, got[:]); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("pack checksum: %w", err)
	}
	if got != want {
		return plumbing.ZeroHash, fmt.Errorf("pack checksum is %s, its content's is %s", got, want)
	}
	return got, nil
}
