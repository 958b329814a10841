package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/spec"
)

// artifactFiles returns, for a stage with a separate destination, the
// artifacts (files referenced by `file://`) of the resources it writes that
// the destination lacks or holds otherwise, copied verbatim from the source
// branch: the destination's specs then find their files. A full export
// (manual run) checks every resource the system has, not just those it
// writes. A reference the source does not hold is left alone. The source
// is read with its own credentials, never the destination's.
func (r *Runner) artifactFiles(ctx context.Context, st Stage, dest *gitrepo.Repo, base string, p *Planned, written []gitrepo.FileChange, full bool) ([]gitrepo.FileChange, error) {
	if !st.SeparateDest() {
		return nil, nil // the artifacts are where the specs are
	}
	writing := map[string]bool{}
	for _, f := range written {
		writing[f.Path] = true
	}
	refs := map[string]bool{} // folder-relative artifact paths
	for _, c := range p.Plan.Changes {
		obj := c.System()
		if obj == nil || !(full || writing[c.Path]) {
			continue
		}
		rel := strings.TrimPrefix(c.Path, p.Folder+"/")
		if p.Folder == "" {
			rel = c.Path
		}
		paths, _ := spec.ArtifactRefs(&spec.Resource{Object: obj}, rel)
		for _, a := range paths {
			refs[a] = true
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	src, srcSHA, err := r.fetch(ctx, st.Source.URL, st.Source.Revision)
	if err != nil {
		return nil, fmt.Errorf("read artifacts from the source %s: %w", st.Source.Revision, err)
	}
	var out []gitrepo.FileChange
	for _, rel := range sortedSet(refs) {
		data, err := src.ReadFile(ctx, srcSHA, path.Join(st.Source.Path, rel))
		if errors.Is(err, gitrepo.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read artifact %s from the source: %w", rel, err)
		}
		destPath := path.Join(st.Dest.Path, rel)
		if writing[destPath] {
			continue
		}
		if base != "" {
			have, err := dest.ReadFile(ctx, base, destPath)
			if err == nil && bytes.Equal(have, data) {
				continue
			}
			if err != nil && !errors.Is(err, gitrepo.ErrNotFound) {
				return nil, fmt.Errorf("read artifact %s in the destination: %w", destPath, err)
			}
		}
		out = append(out, gitrepo.FileChange{Path: destPath, Data: data})
	}
	return out, nil
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
