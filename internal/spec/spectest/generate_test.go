package spectest

import (
	"bytes"
	"testing"

	"github.com/systemsync/systemsync/internal/spec"
)

// TestGenerateValid checks what a benchmark relies on: every generated file
// sits at a spec path, parses to exactly one resource that validates with
// the context its path implies, holds no secret, and is 20–100 lines.
func TestGenerateValid(t *testing.T) {
	files := Generate(3000, 7)
	if len(files) != 3000 {
		t.Fatalf("got %d files, want 3000", len(files))
	}
	paths := map[string]bool{}
	kinds := map[string]int{}
	clusterTypes := map[string]int{}
	for _, f := range files {
		if paths[f.Path] {
			t.Fatalf("duplicate path %s", f.Path)
		}
		paths[f.Path] = true
		info := spec.ClassifyPath(f.Path)
		if info.Type != spec.PathSpec && info.Type != spec.PathProject {
			t.Fatalf("%s: classified as %v, want a spec path", f.Path, info.Type)
		}
		lines := bytes.Count(f.Data, []byte("\n"))
		if lines < 20 || lines > 100 {
			t.Errorf("%s: %d lines, want 20–100", f.Path, lines)
		}
		rs, probs := spec.Parse(f.Path, f.Data)
		if len(probs) > 0 || len(rs) != 1 {
			t.Fatalf("%s: %d resources, problems %v\n%s", f.Path, len(rs), probs, f.Data)
		}
		r := rs[0]
		ctx := spec.Context{File: f.Path, Kind: info.Key.Kind, Project: info.Key.Project, Name: info.Key.Name}
		if ps := spec.Validate(r, ctx); len(ps) > 0 {
			t.Fatalf("%s: %v\n%s", f.Path, ps, f.Data)
		}
		if ps := spec.Secrets(r); len(ps) > 0 {
			t.Fatalf("%s: secrets %v", f.Path, ps)
		}
		if r.Key() != info.Key {
			t.Fatalf("%s: key %v, path implies %v", f.Path, r.Key(), info.Key)
		}
		kinds[r.KindName()]++
		if r.KindName() == "Cluster" {
			clusterTypes[r.Object["spec"].(map[string]any)["type"].(string)]++
		}
	}
	for _, k := range []string{"Project", "Cluster", "Namespace", "Addon", "Blueprint", "Workload", "Repository", "Pipeline", "Override"} {
		if kinds[k] == 0 {
			t.Errorf("no %s generated: %v", k, kinds)
		}
	}
	if clusterTypes["aws-eks"] == 0 || clusterTypes["aks"] == 0 {
		t.Errorf("cluster types %v, want both aws-eks and aks", clusterTypes)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b, c := Generate(200, 1), Generate(200, 1), Generate(200, 2)
	same := true
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("file %d differs between two runs with seed 1", i)
		}
		if a[i].Path != c[i].Path || !bytes.Equal(a[i].Data, c[i].Data) {
			same = false
		}
	}
	if same {
		t.Error("seeds 1 and 2 generate the same files")
	}
	if got := Generate(0, 1); len(got) != 0 {
		t.Errorf("Generate(0) = %d files", len(got))
	}
	if got := Generate(1, 1); len(got) != 1 || got[0].Path != "projects/shared-infra-team.yaml" {
		t.Errorf("Generate(1) = %v", got)
	}
}
