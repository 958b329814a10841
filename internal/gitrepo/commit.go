package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/systemsync/systemsync/internal/parallel"
)

// FileChange is one file to write or delete in a commit.
type FileChange struct {
	Path   string // repository-relative, slash-separated
	Data   []byte // the new content; nil with Delete
	Delete bool   // remove the file (or the folder, and everything in it) at Path
}

// Signature is a commit author or committer. A zero When means the time of
// the Commit call.
type Signature struct {
	Name, Email string
	When        time.Time
}

// Commit builds a new commit on top of parent (a full SHA in the clone; ""
// for a root commit) by applying changes, in order, to parent's tree, and
// returns its SHA. No work tree is involved: blobs and trees are written to
// the clone's object store, and only the folders on a changed path are
// rewritten. A commit that adds packMin (100) objects or more stores them
// as one pack, fewer as loose objects; nothing is stored when the commit
// would change nothing. No ref moves: Push the commit to publish it.
//
// A written file keeps the executable bit it had; a new one is a regular
// file. Writing a path replaces whatever was there (a folder on the way
// becomes a folder). Deleting a path that is absent is a no-op; deleting a
// folder removes everything in it. Folders left empty disappear, as in git.
// A change set that leaves the tree identical to parent's is ErrNoChanges.
// Paths must be relative, without "..", and must not name .git.
// message gets a final newline when it lacks one.
func (r *Repo) Commit(ctx context.Context, parent string, changes []FileChange, author, committer Signature, message string) (string, error) {
	sha, err := r.commit(ctx, parent, changes, author, committer, message)
	if err != nil {
		return "", fmt.Errorf("commit on %s in %s: %w", orRoot(parent), r.url, err)
	}
	return sha, nil
}

func orRoot(parent string) string {
	if parent == "" {
		return "(root)"
	}
	return parent
}

func (r *Repo) commit(ctx context.Context, parent string, changes []FileChange, author, committer Signature, message string) (string, error) {
	if strings.TrimSpace(message) == "" {
		return "", errors.New("empty commit message")
	}
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	now := time.Now()
	authorSig, err := gitSignature("author", author, now)
	if err != nil {
		return "", err
	}
	committerSig, err := gitSignature("committer", committer, now)
	if err != nil {
		return "", err
	}
	type op struct {
		parts []string
		data  []byte
		del   bool
	}
	ops := make([]op, 0, len(changes))
	for _, c := range changes {
		p, err := cleanPath(c.Path, false)
		if err != nil {
			return "", err
		}
		parts := strings.Split(p, "/")
		for _, part := range parts {
			if strings.EqualFold(part, ".git") {
				return "", fmt.Errorf("path %q names .git", c.Path)
			}
		}
		if c.Delete && c.Data != nil {
			return "", fmt.Errorf("change of %q both deletes and writes", c.Path)
		}
		ops = append(ops, op{parts: parts, data: c.Data, del: c.Delete})
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.local
	root := &treeNode{}
	var parents []plumbing.Hash
	baseTree := plumbing.ZeroHash
	if parent != "" {
		ph, err := parseSHA(parent)
		if err != nil {
			return "", err
		}
		pc, err := object.GetCommit(h.st, ph)
		if err != nil {
			return "", fmt.Errorf("parent %s: %w", parent, notFound(err))
		}
		parents = []plumbing.Hash{pc.Hash}
		baseTree = pc.TreeHash
		root.hash = pc.TreeHash
	} else {
		root.loaded = true
		root.children = map[string]*treeChild{}
	}
	// The new objects are made in memory (blobs hashed on every core) and
	// stored only once the commit is known to change something.
	blobs := make([]*plumbing.MemoryObject, len(ops))
	for i, o := range ops {
		if !o.del {
			blobs[i] = newBlob(o.data)
		}
	}
	parallel.For(len(blobs), func(i int) {
		if blobs[i] != nil {
			blobs[i].Hash()
		}
	})
	var set objectSet
	for i, o := range ops {
		if o.del {
			err = root.remove(h, o.parts)
		} else {
			err = root.put(h, o.parts, set.add(blobs[i]))
		}
		if err != nil {
			return "", err
		}
	}
	treeHash, empty, err := root.write(h, &set)
	if err != nil {
		return "", err
	}
	if empty {
		if parent == "" {
			return "", ErrNoChanges
		}
		// An empty tree is a legal commit on top of a non-empty one.
		if treeHash, err = encodeTree(&object.Tree{}, &set); err != nil {
			return "", err
		}
	}
	if treeHash == baseTree {
		return "", ErrNoChanges
	}
	c := &object.Commit{
		Author:       authorSig,
		Committer:    committerSig,
		Message:      message,
		TreeHash:     treeHash,
		ParentHashes: parents,
	}
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return "", err
	}
	sha := set.add(obj)
	packed, err := r.storeObjects(sha, set.objs)
	if err != nil {
		return "", err
	}
	r.log.Debug("git commit", "sha", sha.String(), "parent", parent, "changes", len(changes), "objects", len(set.objs), "packed", packed, "took", time.Since(now))
	return sha.String(), nil
}

// storeObjects writes the objects of the new commit to the clone: as one pack
// when there are packMin or more (none is looked up first: a copy of an
// object the clone has already is harmless, and repack drops it), else
// each as a loose object unless the clone has it. It reports whether it
// wrote a pack, which it then remembers as commit's own. mu is held.
func (r *Repo) storeObjects(commit plumbing.Hash, objs []*plumbing.MemoryObject) (packed bool, err error) {
	if len(objs) < packMin {
		for _, o := range objs {
			if _, err := r.local.store(o); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	// The commit and trees first, then blobs, as git orders a pack.
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Type() < objs[j].Type() })
	pack, err := writePack(r.path, objs)
	if err != nil {
		return false, fmt.Errorf("write pack of %d objects: %w", len(objs), err)
	}
	r.local.st.Reindex() // read the pack directory again on next use
	r.packed.add(commit, pack)
	return true, nil
}

func gitSignature(role string, s Signature, now time.Time) (object.Signature, error) {
	if strings.ContainsAny(s.Name+s.Email, "<>\n\x00") {
		return object.Signature{}, fmt.Errorf("%s %q <%s>: name and email must not contain <, > or a newline", role, s.Name, s.Email)
	}
	if strings.TrimSpace(s.Name) == "" && strings.TrimSpace(s.Email) == "" {
		return object.Signature{}, fmt.Errorf("%s has neither name nor email", role)
	}
	when := s.When
	if when.IsZero() {
		when = now
	}
	return object.Signature{Name: s.Name, Email: s.Email, When: when}, nil
}

// treeNode is a folder being edited: loaded from the store on first use,
// written back only if changed.
type treeNode struct {
	hash     plumbing.Hash // the stored tree it started from (zero: new)
	loaded   bool
	dirty    bool
	children map[string]*treeChild
}

type treeChild struct {
	mode filemode.FileMode
	hash plumbing.Hash // a blob, a submodule commit or an unopened tree
	dir  *treeNode     // an opened folder
}

func (n *treeNode) load(h *handle) error {
	if n.loaded {
		return nil
	}
	n.loaded = true
	n.children = map[string]*treeChild{}
	if n.hash.IsZero() {
		return nil
	}
	t, err := h.tree(n.hash)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		n.children[e.Name] = &treeChild{mode: e.Mode, hash: e.Hash}
	}
	return nil
}

// folder returns the child folder name of n, opening it; create makes it
// (replacing a file of that name) when it is not a folder.
func (n *treeNode) folder(h *handle, name string, create bool) (*treeNode, error) {
	if err := n.load(h); err != nil {
		return nil, err
	}
	c := n.children[name]
	if c != nil && c.mode == filemode.Dir {
		if c.dir == nil {
			c.dir = &treeNode{hash: c.hash}
		}
		return c.dir, nil
	}
	if !create {
		return nil, nil
	}
	d := &treeNode{loaded: true, dirty: true, children: map[string]*treeChild{}}
	n.children[name] = &treeChild{mode: filemode.Dir, dir: d}
	n.dirty = true
	return d, nil
}

// put writes blob at parts under n.
func (n *treeNode) put(h *handle, parts []string, blob plumbing.Hash) error {
	if len(parts) > 1 {
		d, err := n.folder(h, parts[0], true)
		if err != nil {
			return err
		}
		if err := d.put(h, parts[1:], blob); err != nil {
			return err
		}
		n.dirty = n.dirty || d.dirty
		return nil
	}
	if err := n.load(h); err != nil {
		return err
	}
	mode := filemode.Regular
	if old := n.children[parts[0]]; old != nil {
		if old.mode == filemode.Executable {
			mode = filemode.Executable
		}
		if old.mode == mode && old.hash == blob && old.dir == nil {
			return nil
		}
	}
	n.children[parts[0]] = &treeChild{mode: mode, hash: blob}
	n.dirty = true
	return nil
}

// remove deletes whatever is at parts under n; nothing there is a no-op.
func (n *treeNode) remove(h *handle, parts []string) error {
	if len(parts) > 1 {
		d, err := n.folder(h, parts[0], false)
		if err != nil || d == nil {
			return err
		}
		if err := d.remove(h, parts[1:]); err != nil {
			return err
		}
		n.dirty = n.dirty || d.dirty
		return nil
	}
	if err := n.load(h); err != nil {
		return err
	}
	if _, ok := n.children[parts[0]]; ok {
		delete(n.children, parts[0])
		n.dirty = true
	}
	return nil
}

// write adds n (and its changed folders) to set and returns its hash;
// empty reports a folder with nothing left in it, which is not added.
func (n *treeNode) write(h *handle, set *objectSet) (hash plumbing.Hash, empty bool, err error) {
	if !n.dirty {
		return n.hash, n.hash.IsZero(), nil
	}
	t := &object.Tree{}
	for name, c := range n.children {
		e := object.TreeEntry{Name: name, Mode: c.mode, Hash: c.hash}
		if c.dir != nil {
			sub, subEmpty, err := c.dir.write(h, set)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if subEmpty {
				continue
			}
			e.Hash = sub
		}
		t.Entries = append(t.Entries, e)
	}
	if len(t.Entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	sort.Sort(object.TreeEntrySorter(t.Entries))
	hash, err = encodeTree(t, set)
	return hash, false, err
}

// encodeTree adds t to set and returns its hash.
func encodeTree(t *object.Tree, set *objectSet) (plumbing.Hash, error) {
	obj := &plumbing.MemoryObject{}
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return set.add(obj), nil
}

// store writes obj unless the clone has it already.
func (h *handle) store(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	if h.st.HasEncodedObject(obj.Hash()) == nil {
		return obj.Hash(), nil
	}
	hash, err := h.st.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store %s: %w", obj.Type(), err)
	}
	return hash, nil
}
