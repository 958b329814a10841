package reconcile

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/spec"
)

// Action is what a plan does with one key.
type Action string

// The actions of a plan.
const (
	Create       Action = "create"        // apply Git's new resource to the system
	Update       Action = "update"        // apply Git's changed resource to the system
	Delete       Action = "delete"        // the file was deleted: delete in the system
	Export       Action = "export"        // write the system's resource to Git
	ExportDelete Action = "export-delete" // the system deleted it: delete the file
	NoOp         Action = "no-op"         // both sides agree
	Record       Action = "record"        // both changed to the same thing: record only
	Conflict     Action = "conflict"      // both changed differently: neither is overwritten
	Invalid      Action = "invalid"       // the file is broken: the system keeps its version
	Blocked      Action = "blocked"       // the file holds a clear-text secret
	Ignored      Action = "ignored"       // outside the pipeline's kinds or projects
	Skip         Action = "skipped"       // a change in Git that does not sync (a cluster that is not EKS or AKS): valid, not applied
)

// Change is the plan for one key.
type Change struct {
	Key      spec.Key
	Path     string // repository path of the file (the one Git has, or would have)
	Action   Action
	Diff     []FieldDiff    // for Update, Export and Conflict: system → Git differences
	Problems []spec.Problem // for Invalid and Blocked; the warnings of Git's valid file otherwise
	Reason   string         // for Ignored, Skip, Conflict and first-sync choices

	file     *File          // Git's file, whose object is applied
	system   map[string]any // the system's object, to export
	sysObj   *SystemObject  // or the snapshot's, decoded when asked for
	gitHash  string
	sysHash  string
	hadState bool

	desiredOnce sync.Once
	desired     map[string]any // the file's object, parsed when first asked for
}

// Desired returns Git's object for the change, or nil.
func (c *Change) Desired() map[string]any {
	c.desiredOnce.Do(func() {
		if r := c.file.Resource(); r != nil {
			c.desired = r.Object
		}
	})
	return c.desired
}

// inGit reports whether Git holds a valid resource for the change.
func (c *Change) inGit() bool { return c.file != nil }

// SystemHash returns Hash of the system's object, "" when it has none.
func (c *Change) SystemHash() string { return c.sysHash }

// System returns the system's object for the change, or nil.
func (c *Change) System() map[string]any {
	if c.sysObj != nil {
		return c.sysObj.Object()
	}
	return c.system
}

// Plan is every change for one pipeline stage, sorted by path.
type Plan struct {
	Commit   string
	Changes  []*Change
	gitkeeps map[string]bool
	paths    map[string]string // every file of the folder, repository path → blob
}

// HasGitkeep reports whether the folder holds projects/<project>/.gitkeep.
func (p *Plan) HasGitkeep(project string) bool { return p.gitkeeps[project] }

// InGit reports whether the folder planned holds a file at path
// (repository-relative), whatever it is.
func (p *Plan) InGit(path string) bool {
	_, ok := p.paths[path]
	return ok
}

// Count returns how many changes have action a.
func (p *Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Visible returns the changes worth showing a person: all but no-ops.
func (p *Plan) Visible() []*Change {
	var out []*Change
	for _, c := range p.Changes {
		if c.Action != NoOp {
			out = append(out, c)
		}
	}
	return out
}

// GitToSystem returns the plan without its system → Git changes (Export,
// ExportDelete): what applying Git to the system does, as a pull request's
// plan shows it.
func (p *Plan) GitToSystem() *Plan {
	out := &Plan{Commit: p.Commit}
	for _, c := range p.Changes {
		if c.Action != Export && c.Action != ExportDelete {
			out.Changes = append(out.Changes, c)
		}
	}
	return out
}

// State is one key's sync state: both sides' content hashes at the last
// successful sync, and the file's path.
type State struct {
	Path       string
	GitHash    string
	SystemHash string
}

// Direction is which way a first sync goes when both sides hold a key
// and no sync state says which changed.
type Direction int

// Directions of a first sync.
const (
	GitWins    Direction = iota // a Git-triggered run
	SystemWins                  // a system-triggered run
)

// Input is what a plan is made from.
type Input struct {
	Desired    *Desired
	Actual     map[spec.Key]map[string]any // the system's objects in scope
	ActualHash map[spec.Key]string         // their hashes, when known (else computed)
	// System, when set, is the system's objects in scope from a Snapshot,
	// instead of Actual and ActualHash: an object is decoded only for a
	// change that needs it.
	System      map[spec.Key]*SystemObject
	State       map[spec.Key]State
	FirstSync   Direction
	SystemToGit bool // the stage writes system changes to Git (else they are left alone)
}

// MakePlan applies the three-way table of DESIGN.md to every key that Git,
// the system or the sync state knows.
func MakePlan(in Input) *Plan {
	plan := &Plan{Commit: in.Desired.Commit, gitkeeps: in.Desired.Gitkeeps, paths: in.Desired.Paths,
		Changes: make([]*Change, 0, len(in.Desired.Files)+len(in.Desired.Other))}
	// Every key once: Git's, then the sync state's, then the system's.
	for k := range in.Desired.Files {
		plan.Changes = append(plan.Changes, planKey(in, k))
	}
	for k := range in.State {
		if _, inGit := in.Desired.Files[k]; !inGit {
			plan.Changes = append(plan.Changes, planKey(in, k))
		}
	}
	systemOnly := func(k spec.Key) {
		_, inGit := in.Desired.Files[k]
		_, hadState := in.State[k]
		if !inGit && !hadState {
			plan.Changes = append(plan.Changes, planKey(in, k))
		}
	}
	if in.System != nil {
		for k := range in.System {
			systemOnly(k)
		}
	} else {
		for k := range in.Actual {
			systemOnly(k)
		}
	}
	for _, f := range in.Desired.Other {
		plan.Changes = append(plan.Changes, &Change{Key: f.Key, Path: f.Path, Action: Invalid, Problems: f.Problems})
	}
	sort.Slice(plan.Changes, func(i, j int) bool {
		a, b := plan.Changes[i], plan.Changes[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Key.String() < b.Key.String()
	})
	return plan
}

func planKey(in Input, k spec.Key) *Change {
	f := in.Desired.Files[k]
	s, hadState := in.State[k]
	c := &Change{Key: k, hadState: hadState}
	switch {
	case f != nil:
		c.Path = f.Path
	case hadState && s.Path != "":
		c.Path = s.Path
	default:
		c.Path = repoPath(in.Desired.Folder, k)
	}
	var inSystem bool
	if in.System != nil {
		var o *SystemObject
		if o, inSystem = in.System[k]; inSystem {
			c.sysObj, c.sysHash = o, o.Hash()
		}
	} else {
		var y map[string]any
		if y, inSystem = in.Actual[k]; inSystem {
			c.system = y
			if h, ok := in.ActualHash[k]; ok {
				c.sysHash = h
			} else {
				c.sysHash = Hash(y)
			}
		}
	}
	switch {
	case f != nil && f.Ignored != "":
		c.Action, c.Reason = Ignored, f.Ignored
		return c
	case f != nil && f.Blocked:
		c.Action, c.Problems = Blocked, f.Problems
		return c
	case f != nil && !f.Valid():
		c.Action, c.Problems = Invalid, f.Problems
		return c
	}
	inGit := f != nil
	if inGit {
		c.file, c.gitHash, c.Problems = f, f.Hash, f.Problems
	}
	defer skipFromGit(c) // on every return from here on
	exportOr := func(a Action) Action {
		if in.SystemToGit {
			return a
		}
		return NoOp
	}

	if !hadState {
		switch {
		case inGit && !inSystem:
			c.Action = Create
		case inGit && c.gitHash == c.sysHash:
			c.Action = Record
		case inGit && in.FirstSync == GitWins:
			c.Action, c.Reason = Update, "first sync of this key: Git wins for a Git-triggered run"
			c.Diff = Diff(c.System(), c.Desired())
		case inGit:
			c.Action, c.Reason = exportOr(Export), "first sync of this key: the system wins for a system-triggered run"
			c.Diff = Diff(c.System(), c.Desired())
		case inSystem:
			c.Action = exportOr(Export)
		default:
			c.Action = NoOp
		}
		return c
	}

	gitChanged := !inGit || c.gitHash != s.GitHash
	sysChanged := !inSystem || c.sysHash != s.SystemHash
	switch {
	case !gitChanged && !sysChanged:
		c.Action = NoOp
	case gitChanged && !sysChanged:
		if inGit {
			c.Action = Update
			c.Diff = Diff(c.System(), c.Desired())
		} else {
			c.Action = Delete
		}
	case !gitChanged && sysChanged:
		if inSystem {
			c.Action = exportOr(Export)
			c.Diff = Diff(c.System(), c.Desired())
		} else {
			c.Action = exportOr(ExportDelete)
		}
	default: // both changed since the last sync
		switch {
		case !inGit && !inSystem:
			c.Action, c.Reason = Record, "deleted on both sides"
		case inGit && inSystem && c.gitHash == c.sysHash:
			c.Action, c.Reason = Record, "changed on both sides to the same content"
		default:
			c.Action = Conflict
			c.Reason = conflictReason(inGit, inSystem)
			if inGit && inSystem {
				c.Diff = Diff(c.System(), c.Desired())
			}
		}
	}
	return c
}

// skipFromGit turns a change that would apply Git to the system into Skip
// when the resource does not sync from Git (spec.GitSyncSkip): Git's, or
// for a delete the system's.
func skipFromGit(c *Change) {
	reason := ""
	switch c.Action {
	case Create, Update:
		reason = c.file.Skip
	case Delete:
		reason = spec.GitSyncSkip(c.System())
	}
	if reason != "" {
		c.Action, c.Reason, c.Diff = Skip, reason, nil
	}
}

func conflictReason(inGit, inSystem bool) string {
	switch {
	case !inGit:
		return "deleted in Git but changed in the system since the last sync; neither side is overwritten"
	case !inSystem:
		return "changed in Git but deleted in the system since the last sync; neither side is overwritten"
	default:
		return "changed in Git and in the system since the last sync, differently; neither side is overwritten"
	}
}

// repoPath is where key k's file lives in a folder.
func repoPath(folder string, k spec.Key) string {
	p := spec.PathFor(k)
	if folder == "" {
		return p
	}
	return folder + "/" + p
}

// System is the controller as reconcile uses it; controllerapi.Client is one.
type System interface {
	ListAll(ctx context.Context, kind, project string) ([]map[string]any, error)
	Apply(ctx context.Context, obj map[string]any) (map[string]any, error)
	Delete(ctx context.Context, kind, project, name string) error
}

// LoadActual lists the system's resources in scope, keyed, eight lists at a time.
func LoadActual(ctx context.Context, sys System, scope Scope) (map[spec.Key]map[string]any, error) {
	objs, err := listSystem(ctx, sys, scope, false)
	if err != nil {
		return nil, err
	}
	out := make(map[spec.Key]map[string]any, len(objs))
	for k, o := range objs {
		out[k] = o.obj
	}
	return out, nil
}

// listedSystem is a System that lists resources undecoded;
// controllerapi.Client is one.
type listedSystem interface {
	ListAllListed(ctx context.Context, kind, project string) ([]controllerapi.Listed, error)
}

// listSystem lists the system's resources in scope, eight lists at a time.
// For a snapshot, they are hashed, and kept undecoded when the system
// lists them so (see SystemObject).
func listSystem(ctx context.Context, sys System, scope Scope, forSnapshot bool) (map[spec.Key]*SystemObject, error) {
	lister, _ := sys.(listedSystem)
	if !forSnapshot {
		lister = nil
	}
	type keyed struct {
		key spec.Key
		obj *SystemObject
	}
	// list returns one collection's objects, keyed and hashed.
	list := func(kind, project string) ([]keyed, error) {
		if lister == nil {
			items, err := sys.ListAll(ctx, kind, project)
			if err != nil {
				return nil, err
			}
			out := make([]keyed, len(items))
			for i, it := range items {
				o := &SystemObject{obj: it}
				if forSnapshot {
					o.hash = Hash(it)
				}
				out[i] = keyed{(&spec.Resource{Object: it}).Key(), o}
			}
			return out, nil
		}
		items, err := lister.ListAllListed(ctx, kind, project)
		if err != nil {
			return nil, err
		}
		out := make([]keyed, len(items))
		for i, it := range items {
			obj, err := it.Object() // read for its key and hash, then dropped
			if err != nil {
				return nil, fmt.Errorf("list %s in %q: %w", kind, project, err)
			}
			out[i] = keyed{(&spec.Resource{Object: obj}).Key(), &SystemObject{hash: Hash(obj), listed: it}}
		}
		return out, nil
	}
	out := map[spec.Key]*SystemObject{}
	projects, err := list("Project", "")
	if err != nil {
		return nil, err
	}
	var covered []string
	for _, p := range projects {
		if !scope.ProjectCovered(p.key.Name) {
			continue
		}
		covered = append(covered, p.key.Name)
		if scope.KindIncluded("Project") {
			out[p.key] = p.obj
		}
	}
	type job struct{ kind, project string }
	var jobs []job
	for _, kind := range scope.SyncedKinds() {
		if kind == "Project" {
			continue
		}
		for _, p := range covered {
			jobs = append(jobs, job{kind, p})
		}
	}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			items, err := list(j.kind, j.project)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("list %s in %s: %w", j.kind, j.project, err)
				}
				return
			}
			for _, it := range items {
				out[it.key] = it.obj
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}
