package yamlcount

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// treeCount counts the nodes of the trees a yaml.Decoder builds for data,
// document after document: what Count promises to match.
func treeCount(data []byte) (int, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		var walk func(*yaml.Node)
		walk = func(x *yaml.Node) {
			n++
			for _, c := range x.Content {
				walk(c)
			}
		}
		walk(&doc)
	}
}

// corpus is the real specs of the repository's testdata and YAML that uses
// every kind of node and indicator.
func corpus(t testing.TB) [][]byte {
	var out [][]byte
	root := filepath.Join("..", "..", "testdata", "rafay-specs")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		out = append(out, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("only %d spec files under %s", len(out), root)
	}
	return append(out, []byte(""), []byte("---\n"), []byte("a: 1\n---\nb: [1, 2, {c: d}]\n...\n---\n- x\n-\n- - y\n"),
		[]byte("x: [0,0,0,0]\n"), []byte("{a, b: , ? c, : d}\n"), []byte("[a: b, ? c, : d, [e], {}]\n"),
		[]byte("base: &b {x: 1}\nuse:\n  <<: *b\n  y: *b\n"), []byte("? - a\n  - b\n: c\n? d\n"),
		[]byte("k: !!str\nl: &x\nm: |\n  a: b, c\n  - d\nn: >-\n  folded\n"), []byte("key:\n- a\n- b: c\n  d: e\n"),
		[]byte("%YAML 1.2\n---\na: b\n"), []byte("'q: x': \"r, [s]\"\n"))
}

func TestCountMatchesTree(t *testing.T) {
	for i, data := range corpus(t) {
		want, err := treeCount(data)
		if err != nil { // a Go template among the real files
			if _, _, cerr := Count(data, math.MaxInt); cerr == nil {
				t.Errorf("case %d: yaml.v3 refuses it (%v), Count does not\n%s", i, err, data)
			}
			continue
		}
		got, line, err := Count(data, math.MaxInt)
		if err != nil || got != want || line != 0 {
			t.Errorf("case %d: Count = %d, line %d, %v; yaml.v3 builds %d nodes\n%s", i, got, line, err, want, data)
		}
		if b := Bound(data); b < want {
			t.Errorf("case %d: Bound = %d, below the %d nodes yaml.v3 builds\n%s", i, b, want, data)
		}
	}
}

func TestCountStopsPastLimit(t *testing.T) {
	// The document, its sequence, then five nodes a line: node 12 is the
	// last of line 2, node 13 the first of line 3.
	data := []byte(strings.Repeat("- [a, b, c, d]\n", 6))
	n, line, err := Count(data, 12)
	if err != nil || n != 13 || line != 3 {
		t.Fatalf("Count(…, 12) = %d, line %d, %v; want 13, line 3", n, line, err)
	}
	if n, line, err := Count(data, 32); err != nil || n != 32 || line != 0 {
		t.Fatalf("Count(…, 32) = %d, line %d, %v; want all 32", n, line, err)
	}
}

func TestCountBadYAML(t *testing.T) {
	if _, _, err := Count([]byte("a: [1, 2\nb: c\n"), math.MaxInt); err == nil {
		t.Fatal("an unclosed flow sequence counted without an error")
	}
}

// TestBoundIsTightForBlockYAML: a block mapping of scalars, the shape of a
// large label set, is bounded by its own count (plus the document's slack).
func TestBoundIsTightForBlockYAML(t *testing.T) {
	var b strings.Builder
	b.WriteString("metadata:\n  labels:\n")
	for range 1000 {
		b.WriteString("    app.kubernetes.io/name: web\n")
	}
	data := []byte(b.String())
	n, _, err := Count(data, math.MaxInt)
	if err != nil {
		t.Fatal(err)
	}
	if bound := Bound(data); bound > n+4 {
		t.Fatalf("Bound = %d for %d nodes of block YAML", bound, n)
	}
}

// FuzzCount holds Count to yaml.v3's trees and Bound above Count, for any
// input yaml.v3 reads.
func FuzzCount(f *testing.F) {
	for _, data := range corpus(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, err := treeCount(data)
		if err != nil {
			return
		}
		got, _, err := Count(data, math.MaxInt)
		if err != nil || got != want {
			t.Fatalf("Count = %d, %v; yaml.v3 builds %d nodes", got, err, want)
		}
		if b := Bound(data); b < want {
			t.Fatalf("Bound = %d, below the %d nodes yaml.v3 builds", b, want)
		}
	})
}
