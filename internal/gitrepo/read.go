package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// EntryMode is the kind of a file in a tree.
type EntryMode int

// The kinds of files a tree holds.
const (
	Regular    EntryMode = iota + 1 // a plain file (git mode 100644)
	Executable                      // a file with the executable bit (100755)
	Symlink                         // a symbolic link; its blob is the link's target (120000)
	Submodule                       // a submodule; its SHA is a commit of another repository (160000)
)

// String returns "regular", "executable", "symlink" or "submodule".
func (m EntryMode) String() string {
	switch m {
	case Regular:
		return "regular"
	case Executable:
		return "executable"
	case Symlink:
		return "symlink"
	case Submodule:
		return "submodule"
	}
	return fmt.Sprintf("EntryMode(%d)", int(m))
}

func entryMode(m filemode.FileMode) EntryMode {
	switch m {
	case filemode.Executable:
		return Executable
	case filemode.Symlink:
		return Symlink
	case filemode.Submodule:
		return Submodule
	}
	return Regular
}

// Entry is one file in a tree.
type Entry struct {
	Path    string    // slash-separated, relative to the folder asked for
	BlobSHA string    // the blob's SHA; for a Submodule, the commit it points at
	Size    int64     // the blob's size in bytes (a Symlink: its target's length; a Submodule: 0)
	Mode    EntryMode // Regular, Executable, Symlink or Submodule
	// Problem, when set, says why the entry cannot be a file of a checkout
	// (see ReadTree); such an entry is listed for its caller to report, and
	// is not meant to be read.
	Problem string
}

// ReadTree lists every file under folder ("" or "." for the repository
// root) at commit, recursively, sorted by path (byte order, which is git's).
// Symlinks and submodules are listed with their Mode and never followed. A
// folder that does not exist at commit (or names a file) gives an empty
// list, not an error. A folder that escapes the repository (".." or an
// absolute path) is an error, and so is a commit that is not in the clone
// (ErrNotFound): Fetch it first.
//
// Trees git itself refuses to check out exist in real repositories; their
// odd entries are listed with Problem set rather than failing the read:
//   - an entry named "", ".", "..", ".git" (in any case), or holding "/" or a
//     NUL byte is one entry, a folder too (never walked), whose Path ends in
//     its name quoted as Go does (`projects/p/".."`), so that it cannot be
//     taken for another path;
//   - entries of one folder whose names differ only in case (a.yaml and
//     A.yaml) keep their paths, and every file under them has Problem set;
//   - a subtree git cannot parse is one entry, its folder.
func (r *Repo) ReadTree(ctx context.Context, commit, folder string) ([]Entry, error) {
	clean, err := cleanPath(folder, true)
	if err != nil {
		return nil, fmt.Errorf("read tree %q at %s: %w", folder, commit, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, err := r.local.readTree(ctx, commit, clean)
	if err != nil {
		return nil, fmt.Errorf("read tree %q at %s of %s: %w", folder, commit, r.url, err)
	}
	return entries, nil
}

func (h *handle) readTree(ctx context.Context, commit, folder string) ([]Entry, error) {
	root, err := h.commitTree(commit)
	if err != nil {
		return nil, err
	}
	t, err := h.subtree(root, folder)
	if err != nil || t == nil {
		return []Entry{}, err
	}
	out := []Entry{}
	if err := h.walk(ctx, t, "", "", &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// walk appends every file under t to out, with paths prefixed by prefix;
// problem, when set, is the Problem of every one of them.
func (h *handle) walk(ctx context.Context, t *object.Tree, prefix, problem string, out *[]Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	twins := caseTwins(t)
	for _, e := range t.Entries {
		if why := oddName(e.Name); why != "" {
			*out = append(*out, Entry{Path: prefix + displayName(e.Name), BlobSHA: e.Hash.String(), Mode: entryMode(e.Mode), Problem: why})
			continue
		}
		p := prefix + e.Name
		why := problem
		if why == "" {
			why = twins[e.Name]
		}
		switch e.Mode {
		case filemode.Dir:
			sub, err := h.tree(e.Hash)
			if errors.Is(err, object.ErrMalformedTree) {
				*out = append(*out, Entry{Path: p, BlobSHA: e.Hash.String(), Mode: Regular, Problem: "is a Git tree that cannot be read: " + err.Error()})
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := h.walk(ctx, sub, p+"/", why, out); err != nil {
				return err
			}
		case filemode.Submodule:
			*out = append(*out, Entry{Path: p, BlobSHA: e.Hash.String(), Mode: Submodule, Problem: why})
		default:
			// EncodedObject looks in the packs first (EncodedObjectSize
			// tries a loose file first, a failed open per blob), and
			// reads a large blob lazily: its size comes from the header.
			obj, err := h.st.EncodedObject(plumbing.AnyObject, e.Hash)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", p, e.Hash, notFound(err))
			}
			*out = append(*out, Entry{Path: p, BlobSHA: e.Hash.String(), Size: obj.Size(), Mode: entryMode(e.Mode), Problem: why})
		}
	}
	return nil
}

// oddName says why a tree entry's name cannot be a file or folder of a
// checkout, or "" when it can.
func oddName(name string) string {
	switch {
	case name == "":
		return "is a tree entry with an empty name"
	case name == "." || name == "..":
		return fmt.Sprintf("is a tree entry named %q, which names a folder on the path itself: git refuses to check it out", name)
	case strings.EqualFold(name, ".git"):
		return fmt.Sprintf("is a tree entry named %q: git refuses to check it out", name)
	case strings.ContainsRune(name, '/'):
		return fmt.Sprintf("is a tree entry whose name %q holds a \"/\": git refuses to check it out", name)
	case strings.ContainsRune(name, 0):
		return fmt.Sprintf("is a tree entry whose name %q holds a NUL byte", name)
	}
	return ""
}

// displayName is how an odd name appears in a path: quoted, so that it
// can be neither read as other path segments nor hold a NUL.
func displayName(name string) string { return strconv.Quote(name) }

// caseTwins returns, for each entry of t whose name differs only in case
// from another's, why that is a problem; nil when there are none.
func caseTwins(t *object.Tree) map[string]string {
	if !mayFold(t) {
		return nil
	}
	byFold := make(map[string][]string, len(t.Entries))
	twins := false
	for _, e := range t.Entries {
		k := foldName(e.Name)
		byFold[k] = append(byFold[k], e.Name)
		twins = twins || len(byFold[k]) > 1
	}
	if !twins {
		return nil
	}
	out := map[string]string{}
	for _, names := range byFold {
		if len(names) < 2 {
			continue
		}
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = strconv.Quote(n)
		}
		why := fmt.Sprintf("is one of the names %s in one folder, which differ only in case: a checkout on a case-insensitive file system keeps one of them", strings.Join(quoted, ", "))
		for _, n := range names {
			out[n] = why
		}
	}
	return out
}

// mayFold reports whether two names of t could differ only in case: some
// name has an upper-case or a non-ASCII letter (most trees have neither,
// and are checked without a map).
func mayFold(t *object.Tree) bool {
	for _, e := range t.Entries {
		for i := 0; i < len(e.Name); i++ {
			if c := e.Name[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
				return true
			}
		}
	}
	return false
}

// foldName is the same for names that differ only in case.
func foldName(name string) string { return strings.ToLower(strings.ToUpper(name)) }

// Blob returns a blob's bytes. With maxSize > 0, a blob larger than maxSize
// bytes is refused with ErrTooLarge before it is read. A blob that is not in
// the clone is ErrNotFound.
func (r *Repo) Blob(ctx context.Context, sha string, maxSize int64) ([]byte, error) {
	hash, err := parseSHA(sha)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", sha, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", sha, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := r.local.blob(hash, maxSize)
	if err != nil {
		return nil, fmt.Errorf("read blob %s of %s: %w", sha, r.url, err)
	}
	return data, nil
}

func (h *handle) blob(hash plumbing.Hash, maxSize int64) ([]byte, error) {
	// A large object comes back unread (go-git reads it lazily), so its
	// size is checked before its bytes are.
	obj, err := h.st.EncodedObject(plumbing.AnyObject, hash)
	if err != nil {
		return nil, notFound(err)
	}
	if obj.Type() != plumbing.BlobObject {
		return nil, fmt.Errorf("%w: %s is a %s, not a blob", ErrNotFound, hash, obj.Type())
	}
	size := obj.Size()
	if maxSize > 0 && size > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, size, maxSize)
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	// Read straight into a slice of the size the header gives (no copy
	// buffer per blob: a folder's worth of them was as many bytes of
	// garbage as the parsing of its files), then past it to the end.
	data := make([]byte, size)
	n, err := io.ReadFull(rd, data)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return data[:n], nil // shorter than its header said
	case err != nil:
		return nil, err
	}
	var probe [1]byte
	for {
		m, err := rd.Read(probe[:])
		if m > 0 { // longer than its header said: read the rest too
			rest, err := io.ReadAll(rd)
			if err != nil {
				return nil, err
			}
			return append(append(data, probe[0]), rest...), nil
		}
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadFile returns the bytes of the file at path (repository-relative,
// slash-separated) at commit; for a symlink, its target. A path that is
// absent at commit, or is a folder or a submodule, is ErrNotFound.
func (r *Repo) ReadFile(ctx context.Context, commit, filePath string) ([]byte, error) {
	clean, err := cleanPath(filePath, false)
	if err != nil {
		return nil, fmt.Errorf("read %q at %s: %w", filePath, commit, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %q at %s: %w", filePath, commit, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := r.local.readFile(commit, clean)
	if err != nil {
		return nil, fmt.Errorf("read %q at %s of %s: %w", filePath, commit, r.url, err)
	}
	return data, nil
}

func (h *handle) readFile(commit, filePath string) ([]byte, error) {
	root, err := h.commitTree(commit)
	if err != nil {
		return nil, err
	}
	dir, name := path.Split(filePath)
	t, err := h.subtree(root, strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, ErrNotFound
	}
	e := findEntry(t, name)
	if e == nil || e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
		return nil, ErrNotFound
	}
	return h.blob(e.Hash, 0)
}

// ChangedPaths returns the repository-relative paths of the files that
// differ between commits from and to: added, modified (content or mode) and
// deleted; a rename gives both paths. The list is sorted and has no
// duplicates. from == "" means every file of to.
func (r *Repo) ChangedPaths(ctx context.Context, from, to string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	paths, err := r.local.changedPaths(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("changed paths %s..%s of %s: %w", from, to, r.url, err)
	}
	return paths, nil
}

func (h *handle) changedPaths(ctx context.Context, from, to string) ([]string, error) {
	toTree, err := h.commitTree(to)
	if err != nil {
		return nil, err
	}
	var fromTree *object.Tree
	if from != "" {
		if fromTree, err = h.commitTree(from); err != nil {
			return nil, err
		}
	}
	paths := []string{}
	if err := h.diffTrees(ctx, fromTree, toTree, "", func(p string) { paths = append(paths, p) }); err != nil {
		return nil, err
	}
	sort.Strings(paths)
	return slices.Compact(paths), nil
}

// diffTrees calls add with the path of every file that differs between
// trees a and b (nil: an empty tree), prefixed by prefix. It compares
// entries by name, so odd entries (see ReadTree) are paths like any other,
// named as ReadTree names them; a folder whose tree cannot be read is its
// own path.
func (h *handle) diffTrees(ctx context.Context, a, b *object.Tree, prefix string, add func(string)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var as, bs []object.TreeEntry
	if a != nil {
		as = a.Entries
	}
	if b != nil {
		bs = b.Entries
	}
	old := make(map[string]*object.TreeEntry, len(as))
	for i := range as {
		old[as[i].Name] = &as[i]
	}
	side := func(e *object.TreeEntry) (*object.Tree, error) {
		if e == nil || e.Mode != filemode.Dir {
			return nil, nil
		}
		return h.tree(e.Hash)
	}
	visit := func(ea, eb *object.TreeEntry) error {
		if ea != nil && eb != nil && ea.Hash == eb.Hash && ea.Mode == eb.Mode {
			return nil
		}
		name := ea
		if name == nil {
			name = eb
		}
		if oddName(name.Name) != "" {
			add(prefix + displayName(name.Name))
			return nil
		}
		p := prefix + name.Name
		ta, err := side(ea)
		if err == nil {
			var tb *object.Tree
			if tb, err = side(eb); err == nil {
				if ta == nil && ea != nil || eb != nil && tb == nil {
					add(p) // a file (or submodule) on one side at least
				}
				if ta != nil || tb != nil {
					return h.diffTrees(ctx, ta, tb, p+"/", add)
				}
				return nil
			}
		}
		if errors.Is(err, object.ErrMalformedTree) {
			add(p)
			return nil
		}
		return fmt.Errorf("%s: %w", p, err)
	}
	for i := range bs {
		if err := visit(old[bs[i].Name], &bs[i]); err != nil {
			return err
		}
		delete(old, bs[i].Name)
	}
	for i := range as {
		if _, gone := old[as[i].Name]; gone {
			if err := visit(&as[i], nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// commitTree returns the root tree of commit (a full SHA).
func (h *handle) commitTree(commit string) (*object.Tree, error) {
	hash, err := parseSHA(commit)
	if err != nil {
		return nil, err
	}
	c, err := object.GetCommit(h.st, hash)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, notFound(err))
	}
	return h.tree(c.TreeHash)
}

func (h *handle) tree(hash plumbing.Hash) (*object.Tree, error) {
	t, err := object.GetTree(h.st, hash)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", hash, notFound(err))
	}
	return t, nil
}

// subtree returns the tree at folder (clean, "" for root) under root, or
// nil when there is no such folder.
func (h *handle) subtree(root *object.Tree, folder string) (*object.Tree, error) {
	t := root
	if folder == "" {
		return t, nil
	}
	for _, part := range strings.Split(folder, "/") {
		e := findEntry(t, part)
		if e == nil || e.Mode != filemode.Dir {
			return nil, nil
		}
		var err error
		if t, err = h.tree(e.Hash); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func findEntry(t *object.Tree, name string) *object.TreeEntry {
	for i := range t.Entries {
		if t.Entries[i].Name == name {
			return &t.Entries[i]
		}
	}
	return nil
}

// parseSHA accepts a full 40-hex commit or object SHA.
func parseSHA(s string) (plumbing.Hash, error) {
	if len(s) != 40 || !plumbing.IsHash(s) {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a full 40-hex SHA", s)
	}
	return plumbing.NewHash(strings.ToLower(s)), nil
}

// cleanPath checks a repository-relative path and returns it cleaned
// (slash-separated, no "." parts, no trailing slash). An empty path (or ".")
// is the root, allowed only when root is true.
func cleanPath(p string, root bool) (string, error) {
	if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q must be relative and slash-separated", p)
	}
	c := path.Clean("/" + p)[1:]
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("path %q must not contain \"..\"", p)
		}
	}
	if c == "" && !root {
		return "", fmt.Errorf("empty path")
	}
	return c, nil
}

// notFound maps go-git's missing-object error to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
