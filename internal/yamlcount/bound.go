package yamlcount

// Bound returns a number never below Count's for data, found in one pass
// over its bytes without allocating: what a decoder checks first, so that
// only a stream whose bound is over its limit is counted event by event.
//
// Every node but a document's root is an entry of a collection, and every
// entry has an indicator of its own: a block sequence's entry its `-`
// (followed by a blank or a line break), a block mapping's pair (two nodes,
// either may be empty) its `:` or `?`, a flow collection's entries the `[`
// or `{` that opens it and the `,` between them (a flow mapping's entry is
// two nodes). A document other than the first starts with `---` at the
// start of a line, and holds its own node and its root. So the bound counts
// 1 for each `[` and each `-` before a blank, 2 for each `:`, `?`, `,` and
// `{` anywhere (in a comment or a string too), and 2 for each document
// marker and for the first document. For block YAML, a mapping of scalars
// or a sequence of them, it is the count itself; for flow YAML up to twice
// it; text with many of those characters in it raises it further.
func Bound(data []byte) int {
	n := 2
	for i, c := range data {
		switch c {
		case ':', '?', ',', '{':
			n += 2
		case '[':
			n++
		case '-':
			if i+1 == len(data) || isBlankzStart(data[i+1]) {
				n++
			}
			if i+2 < len(data) && data[i+1] == '-' && data[i+2] == '-' && (i == 0 || isBreakEnd(data[i-1])) {
				n += 2
			}
		}
	}
	return n
}

// isBlankzStart reports whether a blank, a line break or the end of input
// (as yaml.v3's scanner sees them: NUL, NEL, LS and PS too) may start at c.
func isBlankzStart(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', 0, 0xC2, 0xE2:
		return true
	}
	return false
}

// isBreakEnd reports whether c may be the last byte of a line break.
func isBreakEnd(c byte) bool {
	switch c {
	case '\r', '\n', 0x85, 0xA8, 0xA9:
		return true
	}
	return false
}
