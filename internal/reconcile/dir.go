package reconcile

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
)

// Dir is a TreeSource over a folder on disk, such as the working copy that
// `app validate` checks, so that it is read by the same Loader as a commit.
// Entries lists the regular files and symbolic links under a folder (the
// commit is ignored; .git folders are skipped; links are never followed),
// each file up to MaxFileBytes with the blob ID Git would give it; Blob
// reads a listed file back by that ID.
type Dir struct {
	root string

	mu    sync.Mutex
	blobs map[string]string // blob ID → file
}

// NewDir returns the Dir of root, which must be a folder.
func NewDir(root string) (*Dir, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("read folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("read folder: %s is not a folder", root)
	}
	return &Dir{root: root, blobs: map[string]string{}}, nil
}

// Entries lists the files under folder (slash-separated, relative to the
// Dir's root), sorted by path.
func (d *Dir) Entries(ctx context.Context, _, folder string) ([]TreeEntry, error) {
	base := filepath.Join(d.root, filepath.FromSlash(folder))
	var out []TreeEntry
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == ".git" && p != base {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		te := TreeEntry{Path: filepath.ToSlash(rel)}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			te.Symlink = true
		case e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				return err
			}
			te.Size = info.Size()
			if te.Size <= MaxFileBytes {
				if te.BlobSHA, err = d.hash(p); err != nil {
					return err
				}
			}
		default:
			return nil // a socket or a device: not a file Git holds
		}
		out = append(out, te)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path.Join(filepath.ToSlash(d.root), folder), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// hash returns the Git blob ID of the file at p, and remembers where it is.
func (d *Dir) hash(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	h := sha1.New() // Git's object IDs
	h.Write([]byte("blob " + strconv.Itoa(len(data)) + "\x00"))
	h.Write(data)
	id := hex.EncodeToString(h.Sum(nil))
	d.mu.Lock()
	d.blobs[id] = p
	d.mu.Unlock()
	return id, nil
}

// Blob returns the content of the listed file whose blob ID is sha.
func (d *Dir) Blob(_ context.Context, sha string, maxSize int64) ([]byte, error) {
	d.mu.Lock()
	p, ok := d.blobs[sha]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", sha, fs.ErrNotExist)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", sha, err)
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("blob %s: %w", sha, errors.New("over the size limit"))
	}
	return data, nil
}
