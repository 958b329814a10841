package jsontree_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/systemsync/systemsync/internal/jsontree"
	"github.com/systemsync/systemsync/internal/spec"
)

// Object gives what encoding/json (with UseNumber) and spec.Normalize make
// of a text, and refuses what it cannot read exactly so.
func TestObjectIsDecodedAndNormalized(t *testing.T) {
	for _, text := range []string{
		`{}`, ` {"a":1} `, `{"n":[0,-0,1.0,1e2,12.5e-1,9223372036854775807,-9223372036854775808,9223372036854775808]}`,
		`{"s":"\u00e9\ud83d\ude00\n","u":"\ud800"}`, "{\"t\":\"bad \xff byte\"}", `{"a":{"b":[true,false,null,{"c":""}]},"a":2}`,
	} {
		got, ok := jsontree.Object([]byte(text))
		if !ok {
			t.Errorf("Object(%q) refused it", text)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if want := spec.Normalize(v); !reflect.DeepEqual(got, want) {
			t.Errorf("Object(%q)\n got %#v\nwant %#v", text, got, want)
		}
	}
	for _, text := range []string{``, `[]`, `null`, `{} {}`, `{"a":1,}`, `{"n":1e400}`, `{"n":01}`, `{"s":"\x"}`, "{\"s\":\"a\tb\"}"} {
		if v, ok := jsontree.Object([]byte(text)); ok {
			t.Errorf("Object(%q) = %#v, want it refused", text, v)
		}
	}
}

// A sharing decoder gives one string for keys read twice.
func TestDecoderSharesKeys(t *testing.T) {
	d := jsontree.New([]byte(`[{"name":"a"},{"name":"a"}]`), true)
	if !d.Consume('[') {
		t.Fatal("no array")
	}
	var objs []map[string]any
	for {
		v, ok := d.Value()
		if !ok {
			t.Fatal("value refused")
		}
		objs = append(objs, v.(map[string]any))
		if !d.Consume(',') {
			break
		}
	}
	if !d.Consume(']') || !d.Done() {
		t.Fatal("array not read to its end")
	}
	if len(objs) != 2 || objs[0]["name"] != "a" || objs[1]["name"] != "a" {
		t.Fatalf("read %v", objs)
	}
}

func TestNumberEnd(t *testing.T) {
	for _, tc := range []struct {
		in      string
		end     int // -1: not a number
		integer bool
	}{
		{"0", 1, true}, {"-12,", 3, true}, {"1.5]", 3, false}, {"2e10}", 4, false},
		{"-0.0E-3 ", 7, false}, {"01", 1, true}, {"-", -1, false}, {"1.", -1, false},
		{"1e+", -1, false}, {".5", -1, false}, {"x", -1, false},
	} {
		for name, got := range map[string][3]any{
			"string": numberEnd(tc.in),
			"bytes":  numberEnd([]byte(tc.in)),
		} {
			end, integer, ok := got[0].(int), got[1].(bool), got[2].(bool)
			if tc.end < 0 {
				if ok {
					t.Errorf("%s %q: a number ending at %d, want none", name, tc.in, end)
				}
				continue
			}
			if !ok || end != tc.end || integer != tc.integer {
				t.Errorf("%s %q: end %d, integer %v, ok %v; want %d, %v", name, tc.in, end, integer, ok, tc.end, tc.integer)
			}
		}
	}
}

func numberEnd[T ~string | ~[]byte](s T) [3]any {
	end, integer, ok := jsontree.NumberEnd(s, 0)
	return [3]any{end, integer, ok}
}
