package spec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// MaxResourceBytes is the size limit of one resource, the same wherever it
// comes from: the API refuses a bigger one (413), Git's file of a bigger
// one is invalid, and the export never writes one. What is measured is the
// resource as Git holds it when the bot writes it anew: Render of its
// canonical form. Git is the side where size grows (YAML indents every
// line by its depth, so the same resource is larger as YAML than as
// compact JSON, and without bound for deep nesting), so measuring there
// is what lets every resource the API accepts be exported and read back.
// 4 MiB: the largest body the API always took, and 4/3 of the 3 MB
// resource the memory benchmark exports.
const MaxResourceBytes = 4 << 20

// FileTooBig is the problem of a spec file over MaxResourceBytes, which is
// not read: "is N bytes, over the limit …".
func FileTooBig(size int64) string {
	return fmt.Sprintf("is %d bytes, over the limit of %d bytes (%s) for one resource", size, MaxResourceBytes, mib(MaxResourceBytes))
}

// SizeError is a resource over MaxResourceBytes, or over MaxNodes when
// Nodes is set.
type SizeError struct {
	Nodes bool
}

func (e *SizeError) Error() string {
	if e.Nodes {
		return fmt.Sprintf("the resource holds more than %d YAML nodes as Git holds it (each key, value and list item is one), over the limit for one resource: split it or trim it", MaxNodes)
	}
	return fmt.Sprintf("the resource is larger as YAML in Git than the limit of %d bytes (%s) for one resource: split it or trim it", MaxResourceBytes, mib(MaxResourceBytes))
}

func mib(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// CheckSize returns a *SizeError when obj is over MaxResourceBytes or
// MaxNodes as Git holds it, nil otherwise. Its nodes are counted first (a
// resource within MaxNodes can be read back from Git), then it is measured
// by an upper bound found in one walk, without writing it; only one whose
// bound is over the limit is rendered, in bounded memory and only up to
// the limit.
func CheckSize(obj map[string]any) error {
	if objectNodes(obj, MaxNodes) >= MaxNodes { // and one for the document
		return &SizeError{Nodes: true}
	}
	if sizeBound(obj, 0) <= MaxResourceBytes {
		return nil
	}
	var buf bytes.Buffer
	err := encodeYAMLUpTo(&buf, toNode(writableObject(Canonical(obj))), encodeChunkNodes, MaxResourceBytes)
	if errors.Is(err, errOverLimit) {
		return &SizeError{}
	}
	return nil // within the limit, or not a resource Render can write: not a question of size
}

// sizeBound is at least the bytes Render writes for v as a mapping value
// or sequence item whose nested lines start at column col, its line ends
// included. It saturates instead of overflowing.
func sizeBound(v any, col int) int {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return 4
		}
		n := 0
		for k, e := range x {
			n = sat(n + col + 2 + stringBound(k, col) + 2)
			if len(k) > 128 || strings.ContainsAny(k, "\n\r") || !isPlainSafe(k) {
				n = sat(n + col + 4) // `? key` on its own line, then `: value`
			}
			n = sat(n + sizeBound(e, col+2))
		}
		return n
	case []any:
		if len(x) == 0 {
			return 4
		}
		n := 0
		for _, e := range x {
			n = sat(n + col + 2 + sizeBound(e, col+2))
		}
		return n
	case string:
		return sat(stringBound(x, col) + 1)
	case nil, bool:
		return 6
	case int64:
		n := 2 // the line end, and a digit
		if x < 0 {
			n++
		}
		for ; x >= 10 || x <= -10; x /= 10 {
			n++
		}
		return n
	}
	return 34 // a float: at most 24 digits, sign, point and exponent
}

// stringBound is at least the bytes a string takes written as a scalar whose
// continuation lines are indented from col, in any style the encoder picks:
// each byte escaped (\xXX, or \UXXXXXXXX for four), each line break followed
// by a new line's indentation (or, in a block scalar, each line indented).
func stringBound(s string, col int) int {
	if isPlainSafe(s) {
		return len(s) + 2 // plain, or double-quoted when it reads as another type
	}
	breaks := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n', '\r', 0x85, 0xA8, 0xA9:
			breaks++
		}
	}
	return sat(4*len(s) + (breaks+1)*(col+6) + 8)
}

// isPlainSafe reports whether s holds only letters, digits and _ . / -, no
// more than 128 of them, which the encoder writes as they are.
func isPlainSafe(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

// sat keeps a bound from overflowing.
func sat(n int) int {
	if n < 0 || n > 1<<40 {
		return 1 << 40
	}
	return n
}
