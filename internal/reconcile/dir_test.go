package reconcile_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// writeDir writes files (slash paths → content) under a temporary folder.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// loadDir reads a folder on disk with the loader, as `app validate` does.
func loadDir(t *testing.T, root string) *reconcile.Desired {
	t.Helper()
	d, err := reconcile.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	desired, err := reconcile.NewLoader().Load(context.Background(), d, "", "", reconcile.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	return desired
}

// realRepository lays out the files of the real gke-system-sync repository
// at the paths they have there (testdata/rafay-specs/SOURCES.txt).
func realRepository(t *testing.T) map[string]string {
	t.Helper()
	sources, err := os.ReadFile("../../testdata/rafay-specs/SOURCES.txt")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, line := range strings.Split(string(sources), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "syncrepo-") && !strings.Contains(f[0], "/syncrepo-") || f[2] != "github.com/rafay-presales/gke-system-sync" {
			continue
		}
		data, err := os.ReadFile("../../testdata/rafay-specs/" + f[0])
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(f[3], "path=")] = string(data)
	}
	if len(files) < 20 {
		t.Fatalf("only %d files of the real repository", len(files))
	}
	return files
}

// TestDirRealRepository checks the real gke-system-sync repository as it is
// on disk: every file is valid, the GKE cluster with a warning, and the
// artifacts are listed.
func TestDirRealRepository(t *testing.T) {
	files := realRepository(t)
	files["README.md"] = "# gke-system-sync\n"
	files["projects/shared-infra-team/.gitkeep"] = ""
	d := loadDir(t, writeDir(t, files))
	problems := d.Problems()
	gke := "projects/shared-infra-team/clusters/shared-infra-team-gke-73-demo.yaml"
	if len(problems) != 1 || problems[0].String() !=
		gke+`:53: warning: spec.type: cluster type "gke": only EKS (aws-eks) and AKS (aks) clusters sync from Git` {
		t.Fatalf("problems %v, want the GKE cluster's warning only", problems)
	}
	wantArtifacts := []string{
		"projects/shared-infra-team/overrides/ingress-nginx-lb-ip/ingress-nginx-lb-ip.yaml",
		"projects/shared-infra-team/repositories/artifacts/gke-system-sync/sealed-secret.yaml",
	}
	if !reflect.DeepEqual(d.Artifacts, wantArtifacts) {
		t.Errorf("artifacts %v, want %v", d.Artifacts, wantArtifacts)
	}
	specs := len(files) - len(wantArtifacts) - 2 // README and .gitkeep are not specs
	if len(d.Files) != specs || len(d.Other) != 0 || !d.Gitkeeps["shared-infra-team"] {
		t.Fatalf("%d files and %d others, want %d specs", len(d.Files), len(d.Other), specs)
	}
	for k, f := range d.Files {
		if !f.Valid() || spec.PathFor(k) != f.Path {
			t.Errorf("%s at %s: valid %v", k, f.Path, f.Valid())
		}
		if want := k.Kind == "Cluster" && k.Name == "shared-infra-team-gke-73-demo"; (f.Skip != "") != want {
			t.Errorf("%s: skip %q", k, f.Skip)
		}
	}
}

const dirNamespace = `apiVersion: infra.k8smgmt.io/v3
kind: Namespace
metadata:
  name: NAME
spec:
  resourceQuotas: {}
`

func dirNS(name string) string { return strings.ReplaceAll(dirNamespace, "NAME", name) }

// TestDirFileRules checks the rules a folder is read by, each file on its
// own: what a run reports for it, validate reports.
func TestDirFileRules(t *testing.T) {
	twoDocs := dirNS("two") + "---\n" + dirNS("two")
	tmpl := "{{ $c := . }}\napiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: {{ $c.name }}\n"
	root := writeDir(t, map[string]string{
		"projects/p/namespaces/a.yaml":           dirNS("a"),
		"projects/p/namespaces/b.yaml":           dirNS("a"), // names a resource that is a.yaml's
		"projects/p/namespaces/two.yaml":         twoDocs,
		"projects/p/namespaces/empty.yaml":       "# nothing yet\n",
		"projects/p/namespaces/tmpl.yaml":        tmpl,
		"projects/p/namespaces/broken.yaml":      "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: broken\n   project: p\n",
		"projects/p/namespaces/secret.yaml":      dirNS("secret") + "  apiKey: abc123\n",
		"projects/p/namespaces/escape.yaml":      dirNS("escape") + "  values: file://../../other/x.yaml\n",
		"projects/p/namespaces/bin.yaml":         "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\n\x00\x01",
		"projects/p/namespacess/typo.yaml":       dirNS("typo"),
		"projects/p/namespaces/x/values.yaml":    "any: thing\n",
		"projects/p/namespaces/x/chart-1.0.tgz":  "\x1f\x8b\x00\x00",
		"docs/notes.yaml":                        ": not yaml at all ::\n",
		"projects/p/repositories/local.yaml":     "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n  name: local\nspec:\n  endpoint: file:///srv/git/demo.git\n  type: Git\n",
		".git/objects/whatever":                  "not read",
		"projects/p/namespaces/.git/config.yaml": "not read either",
	})
	if err := os.Symlink("a.yaml", filepath.Join(root, "projects", "p", "namespaces", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	d := loadDir(t, root)
	want := []struct {
		file    string
		line    int
		field   string
		msg     string
		warning bool
	}{
		{"projects/p/namespaces/b.yaml", 4, "metadata.name", `name is "a", expected "b"`, false},
		{"projects/p/namespaces/bin.yaml", 3, "", "binary file", false},
		{"projects/p/namespaces/broken.yaml", 5, "", "invalid YAML", false},
		{"projects/p/namespaces/empty.yaml", 1, "", "exactly one", false},
		{"projects/p/namespaces/escape.yaml", 7, "spec.values", "escapes the spec's folder", true},
		{"projects/p/namespaces/link.yaml", 0, "", "symbolic link", false},
		{"projects/p/namespaces/secret.yaml", 7, "spec.apiKey", "SecretSealer", false},
		{"projects/p/namespaces/tmpl.yaml", 1, "", "Go template", false},
		{"projects/p/namespaces/two.yaml", 1, "", "holds 2 resources", false},
		{"projects/p/namespacess/typo.yaml", 1, "kind", `folder "namespacess" is not the folder of a kind that syncs: did you mean namespaces?`, false},
	}
	got := d.Problems()
	if len(got) != len(want) {
		t.Fatalf("got problems\n%v\nwant %d", got, len(want))
	}
	for i, w := range want {
		p := got[i]
		if p.File != w.file || p.Line != w.line || p.Field != w.field || !strings.Contains(p.Message, w.msg) || p.IsWarning() != w.warning {
			t.Errorf("problem %d: %v, want %s:%d: %s: …%s… (warning %v)", i, p, w.file, w.line, w.field, w.msg, w.warning)
		}
	}
	for _, valid := range []string{"a", "escape", "local"} {
		kind := "Namespace"
		if valid == "local" {
			kind = "Repository"
		}
		if f := d.Files[spec.Key{Kind: kind, Project: "p", Name: valid}]; f == nil || !f.Valid() {
			t.Errorf("%s: not valid: %+v", valid, f)
		}
	}
	if !reflect.DeepEqual(d.Artifacts, []string{"projects/p/namespaces/x/chart-1.0.tgz", "projects/p/namespaces/x/values.yaml"}) {
		t.Errorf("artifacts %v", d.Artifacts)
	}
}

func TestDirRefusesAMissingFolder(t *testing.T) {
	if _, err := reconcile.NewDir(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("no error for a missing folder")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o644)
	if _, err := reconcile.NewDir(f); err == nil {
		t.Error("no error for a file")
	}
}

// TestCheckFile checks single files: at a layout path exactly as the loader
// does, elsewhere each document on its own.
func TestCheckFile(t *testing.T) {
	if p := reconcile.CheckFile("projects/p/namespaces/b.yaml", []byte(dirNS("a"))); len(p) != 1 || p[0].Field != "metadata.name" {
		t.Errorf("layout path: %v", p)
	}
	list := dirNS("a") + "---\n" + strings.Replace(dirNS("b"), "  name: b\n", "  name: b\n  project: p\n", 1) + "  password: hunter2\n"
	p := reconcile.CheckFile("some/where.yaml", []byte(list))
	if len(p) != 2 || p[0].String() != "some/where.yaml:3: metadata.project: required: the project this Namespace belongs to" ||
		p[1].File != "some/where.yaml" || p[1].Line != 15 || p[1].Field != "spec.password" {
		t.Errorf("documents: %v", p)
	}
	if p := reconcile.CheckFile("t.yaml", []byte("{{ .x }}\n")); len(p) != 0 {
		t.Errorf("template: %v", p)
	}
}
