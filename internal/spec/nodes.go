package spec

import (
	"bytes"
	"fmt"

	"github.com/systemsync/systemsync/internal/jsontree"
	"github.com/systemsync/systemsync/internal/yamlcount"
)

// MaxNodes is the most YAML nodes one spec file or request body may hold,
// and one resource as Git holds it: each key, value and list item is one,
// and the document one more. A node costs a few hundred bytes to parse
// and check however short its text (`[0,0,0,…]` is two bytes a node), so
// the size limit alone does not bound what reading a resource costs.
// 250,000: the 3 MB Namespace with 100,000 labels the memory benchmark
// exports is 200,015 nodes; at the limit, parsing and checking one file
// peaks at about 150 MB (BENCHMARKS.md).
const MaxNodes = 250_000

// nodesMessage is the problem of a file or body over MaxNodes.
var nodesMessage = fmt.Sprintf("holds more than %d YAML nodes by this line (each key, value and list item is one), over the limit for one resource: split it or trim it", MaxNodes)

// TooManyNodes reports whether problems are Parse's or ParseBody's refusal
// of input over MaxNodes (an API answers it 413, not 400).
func TooManyNodes(problems []Problem) bool {
	return len(problems) == 1 && problems[0].Message == nodesMessage
}

// yamlNodesProblem is the problem of YAML input over MaxNodes, counted
// without building it (yamlcount); ok when it is within the limit or does
// not parse (the decoder then says why, having built less than the limit).
func yamlNodesProblem(file string, data []byte) (Problem, bool) {
	if yamlcount.Bound(data) <= MaxNodes {
		return Problem{}, true
	}
	n, line, err := yamlcount.Count(data, MaxNodes)
	if err != nil || n <= MaxNodes {
		return Problem{}, true
	}
	return Problem{File: file, Line: line, Message: nodesMessage}, false
}

// jsonNodesProblem is yamlNodesProblem for a JSON body: the nodes its
// text would be as YAML, counted from its tokens.
func jsonNodesProblem(body []byte) (Problem, bool) {
	n, off := jsontree.Count(body, MaxNodes)
	if n <= MaxNodes {
		return Problem{}, true
	}
	return Problem{Line: 1 + bytes.Count(body[:off], []byte("\n")), Message: nodesMessage}, false
}

// objectNodes counts the YAML nodes of v as Render writes it (each map
// key, and each value), stopping once past limit.
func objectNodes(v any, limit int) int {
	n := 1
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if n > limit {
				break
			}
			n += 1 + objectNodes(e, limit-n-1)
		}
	case []any:
		for _, e := range x {
			if n > limit {
				break
			}
			n += objectNodes(e, limit-n)
		}
	}
	return n
}
