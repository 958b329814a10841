package jsontree_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/systemsync/systemsync/internal/jsontree"
	"github.com/systemsync/systemsync/internal/spec"
)

// FuzzJSONTree: whatever the text, Object and FindFault never panic and
// cost memory in proportion to it, and they agree with encoding/json on
// what is valid JSON within the documented differences: Object takes a
// text only when encoding/json reads it as an object, to the same tree;
// it refuses one encoding/json reads as an object only for a value it
// would not hold as written, which FindFault then finds, and which is
// really so (a number no int64 or float64 holds, a string that is not
// UTF-8 or holds half a surrogate pair).
func FuzzJSONTree(f *testing.F) {
	_ = filepath.WalkDir("../../testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data) // the GitHub webhook payloads
			}
		}
		return nil
	})
	for _, s := range []string{`{}`, `{"a":[1,2.5,-0,1e21,"x\u00e9\ud83d\ude00",true,null,{"b":{}}]}`, `{"n":1e400}`,
		`{"n":123456789012345678901234567890}`, `{"n":0.1000000000000000000001}`, "{\"s\":\"\xff\"}", `{"s":"\ud800"}`,
		`{"a":1,"a":2}`, `{"a":[1,]}`, `[{}]`, strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, ok := jsontree.Object(data)
		fault := jsontree.FindFault(data)
		runtime.ReadMemStats(&after)
		if used := after.TotalAlloc - before.TotalAlloc; used > uint64(200*len(data)+1<<20) {
			t.Fatalf("%d bytes of text cost %d bytes", len(data), used)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		_, isObject := v.(map[string]any)
		valid := err == nil && json.Valid(data) && isObject
		switch {
		case ok && !valid:
			t.Fatalf("Object took %q, which encoding/json does not read as one object", data)
		case ok && fault != nil:
			t.Fatalf("Object took %q, where FindFault finds %+v", data, fault)
		case ok:
			if want := spec.Normalize(v); !reflect.DeepEqual(any(got), want) {
				t.Fatalf("Object(%q)\n got %#v\nwant %#v", data, got, want)
			}
		case valid && fault == nil:
			t.Fatalf("Object refused %q, a JSON object, and FindFault finds nothing", data)
		}
		if fault == nil {
			return
		}
		if fault.Offset < 0 || fault.Offset >= len(data) {
			t.Fatalf("fault %+v outside the text", fault)
		}
		switch {
		case fault.Number != "":
			if !strings.HasPrefix(string(data[fault.Offset:]), fault.Number) {
				t.Fatalf("fault %+v: the text there is %.40q", fault, data[fault.Offset:])
			}
			if n, err := strconv.ParseInt(fault.Number, 10, 64); err == nil {
				t.Fatalf("fault %+v: %s is the int64 %d", fault, fault.Number, n)
			}
			if f, err := strconv.ParseFloat(fault.Number, 64); err == nil && strings.ContainsAny(fault.Number, ".eE") && jsontree.Exact(fault.Number, f) {
				t.Fatalf("fault %+v: %s is the float64 %v", fault, fault.Number, f)
			}
		case fault.String != "":
			if data[fault.Offset] != '"' {
				t.Fatalf("fault %+v: no string there", fault)
			}
			var s string
			if err := json.Unmarshal(stringAt(data, fault.Offset), &s); err == nil && utf8.Valid(stringAt(data, fault.Offset)) && !strings.Contains(s, "\uFFFD") {
				t.Fatalf("fault %+v: %q is a UTF-8 string without replaced characters", fault, s)
			}
		default:
			t.Fatalf("fault %+v says nothing", fault)
		}
	})
}

// stringAt returns the JSON string at offset i of data, quotes included.
func stringAt(data []byte, i int) []byte {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return data[i : j+1]
		}
	}
	return data[i:]
}
