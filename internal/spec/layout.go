package spec

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PathType says what a file in a synced folder is.
type PathType int

const (
	// PathOther is any file the bot ignores (including unsafe paths).
	PathOther PathType = iota
	// PathProject is projects/<p>.yaml, the spec of Project <p>.
	PathProject
	// PathGitkeep is projects/<p>/.gitkeep, which keeps an empty project folder.
	PathGitkeep
	// PathSpec is projects/<p>/<plural>/<name>.yaml with a known plural.
	PathSpec
	// PathArtifact is anything deeper under projects/<p>/<plural>/: files
	// specs reference with file://, copied verbatim and never validated.
	PathArtifact
)

// String names the path type: "other", "project", "gitkeep", "spec", "artifact".
func (t PathType) String() string {
	switch t {
	case PathProject:
		return "project"
	case PathGitkeep:
		return "gitkeep"
	case PathSpec:
		return "spec"
	case PathArtifact:
		return "artifact"
	}
	return "other"
}

// PathInfo is what a path in a synced folder means.
type PathInfo struct {
	Type PathType
	Key  Key // Key is what the path implies (Kind from the plural; Project; Name from the file name without .yaml)
}

// ClassifyPath says what the file at rel (slash-separated, relative to the
// pipeline's folder) is, and which key its path implies: a Project key for
// PathProject, the project for PathGitkeep, kind, project and name for
// PathSpec, kind and project for PathArtifact. Paths that are not clean and
// relative (absolute, with "..", ".", empty segments or backslashes) are
// PathOther, as is a file at spec depth that does not end in .yaml.
func ClassifyPath(rel string) PathInfo {
	if rel == "" || strings.Contains(rel, `\`) || strings.HasPrefix(rel, "/") || path.Clean(rel) != rel {
		return PathInfo{}
	}
	seg := strings.Split(rel, "/")
	for _, s := range seg {
		if s == ".." || s == "." || s == "" {
			return PathInfo{}
		}
	}
	if seg[0] != "projects" || len(seg) < 2 {
		return PathInfo{}
	}
	if len(seg) == 2 {
		if name, ok := strings.CutSuffix(seg[1], ".yaml"); ok && name != "" {
			return PathInfo{Type: PathProject, Key: Key{Kind: "Project", Name: name}}
		}
		return PathInfo{}
	}
	project := seg[1]
	if len(seg) == 3 {
		if seg[2] == ".gitkeep" {
			return PathInfo{Type: PathGitkeep, Key: Key{Project: project}}
		}
		return PathInfo{}
	}
	kind, ok := LookupPlural(seg[2])
	if !ok || !kind.ProjectScoped {
		return PathInfo{}
	}
	if len(seg) == 4 {
		if name, ok := strings.CutSuffix(seg[3], ".yaml"); ok && name != "" {
			return PathInfo{Type: PathSpec, Key: Key{Kind: kind.Name, Project: project, Name: name}}
		}
		return PathInfo{}
	}
	return PathInfo{Type: PathArtifact, Key: Key{Kind: kind.Name, Project: project}}
}

// PathFor returns where the resource with key k lives: projects/<p>.yaml for a Project, else projects/<p>/<plural>/<name>.yaml.
// It returns "" for a kind the registry does not know.
func PathFor(k Key) string {
	if k.Kind == "Project" {
		return "projects/" + k.Name + ".yaml"
	}
	kind, ok := LookupKind(k.Kind)
	if !ok {
		return ""
	}
	return "projects/" + k.Project + "/" + kind.Plural + "/" + k.Name + ".yaml"
}

// GitkeepPath returns projects/<project>/.gitkeep, the file that keeps a
// project's folder in Git.
func GitkeepPath(project string) string {
	return "projects/" + project + "/.gitkeep"
}

// ArtifactRefs returns the repo-relative paths of the `file://` references in r (any string
// value starting with file://), resolved against the folder of the spec at specPath
// (so `file://artifacts/x/y.yaml` in projects/p/repositories/r.yaml is projects/p/repositories/artifacts/x/y.yaml).
// A reference that escapes the folder (`..`) is a warning: the artifact cannot go with the spec.
//
// Paths come in field order (keys sorted), each once. An empty reference
// is a warning too. An absolute one (file:///srv/git/demo.git, a local
// Repository's endpoint) is a URL, not an artifact: neither a path nor a
// problem.
func ArtifactRefs(r *Resource, specPath string) ([]string, []Problem) {
	var (
		refs  []string
		probs []Problem
		seen  = map[string]bool{}
	)
	dir := path.Dir(specPath)
	var walk func(v any, p string)
	walk = func(v any, p string) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(x[k], joinKey(p, k))
			}
		case []any:
			for i, e := range x {
				walk(e, joinIndex(p, i))
			}
		case string:
			ref, ok := strings.CutPrefix(x, "file://")
			if !ok {
				return
			}
			bad := ""
			switch {
			case ref == "":
				bad = "empty file:// reference"
			case strings.HasPrefix(ref, "/"):
				return
			case strings.Contains(ref, `\`):
				bad = fmt.Sprintf("file reference %q must use forward slashes, relative to the spec's folder", x)
			case path.Clean(ref) == ".." || strings.HasPrefix(path.Clean(ref), "../"):
				bad = fmt.Sprintf("file reference %q escapes the spec's folder: artifacts live under the folder that holds the spec", x)
			}
			if bad != "" {
				probs = append(probs, Problem{File: r.File, Line: r.LineOf(p), Field: p, Message: bad, Severity: SeverityWarning})
				return
			}
			full := path.Join(dir, ref)
			if !seen[full] {
				seen[full] = true
				refs = append(refs, full)
			}
		}
	}
	walk(r.Object, "")
	return refs, probs
}

// templateAction matches the opening of a Go template action that reads
// data or controls flow: {{ .x }}, {{ $x := . }}, {{- if ... }}, {{/* */}},
// {{ include "x" . }}. A bare {{Word}} (as in {{EC2PrivateDNSName}}) does not.
var templateAction = regexp.MustCompile(`\{\{-?\s*(?:[.$]|/\*|(?:if|else|end|range|with|define|template|block|break|continue)\b|[A-Za-z_][A-Za-z0-9_]*\s+(?:[.$"(]|[A-Za-z_]))`)

// IsTemplate reports whether data is a Go template rather than a spec (contains a template action like `{{ $x := . }}` or `{{ .x }}`; note `{{EC2PrivateDNSName}}` inside a value of a real Cluster file is NOT a template).
//
// Actions inside a literal or folded block scalar (a values file or a
// script embedded in a spec, such as an Override's overrideValues) do not
// make the file a template.
func IsTemplate(data []byte) bool {
	if !bytes.Contains(data, []byte("{{")) {
		return false
	}
	total := len(templateAction.FindAllIndex(data, -1))
	if total == 0 {
		return false
	}
	docs, err := decodeDocs(data)
	if err != nil {
		return true
	}
	inBlocks := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			inBlocks += len(templateAction.FindAllStringIndex(n.Value, -1))
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range docs {
		walk(d)
	}
	return total > inBlocks
}
