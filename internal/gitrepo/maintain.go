package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// packWindow is how many objects the repack compares for deltas (git's default).
const packWindow = 10

// maybeRepack merges every pack and loose object into one pack once a
// fetch has left more than maxPacks packs: each fetch that brings objects
// adds a pack, and go-git looks an object up in every pack in turn. Nothing
// is dropped (unreachable objects are kept), so a commit a caller still
// holds never disappears. netMu is held; a failure is logged, not returned:
// the clone stays usable as it was.
func (r *Repo) maybeRepack(ctx context.Context) {
	packs, err := r.net.st.ObjectPacks()
	if err != nil || len(packs) <= r.maxPacks || ctx.Err() != nil {
		return
	}
	start := time.Now()
	if err := r.repack(); err != nil {
		r.log.Warn("git repack failed", "packs", len(packs), "err", err)
		return
	}
	r.log.Info("git repack", "packs", len(packs), "took", time.Since(start))
}

// repack writes one pack of every object and removes the packs and loose
// objects it replaces. netMu is held; it takes mu, and reopens both handles.
func (r *Repo) repack() (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.net.st
	st.Reindex() // see the packs commits wrote since the last push
	old, err := st.ObjectPacks()
	if err != nil {
		return err
	}
	seen := map[plumbing.Hash]bool{}
	var all []plumbing.Hash
	add := func(h plumbing.Hash) {
		if !seen[h] {
			seen[h] = true
			all = append(all, h)
		}
	}
	for _, p := range old {
		if err := r.packHashes(p, add); err != nil {
			return err
		}
	}
	var loose []plumbing.Hash
	if err := st.ForEachObjectHash(func(h plumbing.Hash) error {
		loose = append(loose, h)
		add(h)
		return nil
	}); err != nil {
		return err
	}
	if len(all) == 0 {
		return nil
	}
	w, err := st.PackfileWriter()
	if err != nil {
		return err
	}
	packHash, err := packfile.NewEncoder(w, st, false).Encode(all, packWindow)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	// The new pack is complete and indexed: the old ones can go.
	for _, p := range old {
		if p != packHash {
			if err := st.DeleteOldObjectPackAndIndex(p, time.Time{}); err != nil {
				return err
			}
		}
	}
	for _, h := range loose {
		if err := st.DeleteLooseObject(h); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return r.reopen()
}

// packHashes calls add with every object of pack p, read from its index.
func (r *Repo) packHashes(p plumbing.Hash, add func(plumbing.Hash)) error {
	f, err := os.Open(filepath.Join(r.path, "objects", "pack", "pack-"+p.String()+".idx"))
	if err != nil {
		return err
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(f).Decode(idx); err != nil {
		return fmt.Errorf("read index of pack %s: %w", p, err)
	}
	entries, err := idx.Entries()
	if err != nil {
		return err
	}
	defer entries.Close()
	for {
		e, err := entries.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		add(e.Hash)
	}
}

// reopen replaces both handles, so that neither keeps removed packs open or
// indexed. netMu and mu are held.
func (r *Repo) reopen() error {
	local, err := openHandle(r.path, r.url, false)
	if err != nil {
		return err
	}
	net, err := openHandle(r.path, r.url, true)
	if err != nil {
		_ = local.close()
		return err
	}
	_ = r.local.close()
	_ = r.net.close()
	r.local, r.net = local, net
	return nil
}
