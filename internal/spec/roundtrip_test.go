package spec

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	yaml2 "go.yaml.in/yaml/v2"

	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// TestRenderIsRafaysBytes renders what Rafay's exporter wrote, read back:
// every syncrepo file comes out byte for byte, the GKE cluster and the
// long folded line of the EKS cluster included.
func TestRenderIsRafaysBytes(t *testing.T) {
	n := 0
	for _, rel := range realFiles(t) {
		if !strings.Contains(rel, "/syncrepo-") || strings.Contains(rel, "ARTIFACT") {
			continue
		}
		data := readReal(t, rel)
		rs, probs := Parse(rel, data)
		if len(rs) != 1 || len(probs) > 0 {
			t.Fatalf("%s: %v", rel, probs)
		}
		got, err := Render(Canonical(rs[0].Object))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(data) {
			t.Errorf("%s: rendered\n%s\nRafay wrote\n%s", rel, got, data)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d syncrepo files", n)
	}
}

// TestRenderGeneratedTreeAsRafay renders generated resources as a tree
// Rafay wrote holds them (spectest.Exported): the same bytes.
func TestRenderGeneratedTreeAsRafay(t *testing.T) {
	files, err := spectest.Exported(spectest.Generate(600, 11))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		rs, probs := Parse(f.Path, f.Data)
		if len(rs) != 1 || len(probs) > 0 {
			t.Fatalf("%s: %v", f.Path, probs)
		}
		got, err := Render(Canonical(rs[0].Object))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(f.Data) {
			t.Fatalf("%s: rendered\n%s\nexported\n%s", f.Path, got, f.Data)
		}
	}
}

// TestKeyLessIsYAMLv2Order pins the order Update inserts new keys in to the
// order Render (yaml.v2) writes them.
func TestKeyLessIsYAMLv2Order(t *testing.T) {
	// yaml.v2 orders a map's keys by sorting them in the map's order, with
	// a comparison that is not transitive where runs of digits meet
	// letters; keys whose digits come at the end (as in real specs) are
	// ordered the same on every run.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aAbB_-./zZ~é")
	for round := 0; round < 200; round++ {
		m := map[string]any{}
		for len(m) < 12 {
			var b strings.Builder
			for range 1 + rng.IntN(6) {
				b.WriteRune(alphabet[rng.IntN(len(alphabet))])
			}
			if rng.IntN(3) == 0 {
				fmt.Fprint(&b, rng.IntN(120))
			}
			m[b.String()] = 0
		}
		m["item10"], m["item9"], m["item09"], m["v1.28"], m["v1.9"] = 0, 0, 0, 0, 0
		out, err := yaml2.Marshal(m) // the map itself, in yaml.v2's own order
		if err != nil {
			t.Fatal(err)
		}
		var keyed yaml2.MapSlice
		if err := yaml2.Unmarshal(out, &keyed); err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, it := range keyed {
			want = append(want, fmt.Sprint(it.Key))
		}
		for k := range m {
			got = append(got, k)
		}
		sortKeys(got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("keyLess order\n%q\nyaml.v2 order\n%q", got, want)
		}
	}
}
