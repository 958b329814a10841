package spec

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestRenderStyle pins the bytes of a new file, as Rafay's exporter writes
// them: 2-space indent, "- " at the key's indent, sorted keys, quoted
// look-alike strings, an integral float without its ".0".
func TestRenderStyle(t *testing.T) {
	obj := map[string]any{
		"kind":       "Namespace",
		"apiVersion": "infra.k8smgmt.io/v3",
		"metadata":   map[string]any{"name": "a", "labels": map[string]any{"b": "2", "a": "1"}},
		"spec": map[string]any{
			"list":    []any{"x", map[string]any{"k": int64(1), "b": true}, []any{"nested"}},
			"empty":   map[string]any{},
			"none":    nil,
			"version": "1.28",
			"ratio":   1.0,
			"half":    0.5,
			"text":    "line1\nline2\n",
			"date":    "2022-07-01",
			"yes":     "yes",
			"blank":   "",
			"colon":   "a: b",
			"count":   3, // an int, normalized on the way
		},
	}
	want := `apiVersion: infra.k8smgmt.io/v3
kind: Namespace
metadata:
  labels:
    a: "1"
    b: "2"
  name: a
spec:
  blank: ""
  colon: 'a: b'
  count: 3
  date: "2022-07-01"
  empty: {}
  half: 0.5
  list:
  - x
  - b: true
    k: 1
  - - nested
  none: null
  ratio: 1
  text: |
    line1
    line2
  version: "1.28"
  "yes": "yes"
`
	got, err := Render(obj)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	rs, probs := Parse("x.yaml", got)
	if len(probs) != 0 || len(rs) != 1 || !Equal(rs[0].Object, obj) {
		t.Errorf("does not read back: %v", probs)
	}
}

// TestRenderRoundTripStrings checks strings that other types look like.
func TestRenderRoundTripStrings(t *testing.T) {
	strs := []string{"true", "False", "null", "~", "", "yes", "off", "1", "-1", "0x1F", "1e3", ".inf", "1.28", "1:20",
		"2022-07-01", "2023-01-31 04:06:50+00:00", "<<", "# not a comment", "- not a list", "a: b", "{x}", "[x]", "*alias", "&anchor",
		"!tag", "%directive", "@at", "`tick", " leading", "trailing ", "line\nbreaks\n", "no final break\nx", "  indented\nblock",
		"tab\there", "quote\"s", "it's", "unicode é ✓", "trailing newlines\n\n\n", "\n", "back\\slash", "---", "...", "?", "|", ">"}
	obj := map[string]any{}
	for i, s := range strs {
		obj["k"+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = s
		obj[s] = i
	}
	obj["list"] = func() []any {
		l := make([]any, len(strs))
		for i, s := range strs {
			l[i] = s
		}
		return l
	}()
	roundTrip(t, Normalize(obj).(map[string]any))
}

func TestRenderRoundTripNumbers(t *testing.T) {
	obj := map[string]any{
		"i": int64(math.MaxInt64), "n": int64(math.MinInt64), "z": int64(0), "g": -2.5e-10, "h": 1e21,
		"big": 123456789012345678.0, "tiny": 5e-324, "max": math.MaxFloat64, "million": 1e6,
	}
	roundTrip(t, obj)
	// An integral float is written as Rafay writes it, and reads back as
	// the same number (Equal), an int.
	one, _ := Render(map[string]any{"f": 1.0})
	if rs, _ := Parse("f.yaml", one); string(one) != "f: 1\n" || !Equal(rs[0].Object, map[string]any{"f": 1.0}) {
		t.Errorf("1.0 renders as %q", one)
	}
	if !Equal(map[string]any{"nan": math.NaN()}, map[string]any{"nan": math.NaN()}) || Equal(map[string]any{"nan": 1.0}, map[string]any{"nan": math.NaN()}) {
		t.Error("NaN equality")
	}
}

// roundTrip asserts Parse(Render(obj)) deep-equals obj.
func roundTrip(t *testing.T, obj map[string]any) {
	t.Helper()
	out, err := Render(obj)
	if err != nil {
		t.Fatal(err)
	}
	rs, probs := Parse("f.yaml", out)
	if len(probs) != 0 || len(rs) != 1 {
		t.Fatalf("rendered YAML does not parse: %v\n%s", probs, out)
	}
	if !reflect.DeepEqual(rs[0].Object, obj) {
		for k, v := range obj {
			if !reflect.DeepEqual(rs[0].Object[k], v) {
				t.Errorf("%q: %#v came back as %#v", k, v, rs[0].Object[k])
			}
		}
		t.Errorf("round trip differs:\n%s", out)
	}
}

// TestRenderRoundTripRealFiles renders every valid real resource and reads
// it back: same object, and rendering again gives the same bytes.
func TestRenderRoundTripRealFiles(t *testing.T) {
	n := 0
	for _, rel := range realFiles(t) {
		data := readReal(t, rel)
		if IsTemplate(data) {
			continue
		}
		rs, _ := Parse(rel, data)
		for _, r := range rs {
			roundTrip(t, r.Object)
			a, _ := Render(r.Object)
			rs2, _ := Parse(rel, a)
			b, _ := Render(rs2[0].Object)
			if string(a) != string(b) {
				t.Errorf("%s: rendering is not stable", rel)
			}
			n++
		}
	}
	if n < 60 {
		t.Errorf("only %d resources rendered", n)
	}
}

func TestEqual(t *testing.T) {
	a := parseOne(t, `apiVersion: infra.k8smgmt.io/v3
kind: Namespace
metadata:
  name: a
  project: p
spec:
  quota:
    pods: 10
    cpu: 4000m
`).Object
	b := parseOne(t, `kind: Namespace
spec:
  quota:
    cpu: 4000m
    pods: 10.0
metadata:
  resourceVersion: "17"
  createdAt: "2024-05-01T10:00:00Z"
  modifiedAt: "2024-05-02T10:00:00Z"
  id: 9f8e
  project: p
  name: a
  labels: {}
  annotations: {}
apiVersion: infra.k8smgmt.io/v3
status:
  phase: Ready
`).Object
	b["status"] = map[string]any{"phase": "Ready"} // Parse dropped it; an API object may carry it
	if !Equal(a, b) {
		t.Errorf("Equal ignores key order, status, server fields, empty labels and 10 vs 10.0: got false\n%v\n%v", Canonical(a), Canonical(b))
	}
	c := Normalize(a).(map[string]any)
	c["spec"].(map[string]any)["quota"].(map[string]any)["cpu"] = "8000m"
	if Equal(a, c) {
		t.Error("Equal misses a changed value")
	}
	d := Normalize(a).(map[string]any)
	d["metadata"].(map[string]any)["labels"] = map[string]any{"x": "y"}
	if Equal(a, d) {
		t.Error("Equal misses a new label")
	}
	e := Normalize(a).(map[string]any)
	e["spec"].(map[string]any)["quota"].(map[string]any)["pods"] = "10"
	if Equal(a, e) {
		t.Error(`Equal treats 10 and "10" alike`)
	}
	if !Equal(nil, map[string]any{}) {
		t.Error("nil and empty differ")
	}
}

func TestCanonical(t *testing.T) {
	in := map[string]any{
		"apiVersion": "infra.k8smgmt.io/v3",
		"kind":       "InfraProvisioner",
		"metadata":   map[string]any{"name": "tf", "resourceVersion": "3", "labels": map[string]any{}},
		"spec":       map[string]any{"n": 2, "f": 2.5},
		"status":     map[string]any{"x": 1},
	}
	got := Canonical(in)
	want := map[string]any{
		"apiVersion": "gitops.k8smgmt.io/v3",
		"kind":       "InfraProvisioner",
		"metadata":   map[string]any{"name": "tf"},
		"spec":       map[string]any{"n": int64(2), "f": 2.5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
	if _, has := in["status"]; !has || in["apiVersion"] != "infra.k8smgmt.io/v3" {
		t.Error("Canonical modified its input")
	}
	// An apiVersion that is not the kind's stays as it is, so Equal sees it.
	odd := Canonical(map[string]any{"apiVersion": "apps.k8smgmt.io/v3", "kind": "Cluster"})
	if odd["apiVersion"] != "apps.k8smgmt.io/v3" {
		t.Errorf("got %v", odd)
	}
}
