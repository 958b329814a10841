package reconcile_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// memTree is a folder held in memory; it counts blob reads.
type memTree struct {
	files    map[string]string // path → content
	symlinks map[string]bool
	mu       sync.Mutex
	reads    int
}

func (m *memTree) Entries(_ context.Context, _, folder string) ([]reconcile.TreeEntry, error) {
	var out []reconcile.TreeEntry
	for p, c := range m.files {
		rel := p
		if folder != "" {
			if !strings.HasPrefix(p, folder+"/") {
				continue
			}
			rel = strings.TrimPrefix(p, folder+"/")
		}
		sum := sha1.Sum([]byte(c))
		out = append(out, reconcile.TreeEntry{Path: rel, BlobSHA: hex.EncodeToString(sum[:]), Size: int64(len(c)), Symlink: m.symlinks[p]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (m *memTree) Blob(_ context.Context, sha string, _ int64) ([]byte, error) {
	m.mu.Lock()
	m.reads++
	m.mu.Unlock()
	for _, c := range m.files {
		sum := sha1.Sum([]byte(c))
		if hex.EncodeToString(sum[:]) == sha {
			return []byte(c), nil
		}
	}
	return nil, fmt.Errorf("no blob %s", sha)
}

// memState is an in-memory sync state.
type memState struct {
	mu sync.Mutex
	m  map[spec.Key]reconcile.State
}

func newMemState() *memState { return &memState{m: map[spec.Key]reconcile.State{}} }

func (s *memState) Load(context.Context) (map[spec.Key]reconcile.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[spec.Key]reconcile.State{}
	for k, v := range s.m {
		out[k] = v
	}
	return out, nil
}

func (s *memState) Save(_ context.Context, k spec.Key, st reconcile.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = st
	return nil
}

func (s *memState) Remove(_ context.Context, k spec.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func namespace(project, name, extra string) string {
	return fmt.Sprintf("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: %s\n  project: %s\nspec:\n  placement:\n    labels:\n    - key: env\n      value: %s\n", name, project, extra)
}

const projectDefault = "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: default\nspec:\n  default: true\n"

// syncOnce plans the tree against the controller and applies it.
func syncOnce(t *testing.T, l *reconcile.Loader, tree *memTree, sys reconcile.System, st *memState, scope reconcile.Scope) (*reconcile.Plan, []reconcile.Result) {
	t.Helper()
	ctx := context.Background()
	d, err := l.Load(ctx, tree, "c", "", scope)
	if err != nil {
		t.Fatal(err)
	}
	actual, err := reconcile.LoadActual(ctx, sys, scope)
	if err != nil {
		t.Fatal(err)
	}
	state, _ := st.Load(ctx)
	plan := reconcile.MakePlan(reconcile.Input{Desired: d, Actual: actual, State: state, FirstSync: reconcile.GitWins})
	res, err := reconcile.ApplyToSystem(ctx, plan, sys, st)
	if err != nil {
		t.Fatal(err)
	}
	return plan, res
}

func actions(p *reconcile.Plan) map[string]reconcile.Action {
	out := map[string]reconcile.Action{}
	for _, c := range p.Visible() {
		out[c.Path] = c.Action
	}
	return out
}

func TestGitToSystemCreatesUpdatesDeletes(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	sys := controllerapi.New(c.URL, controllertest.AdminKey)
	tree := &memTree{files: map[string]string{
		"projects/default.yaml":                       projectDefault,
		"projects/team-a.yaml":                        strings.ReplaceAll(projectDefault, "default", "team-a"),
		"projects/team-a/namespaces/ns-1.yaml":        namespace("team-a", "ns-1", "dev"),
		"projects/default/namespaces/ns-2.yaml":       namespace("default", "ns-2", "dev"),
		"projects/default/README.md":                  "not a spec",
		"projects/default/overrides/values/x.yaml":    "artifact: true\n",
		"projects/default/.gitkeep":                   "",
		"projects/default/namespaces/ns-3.yaml":       namespace("default", "ns-3", "dev"),
		"projects/default/namespaces/extra/ns-4.yaml": namespace("default", "ns-4", "dev"),
	}}
	st := newMemState()
	l := reconcile.NewLoader()
	plan, res := syncOnce(t, l, tree, sys, st, reconcile.Scope{})
	// team-a is a new project: it must be created before its namespace.
	if res[0].Change.Key != (spec.Key{Kind: "Project", Name: "team-a"}) {
		t.Fatalf("project team-a not applied first: %v", res[0].Change.Key)
	}
	for _, r := range res {
		if r.Outcome == reconcile.Failed {
			t.Fatalf("%s failed: %s", r.Change.Key, r.Message)
		}
	}
	want := map[string]reconcile.Action{
		"projects/team-a.yaml":                  reconcile.Create,
		"projects/team-a/namespaces/ns-1.yaml":  reconcile.Create,
		"projects/default/namespaces/ns-2.yaml": reconcile.Create,
		"projects/default/namespaces/ns-3.yaml": reconcile.Create,
		"projects/default.yaml":                 reconcile.Record, // the same as the seeded project
	}
	if got := actions(plan); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first plan\n got %v\nwant %v", got, want)
	}
	if _, err := sys.Get(ctx, "Namespace", "team-a", "ns-1"); err != nil {
		t.Fatalf("ns-1 not in the system: %v", err)
	}
	if _, err := sys.Get(ctx, "Namespace", "default", "ns-4"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a file deeper than the layout was applied: %v", err)
	}

	// Nothing changed: nothing to do.
	plan, _ = syncOnce(t, l, tree, sys, st, reconcile.Scope{})
	if v := plan.Visible(); len(v) != 0 {
		t.Fatalf("second plan is not empty: %v", actions(plan))
	}

	// Change one, delete one.
	tree.files["projects/default/namespaces/ns-2.yaml"] = namespace("default", "ns-2", "prod")
	delete(tree.files, "projects/default/namespaces/ns-3.yaml")
	plan, _ = syncOnce(t, l, tree, sys, st, reconcile.Scope{})
	want = map[string]reconcile.Action{
		"projects/default/namespaces/ns-2.yaml": reconcile.Update,
		"projects/default/namespaces/ns-3.yaml": reconcile.Delete,
	}
	if got := actions(plan); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("third plan\n got %v\nwant %v", got, want)
	}
	for _, ch := range plan.Visible() {
		if ch.Action == reconcile.Update {
			if len(ch.Diff) != 1 || ch.Diff[0].Field != "spec.placement.labels[0].value" || ch.Diff[0].String() != `spec.placement.labels[0].value: "dev" → "prod"` {
				t.Fatalf("update diff = %v", ch.Diff)
			}
		}
	}
	if _, err := sys.Get(ctx, "Namespace", "default", "ns-3"); !controllerapi.IsNotFound(err) {
		t.Fatalf("ns-3 still in the system: %v", err)
	}
	got, _ := sys.Get(ctx, "Namespace", "default", "ns-2")
	if !strings.Contains(fmt.Sprint(got), "prod") {
		t.Fatalf("ns-2 not updated: %v", got)
	}
}

func TestLoaderParsesOnlyNewBlobs(t *testing.T) {
	ctx := context.Background()
	tree := &memTree{files: map[string]string{}}
	for i := 0; i < 50; i++ {
		tree.files[fmt.Sprintf("projects/default/namespaces/ns-%d.yaml", i)] = namespace("default", fmt.Sprintf("ns-%d", i), "dev")
	}
	l := reconcile.NewLoader()
	if _, err := l.Load(ctx, tree, "a", "", reconcile.Scope{}); err != nil {
		t.Fatal(err)
	}
	if tree.reads != 50 {
		t.Fatalf("first load read %d blobs, want 50", tree.reads)
	}
	tree.files["projects/default/namespaces/ns-7.yaml"] = namespace("default", "ns-7", "prod")
	tree.reads = 0
	d, err := l.Load(ctx, tree, "b", "", reconcile.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if tree.reads != 1 {
		t.Fatalf("second load read %d blobs, want only the changed one", tree.reads)
	}
	if len(d.Files) != 50 {
		t.Fatalf("second load has %d files", len(d.Files))
	}
}

func TestBrokenFilesFailAloneAndOthersSync(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	sys := controllerapi.New(c.URL, controllertest.AdminKey)
	big := namespace("default", "big", strings.Repeat("x", reconcile.MaxFileBytes))
	tree := &memTree{
		files: map[string]string{
			"projects/default/namespaces/good.yaml":      namespace("default", "good", "dev"),
			"projects/default/namespaces/broken.yaml":    "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: [broken\n",
			"projects/default/namespaces/wrongname.yaml": namespace("default", "other", "dev"),
			"projects/default/clusters/misplaced.yaml":   namespace("default", "misplaced", "dev"),
			"projects/default/namespaces/binary.yaml":    "apiVersion: v3\x00\x01",
			"projects/default/namespaces/link.yaml":      "../../../../etc/passwd",
			"projects/default/namespaces/big.yaml":       big,
			"projects/default/namespaces/up.yaml":        namespace("default", "up", "dev"),
			"projects/default/repositories/git.yaml": "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n  name: git\n  project: default\nspec:\n  type: Git\n  endpoint: https://example.com/r.git\n" +
				"  credentials:\n    username: u\n    password: hunter2\n",
			"projects/default/agents/a1.yaml":         "apiVersion: gitops.k8smgmt.io/v3\nkind: Agent\nmetadata:\n  name: a1\n  project: default\nspec:\n  type: Docker\n",
			"projects/default/gadgets/g.yaml":         namespace("default", "g", "dev"),
			"projects/default/namespaces/gadget.yaml": "apiVersion: infra.k8smgmt.io/v3\nkind: Gadget\nmetadata:\n  name: gadget\n  project: default\nspec: {}\n",
			"projects/default/namespaces/dup.yaml":    namespace("default", "good", "prod"),
			"projects/default/namespaces/dots.yaml":   namespace("default", "../etc", "dev"),
		},
		symlinks: map[string]bool{"projects/default/namespaces/link.yaml": true},
	}
	scope := reconcile.Scope{Excluded: map[string]bool{"Agent": true}}
	plan, res := syncOnce(t, reconcile.NewLoader(), tree, sys, newMemState(), scope)
	byPath := map[string]*reconcile.Change{}
	for _, ch := range plan.Changes {
		byPath[ch.Path] = ch
	}
	expect := func(path string, a reconcile.Action, line int, field, text string) {
		t.Helper()
		ch := byPath[path]
		if ch == nil {
			t.Fatalf("%s not in the plan", path)
		}
		if ch.Action != a {
			t.Fatalf("%s: action %s, want %s (%v)", path, ch.Action, a, ch.Problems)
		}
		if a == reconcile.Ignored {
			if !strings.Contains(ch.Reason, text) {
				t.Fatalf("%s: reason %q", path, ch.Reason)
			}
			return
		}
		for _, p := range ch.Problems {
			if p.File == path && (line == 0 || p.Line == line) && (field == "" || p.Field == field) && strings.Contains(p.Message, text) {
				return
			}
		}
		t.Fatalf("%s: no problem line %d field %q containing %q in %v", path, line, field, text, ch.Problems)
	}
	expect("projects/default/namespaces/broken.yaml", reconcile.Invalid, 4, "", "")
	expect("projects/default/namespaces/wrongname.yaml", reconcile.Invalid, 4, "metadata.name", "wrongname")
	expect("projects/default/clusters/misplaced.yaml", reconcile.Invalid, 2, "kind", "Cluster")
	expect("projects/default/namespaces/binary.yaml", reconcile.Invalid, 0, "", "binary")
	expect("projects/default/namespaces/link.yaml", reconcile.Invalid, 0, "", "symbolic link")
	expect("projects/default/namespaces/big.yaml", reconcile.Invalid, 0, "", "over the limit")
	expect("projects/default/repositories/git.yaml", reconcile.Blocked, 11, "spec.credentials.password", "SecretSealer")
	expect("projects/default/agents/a1.yaml", reconcile.Ignored, 0, "", "Agent is not included")
	expect("projects/default/gadgets/g.yaml", reconcile.Invalid, 1, "kind", `folder "gadgets" is not the folder of a kind`)
	expect("projects/default/namespaces/gadget.yaml", reconcile.Invalid, 2, "kind", "Gadget")
	// The same key as good.yaml declared in another file: refused, good.yaml still applies.
	expect("projects/default/namespaces/dup.yaml", reconcile.Invalid, 4, "metadata.name", "dup")
	expect("projects/default/namespaces/dots.yaml", reconcile.Invalid, 4, "metadata.name", "../etc")
	if byPath["projects/default/namespaces/good.yaml"].Action != reconcile.Create || byPath["projects/default/namespaces/up.yaml"].Action != reconcile.Create {
		t.Fatal("valid files are not planned for creation")
	}
	applied := 0
	for _, r := range res {
		if r.Outcome == reconcile.Applied {
			applied++
		}
	}
	if applied != 2 {
		t.Fatalf("%d applied, want the 2 valid namespaces", applied)
	}
	for _, n := range []string{"broken", "wrongname", "other", "big", "binary", "link"} {
		if _, err := sys.Get(ctx, "Namespace", "default", n); !controllerapi.IsNotFound(err) {
			t.Fatalf("%s reached the system: %v", n, err)
		}
	}
	if _, err := sys.Get(ctx, "Repository", "default", "git"); !controllerapi.IsNotFound(err) {
		t.Fatalf("the repository with a clear-text password was applied: %v", err)
	}
}

func TestThreeWayTable(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	sys := controllerapi.New(c.URL, controllertest.AdminKey)
	tree := &memTree{files: map[string]string{
		"projects/default/namespaces/git-changed.yaml": namespace("default", "git-changed", "v1"),
		"projects/default/namespaces/sys-changed.yaml": namespace("default", "sys-changed", "v1"),
		"projects/default/namespaces/both-same.yaml":   namespace("default", "both-same", "v1"),
		"projects/default/namespaces/both-differ.yaml": namespace("default", "both-differ", "v1"),
		"projects/default/namespaces/sys-deleted.yaml": namespace("default", "sys-deleted", "v1"),
		"projects/default/namespaces/git-deleted.yaml": namespace("default", "git-deleted", "v1"),
		"projects/default/namespaces/untouched.yaml":   namespace("default", "untouched", "v1"),
	}}
	st := newMemState()
	l := reconcile.NewLoader()
	syncOnce(t, l, tree, sys, st, reconcile.Scope{Kinds: map[string]bool{"Namespace": true}})

	apply := func(name, v string) {
		t.Helper()
		r, _ := spec.Parse("", []byte(namespace("default", name, v)))
		if _, err := sys.Apply(ctx, r[0].Object); err != nil {
			t.Fatal(err)
		}
	}
	tree.files["projects/default/namespaces/git-changed.yaml"] = namespace("default", "git-changed", "v2")
	apply("sys-changed", "v2")
	tree.files["projects/default/namespaces/both-same.yaml"] = namespace("default", "both-same", "v2")
	apply("both-same", "v2")
	tree.files["projects/default/namespaces/both-differ.yaml"] = namespace("default", "both-differ", "git")
	apply("both-differ", "system")
	sys.Delete(ctx, "Namespace", "default", "sys-deleted")
	delete(tree.files, "projects/default/namespaces/git-deleted.yaml")
	apply("system-new", "v1")

	d, _ := l.Load(ctx, tree, "c2", "", reconcile.Scope{Kinds: map[string]bool{"Namespace": true}})
	actual, _ := reconcile.LoadActual(ctx, sys, reconcile.Scope{Kinds: map[string]bool{"Namespace": true}})
	state, _ := st.Load(ctx)
	plan := reconcile.MakePlan(reconcile.Input{Desired: d, Actual: actual, State: state, SystemToGit: true})
	want := map[string]reconcile.Action{
		"projects/default/namespaces/git-changed.yaml": reconcile.Update,
		"projects/default/namespaces/sys-changed.yaml": reconcile.Export,
		"projects/default/namespaces/both-same.yaml":   reconcile.Record,
		"projects/default/namespaces/both-differ.yaml": reconcile.Conflict,
		"projects/default/namespaces/sys-deleted.yaml": reconcile.ExportDelete,
		"projects/default/namespaces/git-deleted.yaml": reconcile.Delete,
		"projects/default/namespaces/system-new.yaml":  reconcile.Export,
	}
	if got := actions(plan); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("plan\n got %v\nwant %v", got, want)
	}
	// The conflict overwrites neither side.
	res, err := reconcile.ApplyToSystem(ctx, plan, sys, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Change.Action == reconcile.Conflict && r.Outcome != reconcile.Skipped {
			t.Fatalf("conflict outcome %s", r.Outcome)
		}
	}
	got, _ := sys.Get(ctx, "Namespace", "default", "both-differ")
	if !strings.Contains(fmt.Sprint(got), "system") {
		t.Fatalf("the conflict overwrote the system: %v", got)
	}
}

func TestSnapshotFollowsTheEventLog(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	sys := controllerapi.New(c.URL, controllertest.AdminKey)
	apply := func(name, v string) {
		t.Helper()
		r, _ := spec.Parse("", []byte(namespace("default", name, v)))
		if _, err := sys.Apply(ctx, r[0].Object); err != nil {
			t.Fatal(err)
		}
	}
	apply("a", "v1")
	apply("b", "v1")
	snap := reconcile.NewSnapshot()
	scope := reconcile.Scope{Kinds: map[string]bool{"Namespace": true}}
	check := func(when string) {
		t.Helper()
		got, hashes, err := snap.Actual(ctx, sys, sys, scope)
		if err != nil {
			t.Fatal(err)
		}
		want, err := reconcile.LoadActual(ctx, sys, scope)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: snapshot has %d objects, the controller %d", when, len(got), len(want))
		}
		for k, w := range want {
			if !spec.Equal(got[k], w) || hashes[k] != reconcile.Hash(w) {
				t.Fatalf("%s: %s differs from the controller", when, k)
			}
		}
		objs, err := snap.Objects(ctx, sys, sys, scope)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != len(want) {
			t.Fatalf("%s: snapshot has %d objects, the controller %d", when, len(objs), len(want))
		}
		for k, w := range want {
			if o := objs[k]; o == nil || !reflect.DeepEqual(o.Object(), w) || o.Hash() != reconcile.Hash(w) {
				t.Fatalf("%s: %s differs from the controller", when, k)
			}
		}
	}
	check("first load")
	apply("b", "v2")
	apply("c", "v1")
	sys.Delete(ctx, "Namespace", "default", "a")
	check("after an update, a create and a delete")
	sys.Delete(ctx, "Namespace", "default", "c")
	apply("c", "v3")
	check("after a delete and a re-create")
}

// TestDesiredIsTheParsedFile: a loader keeps a file's content, not its
// object; what a change applies is the file parsed again, with the project
// its path names filled in, a new object each time it is asked for.
func TestDesiredIsTheParsedFile(t *testing.T) {
	ctx := context.Background()
	noProject := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: b\n  labels:\n    tier: \"1\"\nspec:\n  replicas: 2.0\n  placement:\n    labels: []\n"
	tree := &memTree{files: map[string]string{
		"projects/default.yaml":                projectDefault,
		"projects/default/namespaces/a.yaml":   namespace("default", "a", "dev"),
		"projects/default/namespaces/b.yaml":   noProject,
		"projects/default/namespaces/bad.yaml": "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: wrong\n",
	}}
	l := reconcile.NewLoader()
	for round := 0; round < 2; round++ { // the second from the cache
		d, err := l.Load(ctx, tree, "c", "", reconcile.Scope{})
		if err != nil {
			t.Fatal(err)
		}
		plan := reconcile.MakePlan(reconcile.Input{Desired: d, Actual: map[spec.Key]map[string]any{}, State: map[spec.Key]reconcile.State{}})
		for _, c := range plan.Changes {
			f := d.Files[c.Key]
			switch c.Key.Name {
			case "bad":
				if c.Action != reconcile.Invalid || c.Desired() != nil || f.Resource() != nil {
					t.Fatalf("%s: %s, desired %v", c.Path, c.Action, c.Desired())
				}
				continue
			}
			rs, probs := spec.Parse(c.Path, []byte(tree.files[c.Path]))
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			want := rs[0].Object
			if c.Key.Kind != "Project" {
				want["metadata"].(map[string]any)["project"] = "default"
			}
			if c.Action != reconcile.Create || !reflect.DeepEqual(c.Desired(), want) {
				t.Fatalf("%s: %s, desired %#v, want %#v", c.Path, c.Action, c.Desired(), want)
			}
			if got := f.Resource(); !reflect.DeepEqual(got.Object, want) || got.File != c.Path {
				t.Fatalf("%s: file resource %#v", c.Path, got)
			}
			f.Resource().Object["spec"] = "changed"
			if !reflect.DeepEqual(f.Resource().Object, want) || !reflect.DeepEqual(c.Desired(), want) {
				t.Fatalf("%s: a changed copy changed the file", c.Path)
			}
		}
	}
}

// TestPlanFromSnapshotObjects: a plan made from a snapshot's objects (each
// decoded only when a change needs it) is the plan made from the listed
// objects: the same actions, diffs and system objects.
func TestPlanFromSnapshotObjects(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	sys := controllerapi.New(c.URL, controllertest.AdminKey)
	for _, n := range []string{"same", "changed", "system-only", "stale"} {
		r, _ := spec.Parse("", []byte(namespace("default", n, "v1")))
		if _, err := sys.Apply(ctx, r[0].Object); err != nil {
			t.Fatal(err)
		}
	}
	tree := &memTree{files: map[string]string{
		"projects/default.yaml":                    projectDefault,
		"projects/default/namespaces/same.yaml":    namespace("default", "same", "v1"),
		"projects/default/namespaces/changed.yaml": namespace("default", "changed", "v2"),
		"projects/default/namespaces/stale.yaml":   namespace("default", "stale", "v1"),
		"projects/default/namespaces/new.yaml":     namespace("default", "new", "v1"),
	}}
	d, err := reconcile.NewLoader().Load(ctx, tree, "c", "", reconcile.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	state := map[spec.Key]reconcile.State{
		{Kind: "Namespace", Project: "default", Name: "stale"}: {Path: "projects/default/namespaces/stale.yaml", GitHash: "old", SystemHash: "old"},
	}
	actual, err := reconcile.LoadActual(ctx, sys, reconcile.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := reconcile.NewSnapshot().Objects(ctx, sys, sys, reconcile.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []reconcile.Direction{reconcile.GitWins, reconcile.SystemWins} {
		want := reconcile.MakePlan(reconcile.Input{Desired: d, Actual: actual, State: state, FirstSync: dir, SystemToGit: true})
		got := reconcile.MakePlan(reconcile.Input{Desired: d, System: objs, State: state, FirstSync: dir, SystemToGit: true})
		if len(got.Changes) != len(want.Changes) || len(got.Changes) != 6 {
			t.Fatalf("%d changes, want %d", len(got.Changes), len(want.Changes))
		}
		for i, w := range want.Changes {
			g := got.Changes[i]
			if g.Key != w.Key || g.Path != w.Path || g.Action != w.Action || g.Reason != w.Reason ||
				!reflect.DeepEqual(g.Diff, w.Diff) || !reflect.DeepEqual(g.System(), w.System()) {
				t.Fatalf("%s:\n got %+v\nwant %+v", w.Key, g, w)
			}
		}
	}
}

// enteringTree is a memTree that tells when a load has read its folder.
type enteringTree struct {
	*memTree
	entered chan struct{}
}

func (e *enteringTree) Entries(ctx context.Context, commit, folder string) ([]reconcile.TreeEntry, error) {
	defer close(e.entered)
	return e.memTree.Entries(ctx, commit, folder)
}

// TestLoaderParsesWithinTheProcessBudget: while the process's parse budget
// (spec.Reserve) is all taken, a load reads no file, waiting until its
// context ends; with the budget back, the same load reads and checks it.
func TestLoaderParsesWithinTheProcessBudget(t *testing.T) {
	tree := &memTree{files: map[string]string{"projects/default/namespaces/a.yaml": namespace("default", "a", "x")}}
	release, err := spec.Reserve(context.Background(), spec.ParseBudgetBytes)
	if err != nil {
		t.Fatal(err)
	}
	src := &enteringTree{tree, make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := reconcile.NewLoader().Load(ctx, src, "c1", "", reconcile.Scope{})
		done <- err
	}()
	<-src.entered // past the tree: the next step is reading the file
	cancel()
	err = <-done
	release()
	if !errors.Is(err, context.Canceled) || tree.reads != 0 {
		t.Fatalf("load with the budget taken: %v after %d blob reads; want it to wait, reading none", err, tree.reads)
	}
	d, err := reconcile.NewLoader().Load(context.Background(), tree, "c1", "", reconcile.Scope{})
	if err != nil || tree.reads != 1 || !d.Files[spec.Key{Kind: "Namespace", Project: "default", Name: "a"}].Valid() {
		t.Fatalf("load with the budget back: %v, %d reads, %+v", err, tree.reads, d)
	}
}
