package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lineDiff returns the lines of b that are not at the same place in a
// (files of equal line count) or fails the test.
func changedLines(t *testing.T, a, b []byte) []string {
	t.Helper()
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	if len(al) != len(bl) {
		t.Fatalf("line count changed: %d → %d\n%s", len(al), len(bl), b)
	}
	var out []string
	for i := range al {
		if al[i] != bl[i] {
			out = append(out, bl[i])
		}
	}
	return out
}

func TestEditFileKeepsUnchangedFilesAndLines(t *testing.T) {
	files, err := filepath.Glob("../../../shared/testdata/rafay-specs/*/syncrepo-*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("test data missing: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		if strings.Contains(f, "ARTIFACT") {
			continue
		}
		data, _ := os.ReadFile(f)
		rs, probs := Parse(f, data)
		if len(probs) > 0 || len(rs) != 1 {
			t.Fatalf("%s: %v", f, probs)
		}
		obj := Canonical(rs[0].Object)
		same, err := EditFile(data, obj)
		if err != nil || string(same) != string(data) {
			t.Fatalf("%s: an unchanged resource was rewritten", filepath.Base(f))
		}
		// Change metadata.name's neighbour: the project (present in every syncrepo spec but the Project).
		changed := Canonical(rs[0].Object)
		meta := changed["metadata"].(map[string]any)
		field, newLine := "project", "  project: changed-project"
		if _, ok := meta["project"]; !ok {
			field, newLine = "description", "  description: changed description"
		}
		meta[field] = strings.TrimPrefix(strings.SplitN(newLine, ": ", 2)[1], "")
		out, err := EditFile(data, changed)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f, "syncrepo-eks-cluster") {
			// Its folded plain scalar is re-flowed by yaml.v3 on any edit (see EditFile).
			continue
		}
		lines := changedLines(t, data, out)
		if len(lines) != 1 || lines[0] != newLine {
			t.Fatalf("%s: changed lines %q, want only %q", filepath.Base(f), lines, newLine)
		}
		back, probs := Parse(f, out)
		if len(probs) > 0 || !Equal(back[0].Object, changed) {
			t.Fatalf("%s: the edited file does not hold the new object: %v", filepath.Base(f), probs)
		}
	}
}

func TestEditFileKeepsComments(t *testing.T) {
	data, err := os.ReadFile("../../../shared/testdata/rafay-specs/cluster/getstarted-gpu-aks-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := Parse("aks.yaml", data)
	obj := Canonical(rs[0].Object)
	pool := obj["spec"].(map[string]any)["config"].(map[string]any)["spec"].(map[string]any)["nodePools"].([]any)[0].(map[string]any)
	pool["properties"].(map[string]any)["count"] = int64(3)
	out, err := EditFile(data, obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(out), "#"); got != strings.Count(string(data), "#") {
		t.Fatalf("comments lost: %d of %d", got, strings.Count(string(data), "#"))
	}
	if !strings.Contains(string(out), "          count: 3") || strings.Contains(string(out), "count: 1\n") {
		t.Fatalf("count not changed:\n%s", out)
	}
}

func TestEditFileAddsRemovesAndResizes(t *testing.T) {
	orig := []byte(`apiVersion: infra.k8smgmt.io/v3
kind: Namespace
metadata:
  name: ns
  project: p
spec:
  # who may use it
  owners:
  - alice
  - bob
  quota: "10"
  removed: gone # with its comment
`)
	rs, _ := Parse("ns.yaml", orig)
	obj := Canonical(rs[0].Object)
	s := obj["spec"].(map[string]any)
	delete(s, "removed")
	s["owners"] = []any{"alice", "carol", "dave"}
	s["quota"] = "20"
	s["added"] = "new"
	out, err := EditFile(orig, obj)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: infra.k8smgmt.io/v3
kind: Namespace
metadata:
  name: ns
  project: p
spec:
  # who may use it
  owners:
  - alice
  - carol
  - dave
  quota: "20"
  added: new
`
	if string(out) != want {
		t.Fatalf("edited file:\n%s\nwant:\n%s", out, want)
	}
	if fresh, _ := EditFile(nil, obj); string(fresh) != string(mustRender(t, obj)) {
		t.Fatal("a new file is not written as Render writes it")
	}
}

func mustRender(t *testing.T, obj map[string]any) []byte {
	t.Helper()
	b, err := Render(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
