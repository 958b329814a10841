package spec

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// flowZeros is the review's file: a Namespace whose spec holds a flow
// sequence of n zeros, two bytes a node.
func flowZeros(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: big\n  project: default\nspec:\n  x: [0")
	for i := 1; i < n; i++ {
		if i%4096 == 0 {
			b.WriteString(",\n    0") // a line now and then, so that the line named means something
		} else {
			b.WriteString(",0")
		}
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// labelsYAML is the memory benchmark's Namespace as Git holds it: n labels.
func labelsYAML(n int) []byte {
	data, err := Render(labelled(n, "value"))
	if err != nil {
		panic(err)
	}
	return data
}

// TestParseRefusesTooManyNodes: a file of more than MaxNodes nodes is one
// problem naming the file and the line of the node past the limit, found
// without building its tree (what a 4 MiB file of `0,` cost: 1.1 GB);
// the memory benchmark's 100,000 labels are read.
func TestParseRefusesTooManyNodes(t *testing.T) {
	data := flowZeros(2 << 20) // 4 MiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rs, probs := Parse("projects/default/namespaces/big.yaml", data)
	runtime.ReadMemStats(&after)
	if len(rs) != 0 || len(probs) != 1 || !TooManyNodes(probs) {
		t.Fatalf("Parse of %d bytes of `0,`: %d resources, problems %v; want the node limit", len(data), len(rs), probs)
	}
	// The node past the limit: the document, its mapping, 9 nodes before x's
	// sequence, then MaxNodes-11 zeros, 4096 to a line from line 7.
	wantLine := 7 + (MaxNodes-11)/4096
	if p := probs[0]; p.File != "projects/default/namespaces/big.yaml" || p.Line != wantLine || !strings.Contains(p.Message, "more than 250000 YAML nodes") {
		t.Fatalf("problem %+v: want the file, line %d and the limit", p, wantLine)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("refusing %d bytes allocated %d MB", len(data), alloc>>20)
	}

	big := labelsYAML(100000)
	rs, probs = Parse("projects/default/namespaces/big.yaml", big)
	if len(probs) != 0 || len(rs) != 1 {
		t.Fatalf("100,000 labels (%d bytes): %v", len(big), probs)
	}
	if err := CheckSize(rs[0].Object); err != nil {
		t.Fatalf("100,000 labels: CheckSize: %v", err)
	}
	// Just within the limit and just over it, in block YAML.
	n := (MaxNodes - 15) / 2 // the labels that, with the rest of the Namespace, make MaxNodes nodes
	if _, probs := Parse("a.yaml", labelsYAML(n)); len(probs) != 0 {
		t.Fatalf("%d labels: %v", n, probs)
	}
	if _, probs := Parse("a.yaml", labelsYAML(n+1)); !TooManyNodes(probs) {
		t.Fatalf("%d labels: %v, want the node limit", n+1, probs)
	}
}

// TestNodeLimitIsTheSameEverywhere: a resource at the limit is taken as a
// YAML file, a YAML body and a JSON body, and CheckSize passes it (so what
// the API accepts, Git can hold and read back); one node more is refused
// by each.
func TestNodeLimitIsTheSameEverywhere(t *testing.T) {
	n := (MaxNodes - 15) / 2
	for _, c := range []struct {
		labels int
		ok     bool
	}{{n, true}, {n + 1, false}} {
		obj := labelled(c.labels, "value")
		yml, err := Render(obj)
		if err != nil {
			t.Fatal(err)
		}
		var count func(*yaml.Node) int
		count = func(x *yaml.Node) int {
			k := 1
			for _, ch := range x.Content {
				k += count(ch)
			}
			return k
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(yml, &doc); err != nil {
			t.Fatal(err)
		}
		js, _ := AppendCanonicalJSON(nil, obj)
		name := fmt.Sprintf("%d labels (%d nodes)", c.labels, count(&doc))
		if c.ok != (count(&doc) <= MaxNodes) {
			t.Fatalf("%s: the case is not where the limit is", name)
		}
		_, fileProbs := Parse("a.yaml", yml)
		_, yamlProbs := ParseBody("application/yaml", yml)
		_, jsonProbs := ParseBody("application/json", js)
		sizeErr := CheckSize(obj)
		var se *SizeError
		if c.ok {
			if len(fileProbs)+len(yamlProbs)+len(jsonProbs) > 0 || sizeErr != nil {
				t.Fatalf("%s: file %v, YAML body %v, JSON body %v, CheckSize %v; want all taken", name, fileProbs, yamlProbs, jsonProbs, sizeErr)
			}
		} else if !TooManyNodes(fileProbs) || !TooManyNodes(yamlProbs) || !TooManyNodes(jsonProbs) || !errors.As(sizeErr, &se) || !se.Nodes {
			t.Fatalf("%s: file %v, YAML body %v, JSON body %v, CheckSize %v; want each refused for its nodes", name, fileProbs, yamlProbs, jsonProbs, sizeErr)
		}
	}
	// A JSON body of zeros names the line of the node past the limit.
	var b strings.Builder
	b.WriteString("{\"spec\": {\"x\": [\n")
	for i := range MaxNodes {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("0")
	}
	b.WriteString("]}}\n")
	_, probs := ParseBody("application/json", []byte(b.String()))
	// The document, the object, spec, its object, x, its array: zero number
	// MaxNodes-6+1 is the node past the limit, on line 1+that.
	if !TooManyNodes(probs) || probs[0].Line != 2+MaxNodes-6 {
		t.Fatalf("JSON body of %d zeros: %v, want the node limit on line %d", MaxNodes, probs, 2+MaxNodes-6)
	}
}
