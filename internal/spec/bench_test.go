package spec

import (
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/systemsync/systemsync/internal/spec/spectest"
)

var (
	benchOnce  sync.Once
	benchFiles []spectest.File
	benchBytes int64
)

// benchCorpus is the 10,000 generated files both benchmarks read.
func benchCorpus() ([]spectest.File, int64) {
	benchOnce.Do(func() {
		benchFiles = spectest.Generate(10000, 1)
		for _, f := range benchFiles {
			benchBytes += int64(len(f.Data))
		}
	})
	return benchFiles, benchBytes
}

// BenchmarkParseValidate parses and validates 10,000 realistic spec files
// per iteration, with the Context their paths imply, as the bot does for a
// repository. Compare with BenchmarkYAMLDecodeFloor (the budget is 2×).
func BenchmarkParseValidate(b *testing.B) {
	files, size := benchCorpus()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, f := range files {
			info := ClassifyPath(f.Path)
			rs, probs := Parse(f.Path, f.Data)
			if len(probs) > 0 || len(rs) != 1 {
				b.Fatalf("%s: %v", f.Path, probs)
			}
			ctx := Context{File: f.Path, Kind: info.Key.Kind, Project: info.Key.Project, Name: info.Key.Name}
			if ps := Validate(rs[0], ctx); HasErrors(ps) {
				b.Fatalf("%s: %v", f.Path, ps)
			}
		}
	}
}

// BenchmarkYAMLDecodeFloor decodes the same files with a bare
// yaml.Unmarshal into `any`: the floor BenchmarkParseValidate is held to.
func BenchmarkYAMLDecodeFloor(b *testing.B) {
	files, size := benchCorpus()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, f := range files {
			var v any
			if err := yaml.Unmarshal(f.Data, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSecrets scans the same 10,000 files, parsed before the clock
// starts, for clear-text secrets: what the loader adds to parse and
// validate for each file (none holds a secret: the quick walk, which
// allocates nothing).
func BenchmarkSecrets(b *testing.B) {
	files, size := benchCorpus()
	var rs []*Resource
	for _, f := range files {
		r, probs := Parse(f.Path, f.Data)
		if len(probs) > 0 {
			b.Fatalf("%s: %v", f.Path, probs)
		}
		rs = append(rs, r...)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, r := range rs {
			if ps := Secrets(r); len(ps) > 0 {
				b.Fatalf("%s: %v", r.File, ps)
			}
		}
	}
}
