package controller

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// TestCanonicalInPlaceIsCanonical: what the API stores of a parsed body,
// spec.Canonical's tree made in place, for generated bodies and stored
// bodies of every shape.
func TestCanonicalInPlaceIsCanonical(t *testing.T) {
	var bodies []string
	for _, f := range spectest.Generate(300, 11) {
		rs, _ := spec.Parse(f.Path, f.Data)
		for _, r := range rs {
			b, _ := json.Marshal(r.Object)
			bodies = append(bodies, string(b))
		}
	}
	for _, body := range append(bodies, otherBodies...) {
		res, probs := spec.ParseBody("application/json", []byte(body))
		if len(probs) > 0 {
			continue
		}
		want := spec.Canonical(res.Object)
		if owned := spec.CanonicalInPlace(deepCopy(res.Object).(map[string]any)); !reflect.DeepEqual(owned, want) {
			t.Fatalf("body %q: canonical\n got %#v\nwant %#v", body, owned, want)
		}
	}
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

// CanonicalInPlace takes other value types to spec.Canonical.
func TestCanonicalInPlaceOfOtherTypes(t *testing.T) {
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
		if got := spec.CanonicalInPlace(c); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%v:\n got %#v\nwant %#v", obj, got, want)
		}
	}
}
