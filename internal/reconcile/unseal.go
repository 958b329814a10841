package reconcile

import (
	"bytes"
	"context"
	"fmt"

	"github.com/systemsync/systemsync/internal/parallel"
	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
)

// sealedScheme starts a sealed:// reference; a file without it has none.
var sealedScheme = []byte(sealing.Scheme)

// unsealKey is what a file's unsealing depends on: its blob at its path,
// its artifact's blob, and the keys of its project's sealer.
type unsealKey struct{ path, blob, artifact, sealer string }

// sealers returns, for one Load, each project's sealer, asked once.
type sealers struct {
	keys sealing.Keyring
	got  map[string]*sealing.Sealer
}

func (s *sealers) of(ctx context.Context, project string) (*sealing.Sealer, error) {
	if sl, ok := s.got[project]; ok {
		return sl, nil
	}
	sl, err := s.keys.Sealer(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("the sealers of project %q: %w", project, err)
	}
	s.got[project] = sl
	return sl, nil
}

// unsealFiles replaces each valid file of d holding sealed:// references
// with its unsealed copy (see unseal), when the loader has a keyring:
// from the cache when the same file, artifact and keys were unsealed
// before, the others on every core. blobs are the files' blob SHAs.
func (l *Loader) unsealFiles(ctx context.Context, src TreeSource, d *Desired, files []*File, blobs []string) error {
	if l.Keys == nil {
		return nil
	}
	ss := &sealers{keys: l.Keys, got: map[string]*sealing.Sealer{}}
	type todo struct {
		i       int
		key     unsealKey
		sealer  *sealing.Sealer
		artPath string
	}
	var work []todo
	for i, f := range files {
		if !f.sealed || !f.Valid() {
			continue
		}
		sl, err := ss.of(ctx, f.Key.Project)
		if err != nil {
			return err
		}
		artPath := sealing.ArtifactPath(f.Path, f.Key.Name)
		key := unsealKey{path: f.Path, blob: blobs[i], artifact: d.Paths[artPath], sealer: sl.ID()}
		l.mu.Lock()
		c, ok := l.unsealed[key]
		if ok {
			c.lastLoad = l.loads
		}
		l.mu.Unlock()
		if ok {
			files[i] = c.file
			continue
		}
		work = append(work, todo{i, key, sl, artPath})
	}
	errs := make([]error, len(work))
	parallel.For(len(work), func(n int) {
		w := work[n]
		out, err := unseal(ctx, src, files[w.i], w.sealer, w.artPath, w.key.artifact)
		if err != nil {
			errs[n] = err
			return
		}
		files[w.i] = out
		l.mu.Lock()
		l.unsealed[w.key] = &cached{file: out, lastLoad: l.loads}
		l.mu.Unlock()
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// unseal returns a copy of the valid file f whose sealed:// references
// hold their clear values, opened by sl (nil: the project has none) from
// the artifact at artPath (blob artBlob, "" when Git has none): the copy's
// hash and Resource are those of the unsealed object. A reference that
// cannot be unsealed is an error of the copy naming the field and line,
// which makes it invalid.
func unseal(ctx context.Context, src TreeSource, f *File, sl *sealing.Sealer, artPath, artBlob string) (*File, error) {
	r, problems := parseOne(f.Path, f.data)
	if len(problems) > 0 {
		return f, nil // not reached: the same bytes parsed before
	}
	if f.Key.Project != "" && r.Project() == "" {
		r.SetProject(f.Key.Project)
	}
	var art *sealing.Artifact
	missing := "its artifact " + artPath + " is missing"
	if artBlob != "" {
		data, err := src.Blob(ctx, artBlob, MaxFileBytes)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", artPath, err)
		}
		if art, err = sealing.ParseArtifact(data); err != nil {
			missing = "its artifact " + artPath + " is " + err.Error()
		}
	}
	out := *f
	out.Problems = append([]spec.Problem(nil), f.Problems...)
	refs := sealing.Refs(r.Object)
	if errs := sl.Unseal(r.Object, f.Key.Name, art, missing); len(errs) > 0 {
		for _, e := range errs {
			out.Problems = append(out.Problems, spec.Problem{File: f.Path, Line: r.LineOf(e.Path), Field: e.Path, Message: e.Message})
		}
		return &out, nil
	}
	out.clear = make(map[string]string, len(refs))
	for _, ref := range refs {
		v, _ := spec.FieldAt(r.Object, ref.Path)
		out.clear[ref.Path], _ = v.(string)
	}
	out.Hash = Hash(r.Object)
	out.Skip = spec.GitSyncSkip(r.Object)
	return &out, nil
}

// holdsRefs reports whether data may hold a sealed:// reference.
func holdsRefs(data []byte) bool { return bytes.Contains(data, sealedScheme) }
