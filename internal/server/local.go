package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// Local mode's names, as a user finds them.
const (
	DemoRepository = "demo"
	DemoPipeline   = "system-sync"
)

// DemoRepoPath is the bare repository local mode serves, under the data dir.
func DemoRepoPath(dataDir string) string { return filepath.Join(dataDir, "repos", "demo.git") }

// seedLocal creates, when missing, the demo bare repository (with a first
// commit holding the default project), the Repository `demo` naming it and
// the Pipeline `system-sync` that syncs it both ways, shared with all
// projects. Nothing a user changed is overwritten.
func seedLocal(ctx context.Context, s *Server) error {
	path, err := filepath.Abs(DemoRepoPath(s.Config.DataDir))
	if err != nil {
		return err
	}
	url := "file://" + path
	seed := []map[string]any{
		{
			"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
			"metadata": map[string]any{"name": DemoRepository, "project": DefaultProject, "description": "Local mode's demo repository"},
			"spec":     map[string]any{"type": "Git", "endpoint": url},
		},
		{
			"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline",
			"metadata": map[string]any{"name": DemoPipeline, "project": DefaultProject, "description": "Local mode: syncs the demo repository both ways"},
			"spec": map[string]any{
				"active":  true,
				"sharing": map[string]any{"enabled": true, "projects": []any{map[string]any{"name": "*"}}},
				"stages": []any{map[string]any{"name": "system-sync-stage", "type": "SystemSync", "config": map[string]any{
					"gitToSystemSync": true, "systemToGitSync": true, "sourceAsDestination": true, "destinationRepo": map[string]any{},
					"sourceRepo": map[string]any{"repository": DemoRepository, "revision": "main"},
				}}},
				"triggers": []any{map[string]any{"name": "demo-push", "type": "Webhook", "config": map[string]any{
					"repo": map[string]any{"provider": "Git", "repository": DemoRepository, "revision": "main"}}}},
			},
		},
	}
	keys := []spec.Key{{Kind: "Project", Name: DefaultProject}}
	for _, obj := range seed {
		r := &spec.Resource{Object: obj}
		keys = append(keys, r.Key())
		if _, err := s.Store.Get(ctx, r.Key()); err == nil {
			continue
		}
		if _, _, err := s.Store.Apply(ctx, r.Key(), spec.Canonical(obj), s.Config.AdminEmail, ""); err != nil {
			return fmt.Errorf("seed %s: %w", r.Key(), err)
		}
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := initDemoRepo(ctx, s, path, url, keys); err != nil {
			return fmt.Errorf("create demo repository %s: %w", path, err)
		}
	}
	return nil
}

// initDemoRepo creates the demo repository with a first commit holding the
// resources keys as the system has them, so that Git and the system agree
// from the start and the first change on either side is that change alone.
func initDemoRepo(ctx context.Context, s *Server, path, url string, keys []spec.Key) error {
	repo, err := git.PlainInit(path, true)
	if err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main"))); err != nil {
		return err
	}
	readme := "# System Sync demo repository\n\nSpecs live at projects/<project>/<kind plural>/<name>.yaml.\n" +
		"Push a change and the system follows; change the system and pull the commit.\n"
	files := []gitrepo.FileChange{
		{Path: "README.md", Data: []byte(readme)},
		{Path: spec.GitkeepPath(DefaultProject), Data: []byte{}},
	}
	for _, k := range keys {
		st, err := s.Store.Get(ctx, k)
		if err != nil {
			return err
		}
		data, err := spec.Render(spec.Canonical(st.Object))
		if err != nil {
			return fmt.Errorf("render %s: %w", k, err)
		}
		files = append(files, gitrepo.FileChange{Path: spec.PathFor(k), Data: data})
	}
	clone, err := s.git.Repo(ctx, url)
	if err != nil {
		return err
	}
	bot := s.Runner.Bot
	sig := gitrepo.Signature{Name: bot.Name, Email: bot.Email, When: time.Now()}
	sha, err := clone.Commit(ctx, "", files, sig, sig, "Initial commit: the default project and the demo pipeline")
	if err != nil {
		return err
	}
	if err := clone.Push(ctx, gitrepo.Auth{}, sha, "main", false); err != nil {
		return err
	}
	return seeded(ctx, s, url, sha, keys)
}

// seeded records that the demo stage's source at sha holds what the
// system holds for keys: their sync state, and sha as the commit polled
// and applied, so that the first run is the first change a person makes.
func seeded(ctx context.Context, s *Server, url, sha string, keys []spec.Key) error {
	pipelineObj, err := s.Store.Get(ctx, spec.Key{Kind: "Pipeline", Project: DefaultProject, Name: DemoPipeline})
	if err != nil {
		return err
	}
	stages, errs := pipeline.Stages(pipelineObj.Object, map[string]string{DemoRepository: url})
	if len(errs) > 0 || len(stages) != 1 {
		return fmt.Errorf("the demo pipeline's stage: %v", errs)
	}
	var states []pipeline.StateChange
	for _, k := range keys {
		obj, err := s.Store.Get(ctx, k)
		if err != nil {
			return err
		}
		h := reconcile.Hash(obj.Object)
		states = append(states, pipeline.StateChange{Key: k, State: reconcile.State{Path: spec.PathFor(k), GitHash: h, SystemHash: h}})
	}
	return pipeline.Seeded(ctx, s.DB, stages[0], sha, states)
}
