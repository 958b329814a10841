package spec

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// marshalCanonical is what AppendCanonicalJSON promises to equal.
func marshalCanonical(obj map[string]any) ([]byte, error) { return json.Marshal(Canonical(obj)) }

func checkCanonicalJSON(t *testing.T, name string, obj map[string]any) {
	t.Helper()
	want, wantErr := marshalCanonical(obj)
	got, err := AppendCanonicalJSON([]byte("prefix"), obj)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, json.Marshal(Canonical) gave %v", name, err, wantErr)
	}
	if err != nil {
		if string(got) != "prefix" {
			t.Fatalf("%s: on error dst is %q, want it unchanged", name, got)
		}
		return
	}
	if string(got) != "prefix"+string(want) {
		t.Fatalf("%s:\n got %s\nwant prefix%s", name, got, want)
	}
}

func TestAppendCanonicalJSONMatchesMarshalOfCanonical(t *testing.T) {
	cases := map[string]map[string]any{
		"nil":         nil,
		"empty":       {},
		"status gone": {"kind": "Namespace", "status": map[string]any{"a": 1}},
		"server metadata gone": {"metadata": map[string]any{"name": "a", "resourceVersion": "3", "createdAt": "x",
			"modifiedAt": "y", "id": "z", "labels": map[string]any{}, "annotations": nil}},
		"typed nil labels":        {"metadata": map[string]any{"labels": map[string]any(nil), "annotations": []any{}}},
		"labels kept":             {"metadata": map[string]any{"labels": map[string]any{"a": "b"}, "annotations": "text"}},
		"metadata not a map":      {"metadata": "text"},
		"metadata typed nil":      {"metadata": map[string]any(nil)},
		"metadata nil":            {"metadata": nil},
		"metadata other map":      {"metadata": map[string]string{"name": "a"}},
		"nested status kept":      {"spec": map[string]any{"status": "x", "resourceVersion": 1}},
		"alt group":               {"apiVersion": "infra.k8smgmt.io/v3", "kind": "InfraProvisioner"},
		"primary group":           {"apiVersion": "gitops.k8smgmt.io/v3", "kind": "InfraProvisioner"},
		"v2 kept":                 {"apiVersion": "infra.k8smgmt.io/v2", "kind": "InfraProvisioner"},
		"unknown kind":            {"apiVersion": "infra.k8smgmt.io/v3", "kind": "Gadget"},
		"kind not a string":       {"apiVersion": "infra.k8smgmt.io/v3", "kind": 3},
		"apiVersion not string":   {"apiVersion": 3.0, "kind": "Project"},
		"no slash":                {"apiVersion": "v3", "kind": "Project"},
		"integral floats":         {"spec": map[string]any{"a": 1.0, "b": -0.0, "c": 9007199254740992.0, "d": 9007199254740994.0, "e": 1e21, "f": 1e20, "g": -3.0}},
		"fractions":               {"spec": map[string]any{"a": 0.5, "b": 1e-7, "c": 1e-6, "d": 123456.789, "e": -2.5e-10, "f": 5e-324, "g": math.MaxFloat64}},
		"ints":                    {"spec": []any{int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64)}},
		"other number types":      {"spec": map[string]any{"a": 3, "b": json.Number("4"), "c": float32(1.5), "d": uint8(7)}},
		"time":                    {"spec": map[string]any{"t": time.Date(2022, 7, 1, 0, 0, 0, 0, time.UTC)}},
		"nan":                     {"spec": map[string]any{"a": math.NaN()}},
		"inf":                     {"spec": []any{math.Inf(-1)}},
		"nan in metadata":         {"metadata": map[string]any{"x": math.Inf(1)}},
		"strings":                 {"spec": map[string]any{"html": "<a href='x'>&amp;</a>", "ctl": "a\x00b\x01\x1f\b\f\n\r\t\"\\", "bad": "ok\xffno\xc3", "sep": "line\u2028para\u2029", "uni": "héllo 世界 🎉", "del": "\x7f"}},
		"keys escaped and sorted": {"spec": map[string]any{"b<": 1, "a&": 2, "Z": 3, "é": 4, "": 5, "a\xff": 6, "a\u2028": 7}},
		"typed nils":              {"spec": map[string]any{"m": map[string]any(nil), "l": []any(nil), "n": nil}},
		"deep":                    {"spec": map[string]any{"a": []any{map[string]any{"b": []any{[]any{}, map[string]any{}, true, false}}}}},
		"unknown top level":       {"zeta": 1, "alpha": []any{"x"}, "kind": "Project"},
		"bytes":                   {"spec": map[string]any{"b": []byte("hi")}},
		"many keys":               manyKeys(40),
	}
	for name, obj := range cases {
		checkCanonicalJSON(t, name, obj)
	}
}

func manyKeys(n int) map[string]any {
	m := map[string]any{}
	md := map[string]any{}
	for i := 0; i < n; i++ {
		m[string(rune('a'+i%26))+string(rune('A'+i))] = int64(i)
		md[string(rune('A'+i))+"k"] = "v"
	}
	m["metadata"] = md
	return m
}

func TestAppendCanonicalJSONOfParsedFiles(t *testing.T) {
	files := spectest.Generate(2000, 7)
	for _, rel := range realFiles(t) {
		data, err := os.ReadFile(filepath.Join(testdataRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, spectest.File{Path: rel, Data: data})
	}
	n := 0
	for _, f := range files {
		rs, _ := Parse(f.Path, f.Data)
		for _, r := range rs {
			checkCanonicalJSON(t, f.Path, r.Object)
			if _, direct := appendCanonicalObject(nil, r.Object); !direct {
				t.Errorf("%s: not written directly", f.Path)
			}
			n++
		}
	}
	if n < 2000 {
		t.Fatalf("checked %d resources", n)
	}
}

// TestAppendCanonicalJSONRandom compares random trees of every value kind.
func TestAppendCanonicalJSONRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "a", "metadata", "labels", "annotations", "status", "resourceVersion", "apiVersion", "kind", "Project",
		"infra.k8smgmt.io/v3", "<&>", "\u2028", "\xff", "x\ny", "名前", "id", "spec"}
	floats := []float64{0, -0.0, 1, 1.5, -7, 1e21, 1e-7, 2.5e-300, 1 << 53, 1<<53 + 2, 123.456, math.Pi}
	var value func(depth int) any
	value = func(depth int) any {
		switch n := rng.IntN(10); {
		case n == 0:
			return nil
		case n == 1:
			return rng.IntN(2) == 0
		case n == 2:
			return rng.Int64() - rng.Int64()
		case n == 3:
			return floats[rng.IntN(len(floats))]
		case n <= 5 || depth > 4:
			return strs[rng.IntN(len(strs))]
		case n <= 7:
			m := map[string]any{}
			for i := rng.IntN(10); i > 0; i-- {
				m[strs[rng.IntN(len(strs))]] = value(depth + 1)
			}
			return m
		default:
			l := make([]any, rng.IntN(5))
			for i := range l {
				l[i] = value(depth + 1)
			}
			return l
		}
	}
	for i := 0; i < 3000; i++ {
		obj := map[string]any{}
		for j := rng.IntN(8); j > 0; j-- {
			obj[strs[rng.IntN(len(strs))]] = value(0)
		}
		if rng.IntN(2) == 0 {
			md := map[string]any{}
			for j := rng.IntN(8); j > 0; j-- {
				md[strs[rng.IntN(len(strs))]] = value(1)
			}
			obj["metadata"] = md
		}
		checkCanonicalJSON(t, "random", obj)
	}
}

func BenchmarkCanonicalJSON(b *testing.B) {
	files, _ := benchCorpus()
	var objs []map[string]any
	for _, f := range files[:1000] {
		rs, _ := Parse(f.Path, f.Data)
		objs = append(objs, rs[0].Object)
	}
	b.Run("Marshal(Canonical)", func(b *testing.B) {
		for range b.N {
			for _, o := range objs {
				if _, err := marshalCanonical(o); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("AppendCanonicalJSON", func(b *testing.B) {
		var buf []byte
		for range b.N {
			for _, o := range objs {
				var err error
				if buf, err = AppendCanonicalJSON(buf[:0], o); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
