// Package yamlcount counts the nodes go.yaml.in/yaml/v3 builds for a YAML
// stream without building them, so that a decoder can refuse a stream too
// big to hold before it spends the memory.
//
// A yaml.Node costs about 170 bytes, and YAML can spend as little as two
// bytes of input on one (`[0,0,0,…]`), so a node tree can be a hundred
// times its input; this package reads the same event stream yaml.v3 builds
// its tree from, with yaml.v3's own scanner and parser (the libyaml port),
// holding one event at a time.
//
// The other files of this package are yaml.v3's (v3.0.6): apic.go,
// parserc.go, readerc.go, scannerc.go, yamlh.go and yamlprivateh.go,
// copied unchanged but for their package clause (see LICENSE and NOTICE).
// yaml.v3 does not export its event parser. TestCountMatchesTree holds the
// count to the tree yaml.v3 builds, so a yaml.v3 upgrade that parses
// differently shows there: copy the same files of the new version.
package yamlcount

import (
	"errors"
	"fmt"
)

// Count counts the nodes yaml.Unmarshal (or a yaml.Decoder, document after
// document) builds for data: one per document, scalar, alias, sequence and
// mapping, across every document of the stream. It stops at the first node
// past limit and returns limit+1 and that node's line (from 1). Otherwise
// it returns the count and 0. A stream that does not parse gives an error
// (yaml.v3's own decode then says the same with a better line) and the
// count up to that point.
func Count(data []byte, limit int) (n, line int, err error) {
	var p yaml_parser_t
	if !yaml_parser_initialize(&p) {
		return 0, 0, errors.New("yamlcount: parser did not initialize")
	}
	defer yaml_parser_delete(&p)
	if len(data) == 0 {
		data = []byte{'\n'} // as yaml.v3 does
	}
	yaml_parser_set_input_string(&p, data)
	var e yaml_event_t
	for {
		if !yaml_parser_parse(&p, &e) || p.error != yaml_NO_ERROR {
			return n, 0, fmt.Errorf("yamlcount: line %d: %s", p.problem_mark.line+1, p.problem)
		}
		switch e.typ {
		case yaml_DOCUMENT_START_EVENT, yaml_SCALAR_EVENT, yaml_ALIAS_EVENT, yaml_SEQUENCE_START_EVENT, yaml_MAPPING_START_EVENT:
			n++
			if n > limit {
				return n, e.start_mark.line + 1, nil
			}
		case yaml_STREAM_END_EVENT:
			return n, 0, nil
		}
		yaml_event_delete(&e)
	}
}
