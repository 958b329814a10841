package controller

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// appendJSON must write the bytes json.Marshal writes: stored bodies are
// compared byte for byte to find unchanged applies.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	values := []any{
		nil, true, false, "", "plain", `quote " and \ back`, "<html> & co", "tab\tnew\nline\x01",
		"héllo", "\u2028\u2029", "bad \xff utf-8", int64(0), int64(-42), 7, math.MaxInt64,
		0.0, math.Copysign(0, -1), 1.5, -2.25, 1e-7, 1.5e-9, 1e21, 123456789e15, 1e20, 3.14159, math.SmallestNonzeroFloat64, math.MaxFloat64,
		[]any{}, []any(nil), map[string]any{}, map[string]any(nil),
		map[string]any{"b": int64(1), "a": []any{"x", nil, map[string]any{"z": 1.25, "<": "&"}}, "é": false},
		json.Number("12"), []string{"other", "types"}, map[string]int{"fall": 1, "back": 2},
	}
	for _, f := range spectest.Generate(200, 7) {
		rs, probs := spec.Parse(f.Path, f.Data)
		if len(probs) > 0 {
			t.Fatalf("%s: %v", f.Path, probs[0])
		}
		for _, r := range rs {
			values = append(values, spec.Canonical(r.Object), Stored{Object: spec.Canonical(r.Object)}.View())
		}
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON([]byte("prefix"), v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		if string(got) != "prefix"+string(want) {
			t.Errorf("%#v:\n got %s\nwant prefix%s", v, got, want)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), map[string]any{"x": math.Inf(-1)}} {
		if _, err := appendJSON(nil, bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// appendView must write what json.Marshal writes of the view.
func TestAppendViewMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	objects := []map[string]any{
		{},
		{"kind": "Namespace", "spec": map[string]any{"a": int64(1)}},
		{"kind": "Namespace", "metadata": "not a map", "zeta": true},
		{"apiVersion": "v3", "metadata": map[string]any{"name": "n", "project": "p", "resourceVersion": "9", "labels": map[string]any{"<": "&"}}},
	}
	for _, f := range spectest.Generate(50, 11) {
		rs, _ := spec.Parse(f.Path, f.Data)
		for _, r := range rs {
			objects = append(objects, spec.Canonical(r.Object))
		}
	}
	for _, obj := range objects {
		st := Stored{Object: obj, ResourceVersion: 42, CreatedAt: at, ModifiedAt: at.Add(time.Hour)}
		want, err := json.Marshal(st.View())
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendView(nil, st)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "<>&", "\x00", "\u2028", "\xff", `"\`} {
		f.Add(s, 1.5)
	}
	f.Fuzz(func(t *testing.T, s string, x float64) {
		v := map[string]any{s: []any{s, x}}
		want, werr := json.Marshal(v)
		got, gerr := appendJSON(nil, v)
		if (werr == nil) != (gerr == nil) || string(got) != string(want) && werr == nil {
			t.Fatalf("%q %v: got %s (%v), want %s (%v)", s, x, got, gerr, want, werr)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	var objs []map[string]any
	for _, f := range spectest.Generate(100, 3) {
		rs, _ := spec.Parse(f.Path, f.Data)
		for _, r := range rs {
			objs = append(objs, spec.Canonical(r.Object))
		}
	}
	b.Run("Marshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = json.Marshal(objs[i%len(objs)])
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = appendJSON(nil, objs[i%len(objs)])
		}
	})
}
