package spec

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestParseMalformedYAMLLine checks that a syntax error is reported on the
// line an editor shows the fault on, not where yaml.v3's message points.
func TestParseMalformedYAMLLine(t *testing.T) {
	cases := []struct {
		name string
		data string
		line int
	}{
		{"bad indent in labels", "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: x\n  labels:\n    a: b\n   c: d\n", 7},
		{"misaligned key in a list item", "spec:\n  stages:\n  - name: a\n  triggers:\n  - name: b\n   type: c\n", 6},
		{"sequence item then key", "a:\n  - b\n  c: d\n", 3},
		{"two colons", "a: b\nc: d: e\n", 2},
		{"tab indent", "a: b\n\tc: d\n", 2},
		{"unterminated quote", "a: b\nc: \"unterminated\nd: e\n", 2},
		{"unclosed flow mapping", "a: b\nb: {c: d\n", 2},
		{"error in second document", "a: b\n---\nc: d\ne\n", 4},
		{"after a multi-line flow", "a: {x: 1,\n  y: 2}\nb: c\nd: e: f\n", 4},
		{"deep in a long file", "a: b\nc: d\ne: f\ng: h\ni: j\nk: l\nm: n\no: p\nq: r\ns: t\nu: v\nw: x\ny: z\n  bad: indent\n", 14},
		{"unknown alias", "a: b\nc: *nope\n", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, probs := Parse("f.yaml", []byte(c.data))
			if len(rs) != 0 || len(probs) != 1 {
				t.Fatalf("got %d resources and %v, want one problem and no resource", len(rs), probs)
			}
			p := probs[0]
			if p.File != "f.yaml" || p.Line != c.line || !strings.HasPrefix(p.Message, "invalid YAML: ") {
				t.Errorf("got %v, want f.yaml:%d: invalid YAML: …", p, c.line)
			}
		})
	}
}

func TestParseMalformedFileGivesNoResources(t *testing.T) {
	data := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: ok\n---\nkind: [\n"
	rs, probs := Parse("f.yaml", []byte(data))
	if len(rs) != 0 || len(probs) != 1 {
		t.Errorf("got %d resources, %v", len(rs), probs)
	}
}

func TestParseDuplicateKey(t *testing.T) {
	rs, probs := Parse("f.yaml", []byte("metadata:\n  name: a\n  project: p\n  name: b\n"))
	if len(rs) != 0 || len(probs) != 1 {
		t.Fatalf("got %d resources, %v", len(rs), probs)
	}
	p := probs[0]
	if p.Line != 4 || p.Field != "metadata.name" || !strings.Contains(p.Message, `"name" already defined at line 2`) {
		t.Errorf("got %v", p)
	}
}

func TestParseNonMappingDocument(t *testing.T) {
	data := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\n---\n- just\n- a list\n---\nplain words\n"
	rs, probs := Parse("f.yaml", []byte(data))
	if len(rs) != 1 || rs[0].KindName() != "Namespace" {
		t.Errorf("got %d resources, want the mapping document", len(rs))
	}
	if len(probs) != 2 {
		t.Fatalf("got %v, want two problems", probs)
	}
	if probs[0].Line != 4 || !strings.Contains(probs[0].Message, "document is a sequence, not a mapping") {
		t.Errorf("got %v", probs[0])
	}
	if probs[1].Line != 7 || !strings.Contains(probs[1].Message, "document is a string, not a mapping") {
		t.Errorf("got %v", probs[1])
	}
}

func TestParseDocumentsAndLines(t *testing.T) {
	data := "# leading comment\n---\n---\napiVersion: a/v3\nkind: A\n---\n# comment only\n---\n\napiVersion: b/v3\nkind: B\n...\n"
	rs, probs := Parse("f.yaml", []byte(data))
	if len(probs) != 0 || len(rs) != 2 {
		t.Fatalf("got %d resources, %v", len(rs), probs)
	}
	if rs[0].Line != 4 || rs[0].KindName() != "A" || rs[1].Line != 10 || rs[1].KindName() != "B" || rs[1].File != "f.yaml" {
		t.Errorf("resources at lines %d (%s), %d (%s)", rs[0].Line, rs[0].KindName(), rs[1].Line, rs[1].KindName())
	}
	for _, empty := range []string{"", "\n", "# just a comment\n", "---\n", "---\n...\n", "~\n"} {
		if rs, probs := Parse("f.yaml", []byte(empty)); len(rs) != 0 || len(probs) != 0 {
			t.Errorf("%q: got %d resources, %v", empty, len(rs), probs)
		}
	}
}

func TestParseStatusDropped(t *testing.T) {
	data := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: x\n  project: p\nspec: {}\nstatus:\n  phase: Ready\n"
	rs, probs := Parse("f.yaml", []byte(data))
	if len(probs) != 0 || len(rs) != 1 {
		t.Fatal(probs)
	}
	if _, has := rs[0].Object["status"]; has {
		t.Error("status kept")
	}
	if vp := Validate(rs[0], Context{}); len(vp) != 0 {
		t.Errorf("status made the resource invalid: %v", vp)
	}
}

// TestParseScalars checks that values come out as yaml.v3 gives them for
// `any`, in the canonical Go types, except that timestamps stay strings.
func TestParseScalars(t *testing.T) {
	data := `int: 42
neg: -7
hex: 0x1F
octal: 0o17
underscore: 1_000
big: 9223372036854775807
float: 1.5
floatInt: 1.0
exp: 1e3
bool: true
boolUpper: TRUE
yes: yes
null1: null
null2: ~
null3:
date: 2022-07-01
datetime: 2023-01-31 04:06:50+00:00
quotedNum: "1.25"
quotedBool: 'true'
version: 1.28
semver: 1.29.4
str: plain text
literal: |
  line one
  line two
folded: >
  one
  two
binary: !!binary aGVsbG8=
tagged: !!str 123
taggedFloat: !!float 3
custom: !Ref some-value
empty: ""
colon: rafay.dev/clusterName=demo
`
	rs, probs := Parse("f.yaml", []byte(data))
	if len(probs) != 0 || len(rs) != 1 {
		t.Fatal(probs)
	}
	want := map[string]any{
		"int": int64(42), "neg": int64(-7), "hex": int64(31), "octal": int64(15), "underscore": int64(1000),
		"big": int64(math.MaxInt64), "float": 1.5, "floatInt": 1.0, "exp": 1000.0,
		"bool": true, "boolUpper": true, "yes": "yes", "null1": nil, "null2": nil, "null3": nil,
		"date": "2022-07-01", "datetime": "2023-01-31 04:06:50+00:00", "quotedNum": "1.25", "quotedBool": "true",
		"version": 1.28, "semver": "1.29.4", "str": "plain text", "literal": "line one\nline two\n", "folded": "one two\n",
		"binary": "hello", "tagged": "123", "taggedFloat": 3.0, "custom": "some-value", "empty": "",
		"colon": "rafay.dev/clusterName=demo",
	}
	got := rs[0].Object
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("%s: got %#v (%T), want %#v (%T)", k, g, g, w, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d", len(got), len(want))
	}
}

// TestParseMatchesYAMLv3 compares Parse's Object with yaml.v3's own decode
// for every real file (timestamps aside, which yaml.v3 turns into time.Time).
func TestParseMatchesYAMLv3(t *testing.T) {
	for _, rel := range realFiles(t) {
		data := readReal(t, rel)
		if IsTemplate(data) || strings.Contains(rel, "LEGACY") || strings.Contains(rel, "clusterlist") {
			continue
		}
		rs, probs := Parse(rel, data)
		if len(probs) != 0 || len(rs) != 1 {
			t.Fatalf("%s: %v", rel, probs)
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		want := Normalize(v).(map[string]any)
		delete(want, "status")
		if !reflect.DeepEqual(rs[0].Object, want) {
			t.Errorf("%s: Parse differs from yaml.v3", rel)
		}
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	data := `base: &base
  region: us-west-2
  tags: &tags
    env: dev
ng1:
  <<: *base
  name: a
  region: eu-west-1
ng2:
  <<: [*base, {extra: true}]
  name: b
tags: *tags
`
	rs, probs := Parse("f.yaml", []byte(data))
	if len(probs) != 0 || len(rs) != 1 {
		t.Fatal(probs)
	}
	o := rs[0].Object
	ng1 := o["ng1"].(map[string]any)
	if ng1["region"] != "eu-west-1" || ng1["name"] != "a" || ng1["tags"].(map[string]any)["env"] != "dev" {
		t.Errorf("ng1 = %v", ng1)
	}
	ng2 := o["ng2"].(map[string]any)
	if ng2["region"] != "us-west-2" || ng2["extra"] != true || ng2["name"] != "b" {
		t.Errorf("ng2 = %v", ng2)
	}
	// An alias is a copy: changing it leaves the anchored value alone.
	o["tags"].(map[string]any)["env"] = "prod"
	if o["base"].(map[string]any)["tags"].(map[string]any)["env"] != "dev" {
		t.Error("alias shares the anchored value")
	}
	if got := rs[0].LineOf("ng2.region"); got != 2 {
		t.Errorf("merged field's line %d, want 2 (where it is written)", got)
	}
}

func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	start := time.Now()
	rs, probs := Parse("bomb.yaml", []byte(b.String()))
	if len(rs) != 0 || len(probs) != 1 || !strings.Contains(probs[0].Message, "alias") {
		t.Errorf("got %d resources, %v", len(rs), probs)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if _, probs := Parse("loop.yaml", []byte("a: &x [1, *x]\n")); len(probs) != 1 {
		t.Errorf("self-referencing anchor: %v", probs)
	}
}

func TestParseBody(t *testing.T) {
	jsonBody := `{"apiVersion":"infra.k8smgmt.io/v3","kind":"Namespace","metadata":{"name":"a","project":"p"},
"spec":{"count":3,"ratio":0.5,"big":12345678901234,"on":true,"none":null,"list":[1,"x"]},"status":{"x":1}}`
	r, probs := ParseBody("application/json", []byte(jsonBody))
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	spec := r.Object["spec"].(map[string]any)
	want := map[string]any{"count": int64(3), "ratio": 0.5, "big": int64(12345678901234), "on": true, "none": nil, "list": []any{int64(1), "x"}}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("spec = %#v", spec)
	}
	if _, has := r.Object["status"]; has || r.Key() != (Key{Kind: "Namespace", Project: "p", Name: "a"}) {
		t.Errorf("object %v", r.Object)
	}
	// A body starting with '{' is JSON whatever the content type says.
	if r, probs := ParseBody("text/plain", []byte(` {"kind":"Project"}`)); len(probs) != 0 || r.KindName() != "Project" {
		t.Errorf("JSON sniffing: %v", probs)
	}
	yamlBody := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: a\n"
	r, probs = ParseBody("application/yaml", []byte(yamlBody))
	if len(probs) != 0 || r.Name() != "a" || r.LineOf("metadata.name") != 4 || r.File != "" {
		t.Errorf("YAML body: %v", probs)
	}
	// A YAML body and the same JSON body give equal objects.
	rj, _ := ParseBody("application/json", []byte(`{"apiVersion":"infra.k8smgmt.io/v3","kind":"Namespace","metadata":{"name":"a"}}`))
	if !reflect.DeepEqual(r.Object, rj.Object) {
		t.Errorf("YAML %v != JSON %v", r.Object, rj.Object)
	}

	bad := []struct {
		ct, body, msg string
		line          int
	}{
		{"application/json", "", "empty body", 0},
		{"application/yaml", "  \n", "empty body", 0},
		{"application/yaml", "# nothing\n", "empty body", 0},
		{"application/json", `{"a": 1} {"b": 2}`, "more than one JSON value", 1},
		{"application/json", `[{"a": 1}]`, "an array, not an object", 1},
		{"application/json", "{\n\"a\": 1,\n}", "invalid JSON", 3},
		{"application/yaml", "kind: A\n---\nkind: B\n", "holds 2 documents", 3},
		{"application/yaml", "- a\n- b\n", "not a mapping", 1},
		{"application/yaml", "a: b\n c: d\n", "invalid YAML", 2},
	}
	for _, c := range bad {
		r, probs := ParseBody(c.ct, []byte(c.body))
		if r != nil || len(probs) != 1 || !strings.Contains(probs[0].Message, c.msg) || probs[0].Line != c.line || probs[0].File != "" {
			t.Errorf("%q: got %v, want line %d …%s…", c.body, probs, c.line, c.msg)
		}
	}
}

func TestNormalize(t *testing.T) {
	type named string
	in := map[string]any{
		"i": 3, "i8": int8(-2), "u": uint(7), "u64": uint64(math.MaxUint64), "f32": float32(0.5),
		"num": json.Number("12"), "numf": json.Number("1.5"),
		"mi": map[any]any{1: "a", "b": []string{"x"}}, "ms": map[string]string{"k": "v"},
		"lm": []map[string]any{{"a": 1}}, "named": named("n"), "bytes": []byte("hi"),
		"date": time.Date(2022, 7, 1, 0, 0, 0, 0, time.UTC), "struct": struct {
			A int `json:"a"`
		}{A: 1},
		"ptr": func() *int { i := 5; return &i }(), "nilmap": map[string]any(nil),
	}
	want := map[string]any{
		"i": int64(3), "i8": int64(-2), "u": int64(7), "u64": float64(math.MaxUint64), "f32": 0.5,
		"num": int64(12), "numf": 1.5,
		"mi": map[string]any{"1": "a", "b": []any{"x"}}, "ms": map[string]any{"k": "v"},
		"lm": []any{map[string]any{"a": int64(1)}}, "named": "n", "bytes": "hi",
		"date": "2022-07-01", "struct": map[string]any{"a": int64(1)},
		"ptr": int64(5), "nilmap": map[string]any{},
	}
	got := Normalize(in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if in["i"] != 3 {
		t.Error("Normalize modified its input")
	}
}
