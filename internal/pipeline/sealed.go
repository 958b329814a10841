package pipeline

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
)

// exportSealers are the sealers of one export's projects, each asked for
// once; safe for concurrent use. A nil one seals nothing.
type exportSealers struct {
	keys sealing.Keyring
	plan *reconcile.Plan // what Git holds
	mu   sync.Mutex
	got  map[string]sealerOrErr
}

type sealerOrErr struct {
	s   *sealing.Sealer
	err error
}

// sealers returns the sealers of an export of plan: nil when the runner
// has no keyring.
func (r *Runner) sealers(plan *reconcile.Plan) *exportSealers {
	if r.Loader == nil || r.Loader.Keys == nil {
		return nil
	}
	return &exportSealers{keys: r.Loader.Keys, plan: plan, got: map[string]sealerOrErr{}}
}

func (e *exportSealers) of(ctx context.Context, project string) (*sealing.Sealer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g, ok := e.got[project]; ok {
		return g.s, g.err
	}
	s, err := e.keys.Sealer(ctx, project)
	e.got[project] = sealerOrErr{s, err}
	return s, err
}

// seal seals, in canon (the canonical object of an Export change), the
// secrets probs found, with the project's sealer, and returns the change
// to the resource's artifact (nil: none); or why the resource is not
// written: the project has no sealer (as without sealing: pointing at the
// Secret Sealer), or a secret no reference can stand for. existing is
// Git's file; with no secret found, its references' artifact is kept in
// step (dropped once nothing references it).
func (e *exportSealers) seal(ctx context.Context, repo *gitrepo.Repo, base string, c *reconcile.Change, canon map[string]any, probs []spec.Problem, existing []byte) (*gitrepo.FileChange, string) {
	notWritten := func(field, msg string) (*gitrepo.FileChange, string) {
		return nil, "not written to Git: " + field + ": " + msg
	}
	if len(probs) == 0 && !bytes.Contains(existing, []byte(sealing.Scheme)) && !sealing.HasRefs(canon) {
		return nil, ""
	}
	s, err := e.of(ctx, c.Key.Project)
	if err != nil {
		return nil, err.Error()
	}
	if s == nil {
		if len(probs) > 0 {
			return notWritten(probs[0].Field, probs[0].Message)
		}
		return nil, "" // references the system holds as they are: nothing to seal
	}
	artPath := sealing.ArtifactPath(c.Path, c.Key.Name)
	var prevData []byte
	var prev *sealing.Artifact
	if base != "" && e.plan.InGit(artPath) {
		data, err := repo.ReadFile(ctx, base, artPath)
		switch {
		case err == nil:
			prevData = data
			prev, _ = sealing.ParseArtifact(data) // not a SealedSecret: written anew
		case !errors.Is(err, gitrepo.ErrNotFound):
			return nil, err.Error()
		}
	}
	art, changed, errs := s.Seal(canon, c.Key.Name, prev)
	if len(errs) > 0 {
		return notWritten(errs[0].Path, errs[0].Message)
	}
	switch {
	case !changed:
		return nil, ""
	case art != nil:
		return &gitrepo.FileChange{Path: artPath, Data: art.Render()}, ""
	case prevData != nil && !refersTo(canon, c.Path, artPath):
		return &gitrepo.FileChange{Path: artPath, Delete: true}, ""
	}
	return nil, ""
}

// refersTo reports whether obj, at specPath, references the file at
// artPath with file:// (as Rafay's Repository names its sealed-secret.yaml).
func refersTo(obj map[string]any, specPath, artPath string) bool {
	refs, _ := spec.ArtifactRefs(&spec.Resource{Object: obj}, specPath)
	for _, r := range refs {
		if r == artPath {
			return true
		}
	}
	return false
}

// artifactGone is the deletion of a deleted resource's artifact, when Git
// holds one (nil otherwise).
func (e *exportSealers) artifactGone(base string, c *reconcile.Change) *gitrepo.FileChange {
	if e == nil || base == "" || !strings.HasSuffix(c.Path, ".yaml") {
		return nil
	}
	if artPath := sealing.ArtifactPath(c.Path, c.Key.Name); e.plan.InGit(artPath) {
		return &gitrepo.FileChange{Path: artPath, Delete: true}
	}
	return nil
}
