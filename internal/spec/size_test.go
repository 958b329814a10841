package spec

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// TestSizeBoundIsAnUpperBound holds CheckSize's shortcut to its promise:
// the bound it finds without rendering is never below what Render writes.
func TestSizeBoundIsAnUpperBound(t *testing.T) {
	check := func(name string, obj map[string]any) {
		t.Helper()
		data, err := Render(obj)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := sizeBound(obj, 0); b < len(data) {
			t.Fatalf("%s: bound %d below the %d bytes Render writes:\n%s", name, b, len(data), data)
		}
	}
	for _, rel := range realFiles(t) {
		data, err := os.ReadFile(filepath.Join(testdataRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := Parse(rel, data)
		for i, r := range rs {
			check(fmt.Sprintf("%s resource %d", rel, i), r.Object)
		}
	}
	for _, f := range spectest.Generate(200, 3) {
		rs, _ := Parse(f.Path, f.Data)
		check(f.Path, rs[0].Object)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		check(fmt.Sprintf("random tree %d", i), map[string]any{"spec": randomValue(rng, 5)})
	}
	deep := map[string]any{}
	for d, m := 0, deep; d < 200; d++ {
		next := map[string]any{"k": []any{"x\ny", int64(1)}}
		m["a"] = next
		m = next
	}
	check("deep nesting", deep)
}

func labelled(n int, value string) map[string]any {
	labels := make(map[string]any, n)
	for i := range n {
		labels[fmt.Sprintf("label-%06d", i)] = fmt.Sprintf("%s-%06d", value, i)
	}
	return map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": "big", "project": "default", "labels": labels}, "spec": map[string]any{}}
}

// TestCheckSizeMeasuresTheYAMLGitHolds: a 3 MB Namespace is within the
// limit, and one whose YAML is just within it; one whose YAML is over 4 MiB
// is refused with the limit named, also when its compact JSON would be
// under the limit (deep nesting).
func TestCheckSizeMeasuresTheYAMLGitHolds(t *testing.T) {
	ok := labelled(100000, "value")
	if err := CheckSize(ok); err != nil {
		t.Fatalf("3 MB Namespace: %v", err)
	}
	// Labels whose values need quoting: the bound is over the limit, the
	// YAML is measured (long values: the labels that fill 4 MiB are well
	// within MaxNodes).
	quoted := func(n int) map[string]any { return labelled(n, "v: "+strings.Repeat("x", 64)) }
	data, _ := Render(quoted(1000))
	perLabel := (len(data) - 100) / 1000
	within := MaxResourceBytes/perLabel - 100
	if err := CheckSize(quoted(within)); err != nil {
		t.Fatalf("%d quoted labels: %v", within, err)
	}
	err := CheckSize(quoted(within + 200))
	var se *SizeError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "limit of 4194304 bytes (4 MiB) for one resource") {
		t.Fatalf("%d quoted labels: CheckSize = %v, want a SizeError naming the limit", within+200, err)
	}
	// Compact JSON of about 1.6 MB whose YAML indents each line by its depth.
	deep := map[string]any{}
	for d, m := 0, deep; d < 40; d++ {
		next := map[string]any{}
		m["n"] = next
		m = next
		if d == 39 {
			for i := range 26000 {
				next[fmt.Sprintf("k%05d", i)] = []any{int64(i)}
			}
		}
	}
	js, _ := AppendCanonicalJSON(nil, deep)
	if err := CheckSize(deep); !errors.As(err, &se) || len(js) >= MaxResourceBytes {
		t.Fatalf("deep resource (%d bytes of JSON): CheckSize = %v, want a SizeError", len(js), err)
	}
}
