package spec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// encodeWhole is what encodeYAML must write: one yaml.v3 Encoder for all of n.
func encodeWhole(t *testing.T, n *yaml.Node) string {
	t.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(n); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// checkPieces compares encodeYAML of n, for pieces of many sizes (1: every
// node its own piece where it can be), with one encoder's output.
func checkPieces(t *testing.T, name string, n *yaml.Node) {
	t.Helper()
	want := encodeWhole(t, n)
	for _, chunk := range []int{1, 2, 3, 5, 8, 64, encodeChunkNodes} {
		var buf bytes.Buffer
		if err := encodeYAML(&buf, n, chunk); err != nil {
			t.Fatalf("%s, pieces of %d: %v", name, chunk, err)
		}
		if got := buf.String(); got != want {
			t.Fatalf("%s, pieces of %d nodes: written differently\n--- one encoder:\n%s\n--- in pieces:\n%s", name, chunk, want, got)
		}
	}
}

// TestEncodeInPiecesWritesWhatOneEncoderWrites holds encodeYAML to yaml.v3's
// own output: for the real specs (as Render builds them and as Parse reads
// them, comments included), generated ones, and random trees of the shapes
// that need care (sequences of sequences, multi-line strings, odd keys).
func TestEncodeInPiecesWritesWhatOneEncoderWrites(t *testing.T) {
	for _, rel := range realFiles(t) {
		data, err := os.ReadFile(filepath.Join(testdataRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		docs, err := decodeDocs(data)
		if err != nil {
			continue // the invalid examples
		}
		for i, d := range docs {
			checkPieces(t, fmt.Sprintf("%s doc %d as read", rel, i), d)
		}
		rs, _ := Parse(rel, data)
		for i, r := range rs {
			checkPieces(t, fmt.Sprintf("%s resource %d rendered", rel, i), toNode(r.Object))
		}
	}
	for _, f := range spectest.Generate(200, 7) {
		rs, probs := Parse(f.Path, f.Data)
		if len(probs) > 0 {
			t.Fatalf("%s: %v", f.Path, probs)
		}
		checkPieces(t, f.Path, toNode(rs[0].Object))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		checkPieces(t, fmt.Sprintf("random tree %d", i), toNode(randomValue(rng, 4)))
	}
}

var oddStrings = []string{"", "plain", "two words", "a: b", "- dash", "#hash", "x #y", "true", "1.5", "2022-07-01", "null",
	"multi\nline", "multi\nline\n", "\nlead", "trail \n", "tab\there", "quote'd", `dq"`, "{flow}", "[x]", "* star", "& amp",
	"! bang", "%pct", "@at", "`tick", "|pipe", ">gt", "ünïcödé", "emoji 🙂", "blank\n\nlines\n\n\nhere", "  lead spaces",
	strings.Repeat("long ", 40), strings.Repeat("k", 130), "\u2028sep", "cr\rhere", "nel\u0085x", "ps\u2029y", "yes", "0x1F", "1:20"}

// randomValue makes a tree of the values Parse produces.
func randomValue(rng *rand.Rand, depth int) any {
	if depth == 0 {
		switch rng.IntN(5) {
		case 0:
			return int64(rng.IntN(1000) - 500)
		case 1:
			return rng.Float64()
		case 2:
			return rng.IntN(2) == 0
		case 3:
			return nil
		}
		return oddStrings[rng.IntN(len(oddStrings))]
	}
	switch rng.IntN(3) {
	case 0:
		m := map[string]any{}
		for range rng.IntN(6) {
			m[oddStrings[rng.IntN(len(oddStrings))]+fmt.Sprint(rng.IntN(3))] = randomValue(rng, depth-1)
		}
		return m
	case 1:
		s := make([]any, rng.IntN(6))
		for i := range s {
			s[i] = randomValue(rng, depth-1)
		}
		return s
	}
	return randomValue(rng, 0)
}
