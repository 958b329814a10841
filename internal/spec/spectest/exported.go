package spectest

import (
	"encoding/json"
	"fmt"

	yaml2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// Exported returns files as Rafay's System Sync writes the resources they
// hold into a repository: each file's resource as JSON, as Rafay's API
// serves it, turned into YAML the way sigs.k8s.io/yaml's JSONToYAML does
// (go.yaml.in/yaml/v2 reads the JSON and writes it back: keys in that
// library's order, 2-space indent, look-alike strings quoted, long lines
// folded, no comments). Paths stay as they are. It is what a tree Rafay
// wrote looks like, for tests of a round trip.
func Exported(files []File) ([]File, error) {
	out := make([]File, len(files))
	for i, f := range files {
		var obj any
		if err := yaml.Unmarshal(f.Data, &obj); err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		j, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("%s as JSON: %w", f.Path, err)
		}
		var v any
		if err := yaml2.Unmarshal(j, &v); err != nil {
			return nil, fmt.Errorf("%s from JSON: %w", f.Path, err)
		}
		data, err := yaml2.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", f.Path, err)
		}
		out[i] = File{Path: f.Path, Data: data}
	}
	return out, nil
}
