package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree writes files (slash paths → content) under a temporary root.
func writeTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestValidateTreeRealRepository rebuilds the real gke-system-sync
// repository from SOURCES.txt and checks it as `app validate` would.
func TestValidateTreeRealRepository(t *testing.T) {
	files := map[string][]byte{}
	for _, s := range readSources(t) {
		if strings.HasPrefix(filepath.Base(s.file), "syncrepo-") {
			if s.repo != "github.com/rafay-presales/gke-system-sync" {
				t.Fatalf("%s comes from %s", s.file, s.repo)
			}
			files[s.path] = readReal(t, s.file)
		}
	}
	if len(files) < 20 {
		t.Fatalf("only %d syncrepo files", len(files))
	}
	files["README.md"] = []byte("# gke-system-sync\n")
	files["projects/shared-infra-team/.gitkeep"] = nil
	root := writeTree(t, files)

	rep, err := ValidateTree(root)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem := Problem{
		File:  "projects/shared-infra-team/clusters/shared-infra-team-gke-73-demo.yaml",
		Line:  53,
		Field: "spec.type",
	}
	if len(rep.Problems) != 1 {
		t.Fatalf("got %d problems, want only the GKE cluster's:\n%v", len(rep.Problems), rep.Problems)
	}
	got := rep.Problems[0]
	if got.File != wantProblem.File || got.Line != wantProblem.Line || got.Field != wantProblem.Field ||
		!strings.Contains(got.Message, "only EKS (aws-eks) and AKS (aks) clusters sync") {
		t.Errorf("problem %v, want %s:%d: %s", got, wantProblem.File, wantProblem.Line, wantProblem.Field)
	}
	wantArtifacts := []string{
		"projects/shared-infra-team/overrides/ingress-nginx-lb-ip/ingress-nginx-lb-ip.yaml",
		"projects/shared-infra-team/repositories/artifacts/gke-system-sync/sealed-secret.yaml",
	}
	if !reflect.DeepEqual(rep.Artifacts, wantArtifacts) {
		t.Errorf("artifacts %v, want %v", rep.Artifacts, wantArtifacts)
	}
	specs := len(files) - len(wantArtifacts) - 2 // README and .gitkeep are not specs
	if rep.Specs != specs || len(rep.Resources) != specs-1 {
		t.Errorf("Specs = %d, Resources = %d; want %d and %d", rep.Specs, len(rep.Resources), specs, specs-1)
	}
	for _, r := range rep.Resources {
		if want := PathFor(r.Key()); want != r.File {
			t.Errorf("resource %v read from %s, its path is %s", r.Key(), r.File, want)
		}
	}
}

const treeNamespace = `apiVersion: infra.k8smgmt.io/v3
kind: Namespace
metadata:
  name: NAME
spec:
  resourceQuotas: {}
`

func namespaceFile(name string) []byte {
	return []byte(strings.ReplaceAll(treeNamespace, "NAME", name))
}

func TestValidateTreeFillsProjectFromPath(t *testing.T) {
	root := writeTree(t, map[string][]byte{"projects/p/namespaces/a.yaml": namespaceFile("a")})
	rep, err := ValidateTree(root)
	if err != nil || len(rep.Problems) > 0 || len(rep.Resources) != 1 {
		t.Fatalf("%v %v %d", err, rep.Problems, len(rep.Resources))
	}
	if got := rep.Resources[0].Key(); got != (Key{Kind: "Namespace", Project: "p", Name: "a"}) {
		t.Errorf("key %v", got)
	}
}

func TestValidateTreeDuplicateKey(t *testing.T) {
	root := writeTree(t, map[string][]byte{
		"projects/p/namespaces/a.yaml": namespaceFile("a"),
		"projects/p/namespaces/b.yaml": namespaceFile("a"),
	})
	rep, err := ValidateTree(root)
	if err != nil {
		t.Fatal(err)
	}
	var dups []Problem
	for _, p := range rep.Problems {
		if strings.Contains(p.Message, "more than one file") {
			dups = append(dups, p)
		}
	}
	if len(dups) != 2 || dups[0].File != "projects/p/namespaces/a.yaml" || dups[1].File != "projects/p/namespaces/b.yaml" {
		t.Fatalf("duplicate problems %v, want one on each file", rep.Problems)
	}
	for _, p := range dups {
		if p.Line != 4 || p.Field != "metadata.name" || !strings.Contains(p.Message, "Namespace/p/a") {
			t.Errorf("problem %v, want line 4, metadata.name, naming Namespace/p/a", p)
		}
	}
	if !strings.Contains(dups[0].Message, "also in projects/p/namespaces/b.yaml") {
		t.Errorf("problem %v does not name the other file", dups[0])
	}
	if len(rep.Resources) != 0 {
		t.Errorf("duplicated resources kept: %d", len(rep.Resources))
	}
}

func TestValidateTreeOversizedFile(t *testing.T) {
	big := append(namespaceFile("big"), []byte("# "+strings.Repeat("x", MaxResourceBytes)+"\n")...)
	root := writeTree(t, map[string][]byte{
		"projects/p/namespaces/big.yaml": big,
		"projects/p/namespaces/ok.yaml":  namespaceFile("ok"),
	})
	rep, err := ValidateTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].File != "projects/p/namespaces/big.yaml" || !strings.Contains(rep.Problems[0].Message, "over the limit of 4194304 bytes (4 MiB) for one resource") {
		t.Fatalf("problems %v, want the oversized file", rep.Problems)
	}
	if rep.Specs != 2 || len(rep.Resources) != 1 || rep.Resources[0].Name() != "ok" {
		t.Errorf("specs %d resources %d: the other file must still be checked", rep.Specs, len(rep.Resources))
	}
}

func TestValidateTreeBinaryFile(t *testing.T) {
	bin := append([]byte("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\n"), 0, 1, 2)
	root := writeTree(t, map[string][]byte{
		"projects/p/namespaces/bin.yaml":            bin,
		"projects/p/namespaces/bin/chart-1.0.0.tgz": {0x1f, 0x8b, 0, 0}, // a binary artifact is fine
	})
	rep, err := ValidateTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 {
		t.Fatalf("problems %v, want the binary spec only", rep.Problems)
	}
	p := rep.Problems[0]
	if p.File != "projects/p/namespaces/bin.yaml" || p.Line != 3 || !strings.Contains(p.Message, "binary file") {
		t.Errorf("problem %v", p)
	}
	if !reflect.DeepEqual(rep.Artifacts, []string{"projects/p/namespaces/bin/chart-1.0.0.tgz"}) {
		t.Errorf("artifacts %v", rep.Artifacts)
	}
}

func TestValidateTreeSymlink(t *testing.T) {
	root := writeTree(t, map[string][]byte{"projects/p/namespaces/real.yaml": namespaceFile("real")})
	link := filepath.Join(root, "projects", "p", "namespaces", "link.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatalf("create symlink: %v", err)
	}
	rep, err := ValidateTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].File != "projects/p/namespaces/link.yaml" || !strings.Contains(rep.Problems[0].Message, "symbolic link") {
		t.Fatalf("problems %v, want the symlink", rep.Problems)
	}
	if len(rep.Resources) != 1 || rep.Resources[0].Name() != "real" {
		t.Errorf("resources %d", len(rep.Resources))
	}
}

func TestValidateTreeFileRules(t *testing.T) {
	twoDocs := append(append(namespaceFile("two"), []byte("---\n")...), namespaceFile("two")...)
	tmpl := []byte("{{ $c := . }}\napiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: {{ $c.name }}\n")
	root := writeTree(t, map[string][]byte{
		"projects/p/namespaces/two.yaml":      twoDocs,
		"projects/p/namespaces/empty.yaml":    []byte("# nothing yet\n"),
		"projects/p/namespaces/tmpl.yaml":     tmpl,
		"projects/p/namespaces/broken.yaml":   []byte("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: broken\n   project: p\n"),
		"projects/p/namespaces/secret.yaml":   []byte(strings.ReplaceAll(treeNamespace, "NAME", "secret") + "  apiKey: abc123\n"),
		"projects/p/namespaces/escape.yaml":   []byte(strings.ReplaceAll(treeNamespace, "NAME", "escape") + "  values: file://../../other/x.yaml\n"),
		"projects/p/notakind/whatever.yaml":   []byte("not: checked\n"),
		"docs/notes.yaml":                     []byte(": not yaml at all ::\n"),
		"projects/p/namespaces/x/values.yaml": []byte("any: thing\n"),
	})
	rep, err := ValidateTree(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		file  string
		line  int
		field string
		msg   string
	}{
		{"projects/p/namespaces/broken.yaml", 5, "", "invalid YAML"},
		{"projects/p/namespaces/empty.yaml", 1, "", "exactly one resource"},
		{"projects/p/namespaces/escape.yaml", 7, "spec.values", "escapes the spec's folder"},
		{"projects/p/namespaces/secret.yaml", 7, "spec.apiKey", "SecretSealer"},
		{"projects/p/namespaces/two.yaml", 8, "", "exactly one resource, found 2"},
	}
	if len(rep.Problems) != len(want) {
		t.Fatalf("got problems\n%v\nwant %d", rep.Problems, len(want))
	}
	for i, w := range want {
		p := rep.Problems[i]
		if p.File != w.file || p.Line != w.line || p.Field != w.field || !strings.Contains(p.Message, w.msg) {
			t.Errorf("problem %d: %v, want %s:%d: %s: …%s…", i, p, w.file, w.line, w.field, w.msg)
		}
	}
	if rep.Specs != 5 {
		t.Errorf("Specs = %d, want 5 (the template is skipped)", rep.Specs)
	}
	if !reflect.DeepEqual(rep.Artifacts, []string{"projects/p/namespaces/x/values.yaml"}) {
		t.Errorf("artifacts %v", rep.Artifacts)
	}
}

func TestValidateTreeMissingRoot(t *testing.T) {
	if _, err := ValidateTree(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("no error for a missing root")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o644)
	if _, err := ValidateTree(f); err == nil {
		t.Error("no error for a file as root")
	}
}
