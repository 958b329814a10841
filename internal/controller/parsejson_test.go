package controller

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// sameAsSpec checks that parseBody answers body as spec.ParseBody does,
// and reports whether the fast path took it.
func sameAsSpec(t *testing.T, contentType, body string) bool {
	t.Helper()
	got, gotProbs := parseBody(contentType, []byte(body))
	want, wantProbs := spec.ParseBody(contentType, []byte(body))
	if !reflect.DeepEqual(gotProbs, wantProbs) {
		t.Fatalf("body %q: problems %v, spec gives %v", body, gotProbs, wantProbs)
	}
	if (got == nil) != (want == nil) || got != nil && (!reflect.DeepEqual(got.Object, want.Object) || got.Line != want.Line) {
		t.Fatalf("body %q:\n got %#v\nwant %#v", body, got, want)
	}
	if got != nil {
		// And what the API stores of it: spec.Canonical's tree, made in place.
		want := spec.Canonical(got.Object)
		if owned := canonicalOwned(deepCopy(got.Object).(map[string]any)); !reflect.DeepEqual(owned, want) {
			t.Fatalf("body %q: canonical\n got %#v\nwant %#v", body, owned, want)
		}
	}
	p := fastJSON{s: []byte(body)}
	p.ws()
	_, fast := p.object(0)
	return fast
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// canonicalOwned takes other value types to spec.Canonical.
func TestCanonicalOwnedOfOtherTypes(t *testing.T) {
	for _, obj := range []map[string]any{
		nil,
		{},
		{"kind": "Namespace", "apiVersion": "infra.k8smgmt.io/v3", "metadata": map[string]any{"labels": map[string]any{}, "id": 1}, "spec": map[string]any{"n": json.Number("2.0"), "i": 3, "f": float32(1.5)}},
		{"kind": "InfraProvisioner", "apiVersion": "infra.k8smgmt.io/v3", "spec": []any{2.0, 2.5, map[string]any{"x": uint8(7)}}, "status": "x"},
		{"kind": "Cluster", "apiVersion": "infra.k8smgmt.io/v3", "spec": map[string]any{"big": 1e300, "two": -2.0, "nan": math.NaN()}, "metadata": map[string]any{"annotations": nil}},
	} {
		want := spec.Canonical(obj)
		var c map[string]any
		if obj != nil {
			c = deepCopy(obj).(map[string]any)
		}
		if got := canonicalOwned(c); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%v:\n got %#v\nwant %#v", obj, got, want)
		}
	}
}

// TestParseBodyIsSpecParseBody: bodies as clients send them, and bodies of
// every awkward shape, parse to what spec.ParseBody gives, problems
// included; the plain ones through the fast path.
func TestParseBodyIsSpecParseBody(t *testing.T) {
	fast := 0
	for _, f := range spectest.Generate(300, 11) {
		rs, _ := spec.Parse(f.Path, f.Data)
		for _, r := range rs {
			compact, _ := json.Marshal(r.Object)
			indented, _ := json.MarshalIndent(r.Object, " ", "\t")
			for _, b := range []string{string(compact), string(indented), "\r\n " + string(compact) + "\n"} {
				if sameAsSpec(t, "application/json", b) {
					fast++
				}
			}
		}
	}
	if fast < 900 {
		t.Fatalf("only %d generated bodies took the fast path", fast)
	}
	for _, b := range append(otherBodies, awkwardBodies...) {
		for _, ct := range []string{"application/json", "application/yaml", ""} {
			sameAsSpec(t, ct, b)
		}
	}
}

// awkwardBodies are JSON texts at the edges of what the fast path takes.
var awkwardBodies = []string{
	``, ` `, `{`, `}`, `{}`, `[]`, `null`, `"s"`, `1`, `{} {}`, `{}x`, `{}` + "\u00a0", "\u00a0{}", "\ufeff{}",
	`{"a":1,"a":2}`, `{"a":{"b":[1,2,{"c":null}]},"status":{"x":1}}`, `{"status":1}`,
	`{"n":[0,-0,1.0,-0.0,1e2,1E+2,1e-2,12.5e-1,9223372036854775807,-9223372036854775808]}`,
	`{"n":9223372036854775808}`, `{"n":-9223372036854775809}`, `{"n":1e400}`, `{"n":-1e400}`, `{"n":1e-400}`,
	`{"n":01}`, `{"n":1.}`, `{"n":.5}`, `{"n":-}`, `{"n":1e}`, `{"n":+1}`, `{"n":0x10}`, `{"n":NaN}`,
	`{"s":"\u0000\u001f\u007f\u2028\ud83d\ude00"}`, `{"s":"\ud800"}`, `{"s":"\udc00x"}`, `{"s":"\uZZZZ"}`, `{"s":"\x"}`,
	"{\"s\":\"tab\there\"}", "{\"s\":\"nl\nhere\"}", "{\"s\":\"bad \xff byte\"}", "{\"s\xff\":1}", "{\"s\":\"\xe2\x80\"}",
	`{"t":true,"f":false,"n":null,"tr":tru}`, `{"a":[1,]}`, `{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`,
	"{\"a\":\n1\r\n,\t\"b\" : [ ] }", `{"":""}`, `{"k":"v"}` + strings.Repeat(" ", 10),
	strings.Repeat(`{"a":`, 250) + `1` + strings.Repeat(`}`, 250),
	strings.Repeat(`[`, 250) + strings.Repeat(`]`, 250),
	`{"a":` + strings.Repeat(`[`, 250) + strings.Repeat(`]`, 250) + `}`,
	`{"apiVersion":"infra.k8smgmt.io/v3","kind":"InfraProvisioner","metadata":{"name":"a","labels":{},"annotations":null,"id":"x","resourceVersion":"3","createdAt":1},"spec":{"n":[2.0,-0.0,1e15,9007199254740993.0,1.5]}}`,
	`{"apiVersion":"eaas.envmgmt.io/v3","kind":"InfraProvisioner","metadata":{"labels":{"a":"b"}}}`,
	`{"apiVersion":"infra.k8smgmt.io/v2","kind":"Namespace","metadata":[]}`,
	`{"apiVersion":3,"kind":"Namespace","metadata":{"labels":[]}}`,
}

// FuzzParseBodyIsSpecParseBody: whatever the body, parseBody answers as
// spec.ParseBody does.
func FuzzParseBodyIsSpecParseBody(f *testing.F) {
	for _, b := range append(otherBodies, awkwardBodies...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sameAsSpec(t, "application/json", body)
	})
}
