package spec

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// testdataRoot holds real Rafay specs (see its SOURCES.txt).
const testdataRoot = "../../testdata/rafay-specs"

// source is one line of SOURCES.txt: a test file and where it really lives.
type source struct {
	file string // relative to testdataRoot
	repo string // github.com/owner/name
	path string // path in that repository
}

var sourceLine = regexp.MustCompile(`^(\S+) <= (\S+) path=(\S+)`)

func readSources(t *testing.T) []source {
	t.Helper()
	f, err := os.Open(filepath.Join(testdataRoot, "SOURCES.txt"))
	if err != nil {
		t.Fatalf("real specs missing: %v", err)
	}
	defer f.Close()
	var out []source
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := sourceLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, source{file: m[1], repo: m[2], path: m[3]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("SOURCES.txt lists %d files, expected the full set", len(out))
	}
	return out
}

// realFiles returns every .yaml file under testdataRoot, relative to it.
func realFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(testdataRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			rel, _ := filepath.Rel(testdataRoot, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("real specs missing: %v", err)
	}
	if len(files) < 60 {
		t.Fatalf("found %d real spec files, expected the full set", len(files))
	}
	return files
}

func readReal(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdataRoot, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// folderKind is the kind a testdata folder holds ("" for _other).
func folderKind(t *testing.T, folder string) string {
	if folder == "_other" {
		return ""
	}
	for _, k := range Kinds() {
		if strings.ToLower(k.Name) == folder {
			return k.Name
		}
	}
	t.Fatalf("folder %s names no kind", folder)
	return ""
}

// realContext is the Context a real file is checked with: the kind of its
// folder (its own kind in _other) and defaultproject when it has none.
func realContext(t *testing.T, rel string, r *Resource) Context {
	folder, _, _ := strings.Cut(rel, "/")
	c := Context{File: rel, Kind: folderKind(t, folder)}
	if c.Kind == "" {
		c.Kind = r.KindName()
	}
	if r.Project() == "" && c.Kind != "Project" {
		c.Project = "defaultproject"
	}
	return c
}

// wantRejected lists the real files that get a problem, with the one
// problem each gets: an error, but for the GKE cluster, which the system
// holds and a sync from Git skips.
var wantRejected = map[string]Problem{
	"repository/openapi-example-repository-WRONGKIND.yaml":   {Line: 2, Field: "kind", Message: "kind is SecretSealer, expected Repository"},
	"infraprovisioner/openapi-example-infraprovisioner.yaml": {Line: 10, Field: "kind", Message: "kind is Pipeline, expected InfraProvisioner"},
	"cluster/syncrepo-gke-cluster.yaml": {Line: 53, Field: "spec.type", Severity: SeverityWarning,
		Message: `cluster type "gke": only EKS (aws-eks) and AKS (aks) clusters sync from Git`},
	"addon/getstarted-kubevirt-cr-addonversion.yaml": {Line: 2, Field: "kind", Message: `unknown kind "AddonVersion"`},
	"agent/presales-system-sync-agent.yaml":          {Line: 4, Field: "metadata.name", Message: `"REPLACE" is not a valid name: use a DNS-1123 label`},
	"pipeline/presales-system-sync-pipeline.yaml":    {Line: 4, Field: "metadata.name", Message: `"REPLACE" is not a valid name: use a DNS-1123 label`},
	"repository/presales-system-sync-git-repo.yaml":  {Line: 7, Field: "metadata.name", Message: `"REPLACE" is not a valid name: use a DNS-1123 label`},
}

// TestRealFiles runs every real file through what the bot does with it.
func TestRealFiles(t *testing.T) {
	seenRejected := map[string]bool{}
	var templates, legacy, valid int
	for _, rel := range realFiles(t) {
		data := readReal(t, rel)
		base := filepath.Base(rel)
		isTemplate := strings.HasSuffix(base, ".TEMPLATE.yaml")
		if got := IsTemplate(data); got != isTemplate {
			t.Errorf("%s: IsTemplate = %v, want %v", rel, got, isTemplate)
		}
		if isTemplate {
			templates++
			continue
		}
		if strings.Contains(base, "ARTIFACT") {
			continue // TestRealArtifacts
		}
		rs, probs := Parse(rel, data)
		if len(probs) > 0 || len(rs) == 0 {
			t.Errorf("%s: Parse gave %d resources and %v", rel, len(rs), probs)
			continue
		}
		for _, r := range rs {
			if _, has := r.Object["status"]; has {
				t.Errorf("%s: status not dropped", rel)
			}
			vp := Validate(r, realContext(t, rel, r))
			switch want, rejected := wantRejected[rel]; {
			case strings.Contains(base, "LEGACY"):
				if len(vp) != 1 || vp[0].Field != "apiVersion" || !strings.Contains(vp[0].Message, "v2 specs are not synced") {
					t.Errorf("%s (%s): got %v, want one problem saying v2 specs are not synced", rel, r.KindName(), vp)
				}
				legacy++
			case rejected:
				seenRejected[rel] = true
				if len(vp) != 1 {
					t.Errorf("%s: got %d problems %v, want exactly one", rel, len(vp), vp)
					continue
				}
				p := vp[0]
				if p.File != rel || p.Line != want.Line || p.Field != want.Field || !strings.Contains(p.Message, want.Message) || p.Severity != want.Severity {
					t.Errorf("%s: got %v, want %s:%d: %s: …%s…", rel, p, rel, want.Line, want.Field, want.Message)
				}
			default:
				if len(vp) > 0 {
					t.Errorf("%s: valid file rejected: %v", rel, vp)
				}
				if sp := Secrets(r); len(sp) > 0 {
					t.Errorf("%s: secret false positive: %v", rel, sp)
				}
				valid++
			}
		}
	}
	for rel := range wantRejected {
		if !seenRejected[rel] {
			t.Errorf("%s: not found among the real files", rel)
		}
	}
	if templates != 3 || legacy != 5 {
		t.Errorf("saw %d templates and %d legacy documents, want 3 and 5", templates, legacy)
	}
	if valid < 50 {
		t.Errorf("only %d real resources validated", valid)
	}
}

func TestRealUnknownKindListsKinds(t *testing.T) {
	rel := "addon/getstarted-kubevirt-cr-addonversion.yaml"
	rs, _ := Parse(rel, readReal(t, rel))
	vp := Validate(rs[0], Context{Kind: "Addon"})
	if len(vp) != 1 || !strings.Contains(vp[0].Message, "only v3 kinds sync: Project, Cluster,") || !strings.Contains(vp[0].Message, "did you mean Addon?") {
		t.Errorf("got %v", vp)
	}
}

func TestRealClusterList(t *testing.T) {
	rel := "cluster/openapi-example-clusterlist-with-status.yaml"
	rs, probs := Parse(rel, readReal(t, rel))
	if len(probs) > 0 || len(rs) != 2 {
		t.Fatalf("got %d resources, %v; want the 2 clusters of the list", len(rs), probs)
	}
	for i, wantLine := range []int{8, 107} {
		r := rs[i]
		if r.Key() != (Key{Kind: "Cluster", Project: "defaultproject", Name: "example-cluster"}) || r.Line != wantLine || r.File != rel {
			t.Errorf("item %d: key %v line %d file %s", i, r.Key(), r.Line, r.File)
		}
		if _, has := r.Object["status"]; has {
			t.Errorf("item %d: status not dropped", i)
		}
		if got := r.LineOf("spec.config.spec.nodePools[0].name"); got != wantLine+40 {
			t.Errorf("item %d: nodePools[0].name on line %d, want %d", i, got, wantLine+40)
		}
		// A date-like apiVersion stays the string it is in the file.
		mc := r.Object["spec"].(map[string]any)["config"].(map[string]any)["spec"].(map[string]any)["managedCluster"].(map[string]any)
		if mc["apiVersion"] != "2022-07-01" {
			t.Errorf("item %d: managedCluster.apiVersion = %#v", i, mc["apiVersion"])
		}
	}
}

func TestRealSealedRepository(t *testing.T) {
	rel := "repository/syncrepo-git-repo-with-sealed-credentials.yaml"
	rs, _ := Parse(rel, readReal(t, rel))
	if len(rs) != 1 {
		t.Fatal("want one resource")
	}
	if sp := Secrets(rs[0]); len(sp) != 0 {
		t.Errorf("sealed repository flagged: %v", sp)
	}
	cred := rs[0].Object["spec"].(map[string]any)["credentials"].(map[string]any)
	if cred["password"] != "sealed://credentials.password" {
		t.Fatalf("unexpected file content: %v", cred)
	}
}

// artifactOf names, for each real artifact, the real spec that references it.
var artifactOf = map[string]string{
	"repository/syncrepo-git-repo.SEALED-SECRET-ARTIFACT.yaml":                  "repository/syncrepo-git-repo-with-sealed-credentials.yaml",
	"override/syncrepo-ingress-nginx-lb-ip-override.VALUES-ARTIFACT.yaml":       "override/syncrepo-ingress-nginx-lb-ip-override.yaml",
	"opaconstraint/getstarted-allowedrepos-constraint-ARTIFACT-gatekeeper.yaml": "opaconstraint/getstarted-allowedrepos-constraint.yaml",
	"opaconstrainttemplate/getstarted-allowedrepos-ct-ARTIFACT-gatekeeper.yaml": "opaconstrainttemplate/getstarted-allowedrepos-ct.yaml",
}

// TestRealArtifacts places each artifact and the spec that references it at
// their real paths: the spec's file:// reference resolves to exactly the
// artifact, and inside a System Sync layout the path classifies as an artifact.
func TestRealArtifacts(t *testing.T) {
	srcs := map[string]source{}
	for _, s := range readSources(t) {
		srcs[s.file] = s
	}
	seen := 0
	for _, rel := range realFiles(t) {
		if !strings.Contains(rel, "ARTIFACT") {
			continue
		}
		seen++
		specRel, ok := artifactOf[rel]
		if !ok {
			t.Errorf("%s: no referencing spec known", rel)
			continue
		}
		art, spec := srcs[rel], srcs[specRel]
		if art.path == "" || spec.path == "" || art.repo != spec.repo {
			t.Errorf("%s: sources %+v / %+v", rel, art, spec)
			continue
		}
		rs, probs := Parse(specRel, readReal(t, specRel))
		if len(rs) != 1 || len(probs) > 0 {
			t.Fatalf("%s: %v", specRel, probs)
		}
		refs, rp := ArtifactRefs(rs[0], spec.path)
		if len(rp) > 0 || !reflect.DeepEqual(refs, []string{art.path}) {
			t.Errorf("%s at %s: ArtifactRefs = %v %v, want [%s]", specRel, spec.path, refs, rp, art.path)
		}
		if strings.HasPrefix(art.path, "projects/") {
			if got := ClassifyPath(art.path); got.Type != PathArtifact {
				t.Errorf("%s: ClassifyPath = %v, want artifact", art.path, got.Type)
			}
			if got := ClassifyPath(spec.path); got.Type != PathSpec || got.Key != rs[0].Key() {
				t.Errorf("%s: ClassifyPath = %+v, want the spec %v", spec.path, got, rs[0].Key())
			}
		}
	}
	if seen != len(artifactOf) {
		t.Errorf("saw %d artifact files, want %d", seen, len(artifactOf))
	}
}

// realObjects returns the objects of every resource the real spec files
// hold (files that do not parse give none).
func realObjects(t *testing.T) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, rel := range realFiles(t) {
		data, err := os.ReadFile(filepath.Join(testdataRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := Parse(rel, data)
		for _, r := range rs {
			objs = append(objs, r.Object)
		}
	}
	return objs
}

// TestRealFieldsMayBeLeftOutOrEmpty takes every valid real resource and,
// one field of its spec (or metadata, but its name and project) at a time,
// leaves the field out or empties it ({}, [], "", false, 0, null), as
// Rafay's exporter does with a field it has no value for: never an error.
func TestRealFieldsMayBeLeftOutOrEmpty(t *testing.T) {
	tried := 0
	for _, rel := range realFiles(t) {
		if _, rejected := wantRejected[rel]; rejected || strings.Contains(rel, "LEGACY") || strings.Contains(rel, "ARTIFACT") ||
			strings.Contains(rel, "TEMPLATE") {
			continue
		}
		rs, _ := Parse(rel, readReal(t, rel))
		for _, r := range rs {
			c := realContext(t, rel, r)
			var paths [][]any // each a path of keys and indexes from the object
			var walk func(v any, p []any)
			walk = func(v any, p []any) {
				if len(p) > 1 {
					paths = append(paths, append([]any(nil), p...))
				}
				switch x := v.(type) {
				case map[string]any:
					for k, e := range x {
						walk(e, append(p, k))
					}
				case []any:
					for i, e := range x {
						walk(e, append(p, i))
					}
				}
			}
			walk(r.Object["spec"], []any{"spec"})
			for k := range mapAt(r.Object, "metadata") {
				if k != "name" && k != "project" {
					paths = append(paths, []any{"metadata", k})
				}
			}
			for _, p := range paths {
				for _, how := range []string{"leave out", "empty"} {
					obj := Normalize(r.Object).(map[string]any) // a deep copy
					edit(obj, p, how)
					tried++
					if ps := Validate(&Resource{Object: obj, File: rel}, c); HasErrors(ps) {
						t.Errorf("%s: %s %v: %v", rel, how, p, Errors(ps))
					}
				}
			}
		}
	}
	if tried < 2000 {
		t.Fatalf("only %d edits tried", tried)
	}
}

// edit leaves out (how "leave out") or empties the field at path p of obj.
func edit(obj map[string]any, p []any, how string) {
	var parent any = obj
	for _, s := range p[:len(p)-1] {
		switch x := parent.(type) {
		case map[string]any:
			parent = x[s.(string)]
		case []any:
			parent = x[s.(int)]
		}
	}
	empty := func(v any) any {
		switch v.(type) {
		case map[string]any:
			return map[string]any{}
		case []any:
			return []any{}
		case string:
			return ""
		case bool:
			return false
		case int64, float64:
			return int64(0)
		}
		return nil
	}
	switch x := parent.(type) {
	case map[string]any:
		k := p[len(p)-1].(string)
		if how == "leave out" {
			delete(x, k)
		} else {
			x[k] = empty(x[k])
		}
	case []any:
		// An item is emptied in place ({} for a mapping, as in Rafay's
		// agents: [{}]); one left out is the list without its last item.
		i := p[len(p)-1].(int)
		if how == "leave out" {
			setAt(obj, p[:len(p)-1], x[:len(x)-1])
		} else {
			x[i] = empty(x[i])
		}
	}
}

// setAt sets the value at path p (non-empty) of obj to v.
func setAt(obj map[string]any, p []any, v any) {
	var parent any = obj
	for _, s := range p[:len(p)-1] {
		switch x := parent.(type) {
		case map[string]any:
			parent = x[s.(string)]
		case []any:
			parent = x[s.(int)]
		}
	}
	switch x := parent.(type) {
	case map[string]any:
		x[p[len(p)-1].(string)] = v
	case []any:
		x[p[len(p)-1].(int)] = v
	}
}
