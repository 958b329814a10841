package controller

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// viewJSON is what the list answered for a row before items were written
// from their stored bodies: the decoded Stored's View, encoded.
func viewJSON(t *testing.T, r storedRow) ([]byte, error) {
	t.Helper()
	st, err := r.decode("Namespace", "default")
	if err != nil {
		return nil, err
	}
	return json.Marshal(st.View())
}

func row(body string) storedRow {
	return storedRow{name: "n", body: body, rv: 42, created: "2026-11-23T10:00:00.123456789Z", modified: "2026-11-24T11:30:00Z"}
}

// TestRawViewIsTheEncodedView: for bodies as Apply stores them (the JSON of
// a canonical object), the item written from the body is byte for byte the
// encoded View.
func TestRawViewIsTheEncodedView(t *testing.T) {
	var objs []map[string]any
	for _, f := range spectest.Generate(400, 5) {
		rs, _ := spec.Parse(f.Path, f.Data)
		objs = append(objs, rs[0].Object)
	}
	root := "../../testdata/rafay-specs"
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rs, _ := spec.Parse(p, data)
		for _, r := range rs {
			objs = append(objs, r.Object)
		}
		return nil
	})
	objs = append(objs,
		map[string]any{"apiVersion": "v", "kind": "Namespace", "metadata": map[string]any{}},
		map[string]any{"kind": "Namespace", "metadata": map[string]any{"name": "a", "zzz": 1, "aaa": []any{}, "description": "<b>&é\u2028"}},
		map[string]any{"metadata": map[string]any{"labels": map[string]any{"x.y/z": "<1>", "é": "2"}, "createdA": "x", "resourceVersio": 1, "modifiedAtt": true}},
		map[string]any{"metadata": map[string]any{"name": "a"}, "spec": map[string]any{"f": 1.5e300, "g": -2.5e-9, "i": int64(-7), "big": 1e21}},
	)
	if len(objs) < 450 {
		t.Fatalf("only %d objects", len(objs))
	}
	for i, obj := range objs {
		body, err := json.Marshal(spec.Canonical(obj))
		if err != nil {
			t.Fatal(err)
		}
		r := row(string(body))
		want, err := viewJSON(t, r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendRawView([]byte("[x,"), r)
		if _, hasMetadata := obj["metadata"].(map[string]any); !ok && hasMetadata {
			t.Fatalf("object %d: not written from its body: %s", i, body)
		}
		if !ok {
			got, _ = appendRowView([]byte("[x,"), r, "Namespace", "default")
		}
		if string(got) != "[x,"+string(want) {
			t.Fatalf("object %d:\n got %s\nwant [x,%s", i, got, want)
		}
	}
}

// otherBodies are stored bodies of every shape: as json.Marshal writes
// them (with escapes and numbers of each form), and not.
var otherBodies = []string{
	` { "metadata" : { "name" : "a" , "project":"p" } , "kind" : "Namespace" , "spec" : [ 1 , -2.5e+3 , true , false , null , "s\"\\\/\b\f\n\r\t\u00e9" , { } , [ ] ] } `,
	`{"kind":"Namespace","metadata":{"name":"a"},"spec":{"s":"q\"b\\c\b\f\n\r\t\u0000\u001f\u003c\u003e\u0026\u2028\u2029\u007f` + "\x7f é 世界 \uFFFD" + `"}}`,
	`{"kind":"Namespace","metadata":{"name":"a"},"spec":{"a":1.5,"b":1.5e-7,"c":1e+21,"d":-9223372036854775808,"e":9223372036854775807,"f":0,"g":123456.789,"h":5e-324}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"\u0041"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"\/"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"\u00e9"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"\ufffd"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"\u003C"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"\u000a"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"\ud83d\ude00"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"<"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"&"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"bad ` + "\xff" + ` byte"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"` + "\u2028" + `"}}`,
	`{"metadata":{"name":"a"},"spec":{"n":1.0}}`,
	`{"metadata":{"name":"a"},"spec":{"n":1E+21}}`,
	`{"metadata":{"name":"a"},"spec":{"n":1e21}}`,
	`{"metadata":{"name":"a"},"spec":{"n":-0}}`,
	`{"metadata":{"name":"a"},"spec":{"n":-0.0}}`,
	`{"metadata":{"name":"a"},"spec":{"n":9223372036854775808}}`,
	`{"metadata":{"name":"a"},"spec":{"n":1e400}}`,
	`{"metadata":{"name":"a"},"spec":{"n":100000000000000000000}}`,
	`{"metadata":{"name":"a"},"spec":{"n":1e-7}}`,
	`{"metadata":{"zeta":1,"alpha":2},"kind":"Namespace"}`,
	`{"kind":"Namespace","metadata":{"alpha":2,"zeta":1}}`,
	`{"metadata":{"annotations":{"b":"1","a":"2"},"name":"a"}}`,
	`{"metadata":{"name":"a","resourceVersion":"7","createdAt":"old"}}`,
	`{"metadata":{"createdAt":"old","name":"a"}}`,
	`{"metadata":{"na\u006de":"a"}}`,
	`{"meta\u0064ata":{"name":"a"}}`,
	`{"metadata":{"name":"a"},"metadata":{"name":"b"}}`,
	`{"a":1,"a":2,"metadata":{}}`,
	`{"kind":"Namespace"}`,
	`{"metadata":null}`,
	`{"metadata":"text"}`,
	`{"metadata":[]}`,
	`{}`,
	`{"metadata":{}}`,
	`{"a":{"metadata":{}},"metadata":{"z":{"metadata":{}}}}`,
	`{"metadata":{"name":"a"}} trailing`,
	`{"metadata":{"name":"a"}}{}`,
	`{"metadata":{"name":"a"},"spec":{"n":01}}`,
	`{"metadata":{"name":"a"},"spec":{"n":1.}}`,
	`{"metadata":{"name":"a"},"spec":{"n":-}}`,
	`{"metadata":{"name":"a"},"spec":{"n":1e}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"bad \x escape"}}`,
	`{"metadata":{"name":"a"},"spec":{"s":"bad \u12 escape"}}`,
	"{\"metadata\":{\"name\":\"a\"},\"spec\":{\"s\":\"tab\there\"}}",
	`{"metadata":{"name":"a"},"spec":{"s":"unterminated}}`,
	`{"metadata":{"name":"a"},"spec":{"a":[1,2}}`,
	`{"metadata":{"name":"a"},"spec":{"a":tru}}`,
	`{"metadata":{"name":"a"},"spec":{"a" 1}}`,
	`{"metadata":{"name":"a"},"spec":{"a":1,}}`,
	`{"metadata":{"name":"a"},}`,
	`{"metadata":{"name":"a"}`,
	`[1,2]`,
	`[{"metadata":{}}]`,
	`"text"`,
	``,
	strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000),
	`{"metadata":{"name":"a"},"spec":` + strings.Repeat(`[`, 9990) + strings.Repeat(`]`, 9990) + `}`,
	`{"metadata":{"name":"a"},"spec":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`,
}

// TestViewOfOtherBodies: whatever the body, the item is byte for byte the
// encoded View of the decoded body, or the decode's error.
func TestViewOfOtherBodies(t *testing.T) {
	raw := 0
	for _, body := range otherBodies {
		checkView(t, body)
		if _, ok := appendRawView(nil, row(body)); ok {
			raw++
		}
	}
	if raw < 4 {
		t.Fatalf("only %d bodies written from their text", raw)
	}
}

func checkView(t *testing.T, body string) {
	t.Helper()
	r := row(body)
	want, wantErr := viewJSON(t, r)
	got, err := appendRowView([]byte("["), r, "Namespace", "default")
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%.80q: error %v, decoding gave %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	if string(got) != "["+string(want) {
		t.Fatalf("%.200q:\n got %s\nwant [%s", body, got, want)
	}
}

func FuzzView(f *testing.F) {
	for _, b := range otherBodies {
		if len(b) < 1000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body string) { checkView(t, body) })
}

// TestApplyAnswerIsTheEncodedView: an apply's answer, written from the
// body it stored, is byte for byte what encoding its View gives, with its
// length announced; bodies of awkward shapes (no metadata object, escaped
// keys, a stamp already there) are encoded from the object instead.
func TestApplyAnswerIsTheEncodedView(t *testing.T) {
	var objs []map[string]any
	for _, f := range spectest.Generate(300, 7) {
		rs, _ := spec.Parse(f.Path, f.Data)
		objs = append(objs, rs[0].Object)
	}
	generated := len(objs)
	objs = append(objs, map[string]any{"kind": "Namespace", "metadata": map[string]any{
		"name": "a", "zzz": 1, "aaa": []any{}, "description": "<b>&é\u2028", "createdA": "x", "resourceVersio": 1, "modifiedAtt": true}},
		map[string]any{"apiVersion": `a"},{"[`, "kind": "K\\", "metadata": map[string]any{"name": `"}{`, "labels": map[string]any{"x": []any{"]", map[string]any{"}": "{"}}}}},
		map[string]any{"a": map[string]any{"metadata": map[string]any{}}, "metadata": map[string]any{"a<b": "x", "name": "n"}},
		map[string]any{"metadata": map[string]any{}, "z": 1},
		map[string]any{"metadata": []any{1}, "z": 1},
		map[string]any{"metadatb": map[string]any{"name": "x"}},
		map[string]any{"kind": "K", "metadata": map[string]any{"n": 1.5, "m": nil, "t": true, "createdAt": "old"}})
	created := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	for i, obj := range objs {
		canon := spec.Canonical(obj)
		body, err := appendJSON(nil, canon)
		if err != nil {
			t.Fatal(err)
		}
		st := Stored{Object: canon, ResourceVersion: 42, CreatedAt: created, ModifiedAt: created.Add(time.Hour), body: string(body)}
		// Which of the awkward ones are written from their body.
		fromBody := []bool{true, true, false, true, false, false, true}
		if _, ok := appendBodyView(nil, st.body, st.CreatedAt, st.ModifiedAt, st.ResourceVersion, true); ok != (i < generated || fromBody[i-generated]) {
			t.Fatalf("object %d: written from its body %v: %s", i, ok, body)
		}
		want := httptest.NewRecorder()
		WriteJSON(want, 201, st.View())
		got := httptest.NewRecorder()
		writeView(got, 201, st)
		if got.Code != 201 || got.Body.String() != want.Body.String() {
			t.Fatalf("object %d:\n got %d %s\nwant %s", i, got.Code, got.Body, want.Body)
		}
		if cl := got.Header().Get("Content-Length"); cl != strconv.Itoa(want.Body.Len()) || got.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("object %d: headers %v", i, got.Header())
		}
	}
}
