package spec

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fuzzSeeds are the real specs of testdata, as files and as the JSON
// bodies a client sends of them, and the awkward JSON bodies.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	err := filepath.WalkDir(testdataRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		seeds = append(seeds, data)
		rs, _ := Parse(p, data)
		for _, r := range rs {
			compact, _ := json.Marshal(r.Object)
			indented, _ := json.MarshalIndent(r.Object, "", "  ")
			seeds = append(seeds, compact, indented)
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range awkwardBodies {
		seeds = append(seeds, []byte(b))
	}
	return append(seeds, []byte("a: &a [1, 2]\nb: [*a, *a]\nc: 1e400\n"), []byte("spec:\n  s: caf\xe9\n"),
		[]byte(`{"spec":{"n":123456789012345678901234567890,"s":"\ud800"}}`))
}

// maxAllocPerByte bounds what parsing costs per byte of input (plus
// maxAllocFixed): a yaml.v3 node tree is about 200 bytes a scalar, alias
// expansion is bounded by the converter.
const (
	maxAllocPerByte = 2000
	maxAllocFixed   = 64 << 20
)

// FuzzParse: whatever the bytes, Parse and ParseBody (JSON and YAML) never
// panic, cost memory in proportion to the input, put problems on lines the
// input has, and every resource they accept renders to YAML that reads
// back as the same resource, within the size check.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rs, probs := Parse("f.yaml", data)
		body, bodyProbs := ParseBody("application/json", data)
		yamlBody, yamlProbs := ParseBody("application/yaml", data)
		runtime.ReadMemStats(&after)
		if used := after.TotalAlloc - before.TotalAlloc; used > uint64(maxAllocPerByte*len(data)+maxAllocFixed) {
			t.Fatalf("%d bytes of input cost %d bytes", len(data), used)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range append(append(probs, bodyProbs...), yamlProbs...) {
			if p.Line < 0 || p.Line > lines || p.Message == "" {
				t.Fatalf("problem %v: line out of the input's %d, or no message", p, lines)
			}
		}
		for _, r := range append(append(rs, body), yamlBody) {
			if r == nil {
				continue
			}
			out, err := Render(r.Object)
			if err != nil {
				t.Fatalf("an accepted resource does not render: %v\n%#v", err, r.Object)
			}
			back, probs := parseYAML("back.yaml", out, false) // a List stays one resource, as it was read
			if len(probs) != 0 || len(back) != 1 || !Equal(back[0].Object, r.Object) {
				t.Fatalf("an accepted resource renders as\n%s\nwhich reads back as %v %v", out, back, probs)
			}
			_ = CheckSize(r.Object)
			_ = Secrets(r)
		}
	})
}
