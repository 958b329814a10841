package reconcile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/systemsync/systemsync/internal/parallel"
	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
)

// MaxFileBytes is the largest spec file read (the size limit of one
// resource); a larger one is a problem.
const MaxFileBytes = spec.MaxResourceBytes

// TreeEntry is one file of a folder at a commit.
type TreeEntry struct {
	Path      string // slash-separated, relative to the folder
	BlobSHA   string
	Size      int64
	Symlink   bool
	Submodule bool
	// Problem, when set, says why the entry cannot be a file of a checkout
	// (a name such as ".." or "a/b.yaml", names differing only in case):
	// the entry is that path's problem in the run, never read.
	Problem string
}

// TreeSource reads a repository: a folder's files at a commit, and blobs.
type TreeSource interface {
	Entries(ctx context.Context, commit, folder string) ([]TreeEntry, error)
	Blob(ctx context.Context, sha string, maxSize int64) ([]byte, error)
}

// File is one spec file of the folder as Git has it.
type File struct {
	Path     string         // repository-relative
	Key      spec.Key       // what the path says it holds
	Problems []spec.Problem // invalid when one is an error; a valid file's warnings
	Blocked  bool           // holds a clear-text secret: never applied nor exported
	Hash     string         // of the canonical resource, when valid
	Ignored  string         // why the key is outside the pipeline's scope, or ""
	Skip     string         // why a change to the valid resource is not synced from Git (spec.GitSyncSkip), or ""

	// data is the file's content when it holds one resource that
	// validates (secrets or not). A loader keeps every file of a folder,
	// and the content is a fraction of the size of the parsed object (and
	// nothing for the garbage collector to scan), so the object is parsed
	// again when it is asked for: only for the changes that need it.
	data []byte
	// sealed: data holds sealed:// references. clear, once they are
	// unsealed, holds the value of each field that holds one, by path.
	sealed bool
	clear  map[string]string
}

// Valid reports whether the file holds one valid, secret-free resource:
// its problems, if any, are warnings.
func (f *File) Valid() bool { return f.data != nil && !spec.HasErrors(f.Problems) }

// Resource returns the resource the file holds, as the loader checked it
// (metadata.project filled in from the path when the file leaves it out,
// its sealed:// references unsealed when the loader has a keyring), or
// nil when it holds no valid one. Each call parses the file again and
// returns a new Resource, without line numbers.
func (f *File) Resource() *spec.Resource {
	if f == nil || f.data == nil {
		return nil
	}
	r, problems := parseOne(f.Path, f.data)
	if len(problems) > 0 {
		return nil // not reached: the same bytes parsed before
	}
	if f.Key.Project != "" && r.Project() == "" {
		r.SetProject(f.Key.Project)
	}
	for p, v := range f.clear {
		spec.SetField(r.Object, p, v)
	}
	r.DropLines()
	return r
}

// parseOne parses data as the one resource of a spec file.
func parseOne(file string, data []byte) (*spec.Resource, []spec.Problem) {
	resources, problems := spec.Parse(file, data)
	if len(problems) > 0 {
		return nil, problems
	}
	if len(resources) != 1 {
		return nil, []spec.Problem{{File: file, Line: 1, Message: fmt.Sprintf("holds %d resources; a spec file holds exactly one", len(resources))}}
	}
	return resources[0], nil
}

// Desired is what a folder at a commit asks for.
type Desired struct {
	Commit    string
	Folder    string // repository-relative folder, "" for the root
	Files     map[spec.Key]*File
	Other     []*File           // files with problems and no key of their own
	Artifacts []string          // repository-relative artifact paths
	Gitkeeps  map[string]bool   // projects whose .gitkeep exists
	Paths     map[string]string // repository path → blob SHA of every file read
}

// Loader reads folders into Desired, parsing and validating only blobs it
// has not seen at that path before, so the cost of a run follows the change.
// It is safe for concurrent use.
type Loader struct {
	// Keys, when set, unseals the sealed:// references of the files
	// loaded with their project's sealer (the Secret Sealer's key pairs);
	// a reference that cannot be unsealed makes its file invalid, naming
	// the field. Runner.Export seals with the same keys. Nil leaves
	// references as they are (a remote controller's to read).
	Keys sealing.Keyring

	mu       sync.Mutex
	cache    map[cacheKey]*cached  // checked file (scope not applied)
	unsealed map[unsealKey]*cached // a checked file, unsealed
	loads    int                   // Load calls so far
}

// cacheKey is a blob at a path: what a file's check depends on.
type cacheKey struct{ blob, path string }

type cached struct {
	file     *File
	lastLoad int
}

// keepLoads is how many loads a cached file survives without being seen:
// enough for a base branch and the pull requests planned against it.
const keepLoads = 32

// NewLoader returns a Loader with an empty cache.
func NewLoader() *Loader {
	return &Loader{cache: map[cacheKey]*cached{}, unsealed: map[unsealKey]*cached{}}
}

// evict drops files no recent load has seen, and counts the load.
func (l *Loader) evict() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loads++
	if l.loads%keepLoads != 0 {
		return
	}
	for k, c := range l.cache {
		if l.loads-c.lastLoad > keepLoads {
			delete(l.cache, k)
		}
	}
	for k, c := range l.unsealed {
		if l.loads-c.lastLoad > keepLoads {
			delete(l.unsealed, k)
		}
	}
}

// Load reads folder at commit from src.
func (l *Loader) Load(ctx context.Context, src TreeSource, commit, folder string, scope Scope) (*Desired, error) {
	folder = strings.Trim(path.Clean("/"+folder), "/")
	entries, err := src.Entries(ctx, commit, folder)
	if err != nil {
		return nil, fmt.Errorf("read folder %q at %s: %w", folder, short(commit), err)
	}
	d := &Desired{Commit: commit, Folder: folder, Files: make(map[spec.Key]*File, len(entries)), Gitkeeps: map[string]bool{},
		Paths: make(map[string]string, len(entries))}
	type todo struct {
		e        TreeEntry
		repoPath string
		info     spec.PathInfo
	}
	var work []todo
	var odd []*File // entries a checkout cannot hold: invalid, keyed when their path names a resource
	for _, e := range entries {
		repoPath := path.Join(folder, e.Path)
		if e.Problem != "" {
			// As it is: cleaning could resolve a ".." inside a quoted name.
			repoPath = strings.TrimPrefix(folder+"/"+e.Path, "/")
		}
		d.Paths[repoPath] = e.BlobSHA
		info := spec.ClassifyPath(e.Path)
		if e.Problem != "" {
			f := &File{Path: repoPath, Problems: []spec.Problem{{File: repoPath, Message: e.Problem}}}
			if info.Type == spec.PathSpec || info.Type == spec.PathProject {
				f.Key = info.Key
				odd = append(odd, f)
			} else {
				d.Other = append(d.Other, f)
			}
			continue
		}
		switch info.Type {
		case spec.PathGitkeep:
			d.Gitkeeps[info.Key.Project] = true
			continue
		case spec.PathArtifact:
			d.Artifacts = append(d.Artifacts, repoPath)
			continue
		case spec.PathSpec, spec.PathProject:
		default:
			if folderName, ok := unknownKindFolder(e.Path); ok {
				msg := fmt.Sprintf("folder %q is not the folder of a kind that syncs (%s)", folderName, pluralList())
				if near := spec.NearestPlural(folderName); near != "" {
					msg = fmt.Sprintf("folder %q is not the folder of a kind that syncs: did you mean %s? (%s)", folderName, near, pluralList())
				}
				d.Other = append(d.Other, &File{Path: repoPath, Problems: []spec.Problem{{File: repoPath, Line: 1, Field: "kind", Message: msg}}})
			}
			continue
		}
		work = append(work, todo{e, repoPath, info})
	}
	// Files checked before come from the cache, in one pass; the others
	// are checked on every core, within the process's parse budget
	// (spec.Reserve).
	files := make([]*File, len(work))
	var misses []int
	l.mu.Lock()
	for i, w := range work {
		if c, ok := l.cache[cacheKey{w.e.BlobSHA, w.repoPath}]; ok {
			c.lastLoad = l.loads
			files[i] = c.file
		} else {
			misses = append(misses, i)
		}
	}
	l.mu.Unlock()
	errs := make([]error, len(work))
	parallel.For(len(misses), func(n int) {
		i := misses[n]
		files[i], errs[i] = l.check(ctx, src, work[i].e, work[i].repoPath, work[i].info)
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	blobs := make([]string, len(work))
	for i, w := range work {
		blobs[i] = w.e.BlobSHA
	}
	if err := l.unsealFiles(ctx, src, d, files, blobs); err != nil {
		return nil, err
	}
	l.evict()
	files = append(files, odd...)
	// The same key from two files: both are invalid, neither wins.
	var dups map[spec.Key][]*File
	for _, f := range files {
		if first, taken := d.Files[f.Key]; taken {
			if dups == nil {
				dups = map[spec.Key][]*File{}
			}
			if dups[f.Key] == nil {
				dups[f.Key] = []*File{first}
			}
			dups[f.Key] = append(dups[f.Key], f)
			continue
		}
		d.Files[f.Key] = f
	}
	for k, fs := range dups {
		var paths []string
		for _, f := range fs {
			paths = append(paths, f.Path)
		}
		sort.Strings(paths)
		for i, f := range fs {
			dup := *f
			dup.Problems = append(append([]spec.Problem(nil), f.Problems...), spec.Problem{File: f.Path, Line: 1,
				Message: fmt.Sprintf("%s is defined in %d files: %s", k, len(fs), strings.Join(paths, ", "))})
			fs[i] = &dup
		}
		d.Files[k] = fs[0]
		d.Other = append(d.Other, fs[1:]...)
	}
	for k, f := range d.Files {
		if reason := scope.ignoredReason(k); reason != "" {
			c := *f
			c.Ignored = reason
			d.Files[k] = &c
		}
	}
	sort.Strings(d.Artifacts)
	return d, nil
}

// unknownKindFolder reports whether rel is shaped like a spec,
// projects/<p>/<folder>/<name>.yaml, in a folder no kind owns: most likely
// a typo, which a person should hear about.
func unknownKindFolder(rel string) (string, bool) {
	seg := strings.Split(rel, "/")
	if len(seg) != 4 || seg[0] != "projects" || !strings.HasSuffix(seg[3], ".yaml") {
		return "", false
	}
	if _, ok := spec.LookupPlural(seg[2]); ok {
		return "", false
	}
	return seg[2], true
}

func pluralList() string {
	var out []string
	for _, k := range spec.Kinds() {
		if k.ProjectScoped {
			out = append(out, k.Plural)
		}
	}
	return strings.Join(out, ", ")
}

// check returns the checked file for an entry, from the cache when the same
// blob was checked at the same path before.
func (l *Loader) check(ctx context.Context, src TreeSource, e TreeEntry, repoPath string, info spec.PathInfo) (*File, error) {
	key := cacheKey{e.BlobSHA, repoPath}
	l.mu.Lock()
	c, ok := l.cache[key]
	if ok {
		c.lastLoad = l.loads
	}
	l.mu.Unlock()
	if ok {
		return c.file, nil
	}
	f := &File{Path: repoPath, Key: info.Key}
	fail := func(msg string) *File {
		f.Problems = append(f.Problems, spec.Problem{File: repoPath, Message: msg})
		return f
	}
	switch {
	case e.Symlink:
		fail("is a symbolic link: links are never followed, commit the file itself")
	case e.Submodule:
		fail("is a submodule, not a spec file")
	case e.Size > MaxFileBytes:
		fail(spec.FileTooBig(e.Size))
	default:
		// Parsing costs memory in proportion to the input: the bytes
		// in flight are the process's budget, whichever cores and runs
		// ask for them.
		release, err := spec.Reserve(ctx, int(e.Size))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", repoPath, err)
		}
		data, err := src.Blob(ctx, e.BlobSHA, MaxFileBytes)
		if err == nil {
			checkContent(f, data, info)
		}
		release()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", repoPath, err)
		}
	}
	l.mu.Lock()
	l.cache[key] = &cached{file: f, lastLoad: l.loads}
	l.mu.Unlock()
	return f, nil
}

// checkContent checks data as the one resource of the spec file f, whose
// path says info: every problem goes to f, and the content is kept when
// it holds a resource without errors.
func checkContent(f *File, data []byte, info spec.PathInfo) {
	add := func(p ...spec.Problem) { f.Problems = append(f.Problems, p...) }
	if i := bytes.IndexByte(data, 0); i >= 0 {
		add(spec.Problem{File: f.Path, Line: 1 + bytes.Count(data[:i], []byte("\n")), Message: "is a binary file (NUL byte), not a YAML spec"})
		return
	}
	if spec.IsTemplate(data) {
		add(spec.Problem{File: f.Path, Line: 1, Message: "is a Go template, not a spec: render it before committing"})
		return
	}
	r, problems := parseOne(f.Path, data)
	if len(problems) > 0 {
		add(problems...)
		return
	}
	problems, blocked := checkResource(r, spec.Context{File: f.Path, Kind: info.Key.Kind, Project: info.Key.Project, Name: info.Key.Name},
		bytes.Contains(data, fileScheme))
	add(problems...)
	if spec.HasErrors(problems) && !blocked {
		return
	}
	if err := spec.CheckSize(r.Object); err != nil {
		add(spec.Problem{File: f.Path, Line: 1, Message: err.Error()})
		return
	}
	f.data = data
	if blocked {
		f.Blocked = true
		return
	}
	f.sealed = holdsRefs(data)
	f.Hash = Hash(r.Object)
	f.Skip = spec.GitSyncSkip(r.Object)
}

// fileScheme starts a file:// reference; a file without it has none.
var fileScheme = []byte("file://")

// checkResource is what every resource read from Git goes through: Validate
// with what its path says (c), metadata.project filled in from c when the
// resource leaves it out, its file:// references when it may have some
// (one that leaves the spec's folder is a warning: it cannot be copied with
// it), and, when it is valid, Secrets. It returns the problems and whether
// the resource holds a clear-text secret.
func checkResource(r *spec.Resource, c spec.Context, mayRef bool) ([]spec.Problem, bool) {
	problems := spec.Validate(r, c)
	if spec.HasErrors(problems) {
		return problems, false
	}
	if c.Project != "" && r.Project() == "" {
		r.SetProject(c.Project)
	}
	if mayRef {
		if _, refs := spec.ArtifactRefs(r, c.File); len(refs) > 0 {
			problems = append(problems, refs...)
		}
	}
	if secrets := spec.Secrets(r); len(secrets) > 0 {
		return append(problems, secrets...), true
	}
	return problems, false
}

// CheckFile checks one spec file as a run would: a file at a spec path of
// the repository layout (name is then relative to the synced folder, such
// as projects/p/namespaces/a.yaml) exactly as the loader checks it, any
// other file as a stream of YAML documents, each checked on its own
// without a path to agree with (a Go template is skipped). Problems come in
// document order, each document's by line.
func CheckFile(name string, data []byte) []spec.Problem {
	if info := spec.ClassifyPath(name); info.Type == spec.PathSpec || info.Type == spec.PathProject {
		f := &File{Path: name, Key: info.Key}
		checkContent(f, data, info)
		return f.Problems
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return []spec.Problem{{File: name, Line: 1 + bytes.Count(data[:bytes.IndexByte(data, 0)], []byte("\n")),
			Message: "is a binary file (NUL byte), not a YAML spec"}}
	}
	if spec.IsTemplate(data) {
		return nil
	}
	resources, problems := spec.Parse(name, data)
	for _, r := range resources {
		p, _ := checkResource(r, spec.Context{File: name}, bytes.Contains(data, fileScheme))
		problems = append(problems, p...)
	}
	return problems
}

// Problems returns every problem of the folder's files, errors and
// warnings, ordered by file and line.
func (d *Desired) Problems() []spec.Problem {
	var out []spec.Problem
	for _, f := range d.Files {
		out = append(out, f.Problems...)
	}
	for _, f := range d.Other {
		out = append(out, f.Problems...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return out
}

// Hash is the identity of a resource's content: equal for semantically
// equal objects (it hashes the canonical form).
func Hash(obj map[string]any) string {
	var buf [4096]byte
	data, err := spec.AppendCanonicalJSON(buf[:0], obj)
	if err != nil {
		return "unhashable:" + err.Error()
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
