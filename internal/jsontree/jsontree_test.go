package jsontree_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/jsontree"
	"github.com/systemsync/systemsync/internal/spec"
)

// Object gives what encoding/json (with UseNumber) and spec.Normalize make
// of a text, and refuses what it cannot read exactly so, and what it would
// not hold as written (numbers rounded, strings replaced).
func TestObjectIsDecodedAndNormalized(t *testing.T) {
	for _, text := range []string{
		`{}`, ` {"a":1} `, `{"n":[0,-0,1.0,1e2,12.5e-1,9223372036854775807,-9223372036854775808]}`,
		`{"s":"\u00e9\ud83d\ude00\n"}`, `{"a":{"b":[true,false,null,{"c":""}]},"a":2}`,
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
	for _, text := range []string{``, `[]`, `null`, `{} {}`, `{"a":1,}`, `{"n":1e400}`, `{"n":01}`, `{"s":"\x"}`, "{\"s\":\"a\tb\"}",
		`{"n":9223372036854775808}`, `{"n":0.1000000000000000000001}`, `{"u":"\ud800"}`, "{\"t\":\"bad \xff byte\"}"} {
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

func TestExact(t *testing.T) {
	for text, want := range map[string]bool{
		"0": true, "-0": true, "0.0": true, "0e999999999999": true, "1": true, "1.10": true, "0.1": true, "+.5": true, "5.": true,
		"1e21": true, "1E+21": true, "123.456e-2": true, "2.5e-10": true, "9007199254740993": false, "0.30000000000000004": true,
		"1e400": false, "-1e400": false, "1e-400": false, "0.1000000000000000000001": false, "3.14159265358979323846": false,
		"123456789012345678901234567890": false, "1.7976931348623157e308": true, "5e-324": true, "4.9e-324": false,
	} {
		f, _ := strconv.ParseFloat(text, 64)
		if got := jsontree.Exact(text, f); got != want {
			t.Errorf("Exact(%s, %v) = %v, want %v", text, f, got, want)
		}
	}
}

// FindFault finds the value the tree cannot hold as written: its place,
// its path, and what is wrong.
func TestFindFault(t *testing.T) {
	for text, want := range map[string]jsontree.Fault{
		`{"a":{"b":[1,2,1e400]}}`:               {Offset: 15, Path: []any{"a", "b", 2}, Number: "1e400"},
		`{"n": 123456789012345678901234567890}`: {Offset: 6, Path: []any{"n"}, Number: "123456789012345678901234567890"},
		`{"a":1e400`:                            {Offset: 5, Path: []any{"a"}, Number: "1e400"},
		`[0.1000000000000000000001]`:            {Offset: 1, Path: []any{0}, Number: "0.1000000000000000000001"},
		"{\"s\":\"ok\",\"t\":\"bad \xff\"}":     {Offset: 14, Path: []any{"t"}, String: "is not UTF-8"},
		"{\"k\xff\":1}":                         {Offset: 1, Path: []any{}, String: "is not UTF-8"},
		`{"s":["\ud800"]}`:                      {Offset: 6, Path: []any{"s", 0}, String: "holds half of a UTF-16 surrogate pair"},
	} {
		f := jsontree.FindFault([]byte(text))
		if f == nil || f.Offset != want.Offset || !reflect.DeepEqual(f.Path, want.Path) && !(len(f.Path) == 0 && len(want.Path) == 0) ||
			f.Number != want.Number || !strings.HasPrefix(f.String, want.String) {
			t.Errorf("FindFault(%q) = %+v, want %+v", text, f, want)
		}
		if _, ok := jsontree.Object([]byte(text)); ok {
			t.Errorf("Object(%q) took it", text)
		}
	}
	for _, text := range []string{`{"a":[1,2.5,"x",{"b":null}]}`, `{"a":"\x"}`, `[1,`, `{"s":"\ud83d\ude00"}`} {
		if f := jsontree.FindFault([]byte(text)); f != nil {
			t.Errorf("FindFault(%q) = %+v, want none", text, f)
		}
	}
}
