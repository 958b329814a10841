package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/jsontree"
)

// sameAsDecoded checks that parseJSONBody answers body as decodeJSONBody
// (encoding/json and Normalize) does, problems included, and reports
// whether the one-pass path took it.
func sameAsDecoded(t *testing.T, body string) bool {
	t.Helper()
	got, gotProbs := parseJSONBody([]byte(body))
	want, wantProbs := decodeJSONBody([]byte(body))
	if !reflect.DeepEqual(gotProbs, wantProbs) {
		t.Fatalf("body %q: problems %v, encoding/json gives %v", body, gotProbs, wantProbs)
	}
	if (got == nil) != (want == nil) || got != nil && (!reflect.DeepEqual(got.Object, want.Object) || got.Line != want.Line) {
		t.Fatalf("body %q:\n got %#v\nwant %#v", body, got, want)
	}
	_, fast := jsontree.Object([]byte(body))
	return fast
}

// TestJSONBodyInOnePassIsDecoded: bodies as clients send them (every real
// spec of testdata, as JSON in three layouts) and bodies of every awkward
// shape parse to what encoding/json and Normalize make of them, problems
// included; the plain ones in one pass.
func TestJSONBodyInOnePassIsDecoded(t *testing.T) {
	fast, n := 0, 0
	for _, obj := range realObjects(t) {
		compact, _ := json.Marshal(obj)
		indented, _ := json.MarshalIndent(obj, " ", "\t")
		for _, b := range []string{string(compact), string(indented), "\r\n " + string(compact) + "\n"} {
			n++
			if sameAsDecoded(t, b) {
				fast++
			}
		}
	}
	if n == 0 || fast < n*9/10 {
		t.Fatalf("only %d of %d real bodies took the one-pass path", fast, n)
	}
	for _, b := range awkwardBodies {
		sameAsDecoded(t, b)
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

// FuzzJSONBodyInOnePassIsDecoded: whatever the body, parseJSONBody
// answers as decodeJSONBody does.
func FuzzJSONBodyInOnePassIsDecoded(f *testing.F) {
	for _, b := range awkwardBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sameAsDecoded(t, body)
	})
}
