package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
	"github.com/systemsync/systemsync/internal/store"
)

// planEnv is a repository of generated specs served over HTTP, a work tree
// of it, and a controller holding the same resources.
type planEnv struct {
	tmp      string
	files    []spectest.File
	bytes    int
	projects int
	gs       *gitServer
	repoURL  string
	work     string
	base     string
	ctl      *controllerEnv
	sys      *controllerapi.Client
	stage    pipeline.Stage
	applyDur time.Duration
	stateDur time.Duration
}

func setupPlanEnv(ctx context.Context, o options) (_ *planEnv, err error) {
	e := &planEnv{}
	if e.tmp, err = os.MkdirTemp("", "bench-sync-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.close(o.keep)
		}
	}()
	progress("temporary folder %s", e.tmp)
	t0 := time.Now()
	e.files = spectest.Generate(o.files, 1)
	objs := make([]map[string]any, 0, len(e.files))
	for _, f := range e.files {
		e.bytes += len(f.Data)
		r, err := parseValidate(f.Path, f.Data)
		if err != nil {
			return nil, fmt.Errorf("generated file: %w", err)
		}
		if r.KindName() == "Project" {
			e.projects++
		}
		objs = append(objs, r.Object)
	}
	progress("generated %d files (%d bytes) in %v", len(e.files), e.bytes, time.Since(t0).Round(time.Millisecond))

	// The repository: one commit of every file on main, pushed over HTTP.
	t0 = time.Now()
	for _, d := range []string{"repos", "work", "ctl"} {
		if err := os.MkdirAll(filepath.Join(e.tmp, d), 0o755); err != nil {
			return nil, err
		}
	}
	if e.gs, err = newGitServer(filepath.Join(e.tmp, "repos")); err != nil {
		return nil, err
	}
	if e.repoURL, err = e.gs.newBare("specs"); err != nil {
		return nil, err
	}
	e.work = filepath.Join(e.tmp, "work")
	if _, err := gitCmd(e.work, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	if _, err := gitCmd(e.work, "remote", "add", "origin", e.repoURL); err != nil {
		return nil, err
	}
	all := map[string][]byte{}
	for _, f := range e.files {
		all[f.Path] = f.Data
	}
	if err := writeFiles(e.work, all); err != nil {
		return nil, err
	}
	if _, err := gitCmd(e.work, "add", "-A"); err != nil {
		return nil, err
	}
	if _, err := gitCmd(e.work, "commit", "-q", "-m", fmt.Sprintf("%d specs", len(e.files))); err != nil {
		return nil, err
	}
	if e.base, err = gitCmd(e.work, "rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	if _, err := gitCmd(e.work, "push", "-q", "origin", "HEAD:refs/heads/main"); err != nil {
		return nil, err
	}
	progress("pushed %d files to %s in %v", len(e.files), e.repoURL, time.Since(t0).Round(time.Millisecond))

	// The controller: the same resources, through the API.
	if e.ctl, err = startController(ctx, filepath.Join(e.tmp, "ctl")); err != nil {
		return nil, err
	}
	e.sys = controllerapi.New(e.ctl.url, benchKey)
	t0 = time.Now()
	if err := applyAll(ctx, e.sys, objs); err != nil {
		return nil, fmt.Errorf("apply to the controller: %w", err)
	}
	e.applyDur = time.Since(t0)
	progress("applied %d resources to the controller in %v", len(objs), e.applyDur.Round(time.Millisecond))

	e.stage = pipeline.Stage{
		Pipeline:    spec.Key{Kind: "Pipeline", Project: "default", Name: "bench"},
		Name:        "sync",
		GitToSystem: true,
		Source:      pipeline.RepoRef{Repository: "specs", Revision: "main", Path: "", URL: e.repoURL},
		Scope:       reconcile.Scope{},
	}
	e.stage.Dest = e.stage.Source

	if o.syncState {
		// As after the merge that brought these files: every key synced.
		t0 = time.Now()
		r := e.newRunner(filepath.Join(e.tmp, "git-state"))
		applied, err := r.Apply(ctx, e.stage, "main", pipeline.TriggerManual, nil)
		r.Git.Close()
		if err != nil {
			return nil, fmt.Errorf("record the sync state: %w", err)
		}
		pl := applied.Planned.Plan
		if n := pl.Count(reconcile.Record) + pl.Count(reconcile.NoOp); n != len(e.files) || applied.Run.Status != pipeline.StatusSuccess {
			return nil, fmt.Errorf("first apply at the base: %d records of %d files (status %s)", n, len(e.files), applied.Run.Status)
		}
		e.stateDur = time.Since(t0)
		progress("recorded the sync state of %d keys (Runner.Apply at the base) in %v", len(e.files), e.stateDur.Round(time.Millisecond))
	}
	return e, nil
}

func (e *planEnv) close(keep bool) {
	if e.ctl != nil {
		e.ctl.close()
	}
	if e.gs != nil {
		e.gs.close()
	}
	if keep {
		progress("kept %s", e.tmp)
		return
	}
	os.RemoveAll(e.tmp)
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// newRunner returns a runner with an empty clone folder and an empty cache.
func (e *planEnv) newRunner(gitDir string) *pipeline.Runner {
	return &pipeline.Runner{DB: e.ctl.db, Git: gitrepo.NewManager(gitDir, nil, gitrepo.AllowAll()), Loader: reconcile.NewLoader(),
		System: e.sys, Runs: pipeline.NewRuns(e.ctl.db), Log: discard, Snapshot: reconcile.NewSnapshot()}
}

func runPlanBenches(ctx context.Context, e *planEnv, o options) error {
	fmt.Printf("Repository: %d generated spec files (spectest.Generate(%d, 1), %d projects, %.1f MB), one commit, served by git http-backend over HTTP on 127.0.0.1. "+
		"Controller: embedded, SQLite, over HTTP, holding the same %d resources (applied through the API in %v). "+
		"Stage: root folder, every kind and project, Git → system",
		len(e.files), o.files, e.projects, float64(e.bytes)/1e6, len(e.files), e.applyDur.Round(100*time.Millisecond))
	if o.syncState {
		fmt.Printf("; sync state of every key recorded (one Runner.Apply at the base, %v)", e.stateDur.Round(100*time.Millisecond))
	}
	fmt.Print(".\n\n")
	if o.benches["pr"] {
		if err := benchWarmPR(ctx, e, o); err != nil {
			return fmt.Errorf("warm PR plan: %w", err)
		}
	}
	if o.benches["cold"] {
		if err := benchCold(ctx, e, o); err != nil {
			return fmt.Errorf("cold full plan: %w", err)
		}
	}
	if o.benches["mem"] {
		if err := benchMemory(ctx, e, o); err != nil {
			return fmt.Errorf("peak memory: %w", err)
		}
	}
	return nil
}

// prFiles returns the indexes of the files PR i (from 0) changes: Projects
// are left alone, and no two PRs change the same file.
func prFiles(e *planEnv, i, changed int) []int {
	var idx []int
	for j := 0; j < changed; j++ {
		k := e.projects + (i*changed+j)%(len(e.files)-e.projects)
		idx = append(idx, k)
	}
	return idx
}

// changeFile returns f's content with a label set to rev: a semantic
// change, rendered as the product renders specs.
func changeFile(f spectest.File, rev string) ([]byte, error) {
	rs, probs := spec.Parse(f.Path, f.Data)
	if len(probs) > 0 || len(rs) != 1 {
		return nil, fmt.Errorf("%s does not parse", f.Path)
	}
	obj := rs[0].Object
	meta, _ := obj["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		meta["labels"] = labels
	}
	labels["bench-rev"] = rev
	return spec.Render(obj)
}

// pushPR commits, on top of the base, the files of PR i with a change,
// pushes the commit to refs/pull/<i+1>/head and returns the ref, its SHA and
// the changed files (path relative to the folder → content).
func pushPR(e *planEnv, i, changed int) (string, string, map[string][]byte, error) {
	if _, err := gitCmd(e.work, "checkout", "-q", "-f", "-B", "bench-pr", e.base); err != nil {
		return "", "", nil, err
	}
	files := map[string][]byte{}
	for _, k := range prFiles(e, i, changed) {
		data, err := changeFile(e.files[k], fmt.Sprintf("pr-%d", i+1))
		if err != nil {
			return "", "", nil, err
		}
		files[e.files[k].Path] = data
	}
	if err := writeFiles(e.work, files); err != nil {
		return "", "", nil, err
	}
	if _, err := gitCmd(e.work, "commit", "-q", "-a", "-m", fmt.Sprintf("PR %d: change %d files", i+1, changed)); err != nil {
		return "", "", nil, err
	}
	sha, err := gitCmd(e.work, "rev-parse", "HEAD")
	if err != nil {
		return "", "", nil, err
	}
	ref := fmt.Sprintf("refs/pull/%d/head", i+1)
	if _, err := gitCmd(e.work, "push", "-q", "origin", "HEAD:"+ref); err != nil {
		return "", "", nil, err
	}
	return ref, sha, files, nil
}

// prFloor is the least a PR plan must do: parse and validate the changed
// files, and list the controller.
func prFloor(ctx context.Context, e *planEnv, files map[string][]byte) (time.Duration, error) {
	t0 := time.Now()
	for p, data := range files {
		if _, err := parseValidate(p, data); err != nil {
			return 0, err
		}
	}
	actual, err := reconcile.LoadActual(ctx, e.sys, reconcile.Scope{})
	if err != nil {
		return 0, err
	}
	d := time.Since(t0)
	if len(actual) != len(e.files) {
		return 0, fmt.Errorf("controller lists %d resources, want %d", len(actual), len(e.files))
	}
	return d, nil
}

// planParts times the steps of Runner.Plan one by one: fetch, load (read
// and parse what the cache lacks), list the controller, load the sync state,
// plan.
type planParts struct{ fetch, load, list, state, plan, total time.Duration }

func timeParts(ctx context.Context, e *planEnv, r *pipeline.Runner, ref string) (planParts, *reconcile.Plan, error) {
	var p planParts
	t0 := time.Now()
	repo, err := r.Git.Repo(ctx, e.stage.Source.URL)
	if err != nil {
		return p, nil, err
	}
	sha, err := repo.Fetch(ctx, gitrepo.Auth{}, ref)
	if err != nil {
		return p, nil, err
	}
	t1 := time.Now()
	desired, err := r.Loader.Load(ctx, pipeline.RepoSource(repo), sha, e.stage.Source.Path, e.stage.Scope)
	if err != nil {
		return p, nil, err
	}
	t2 := time.Now()
	in := reconcile.Input{Desired: desired, FirstSync: reconcile.GitWins, SystemToGit: e.stage.SystemToGit}
	if r.Snapshot != nil {
		in.System, err = r.Snapshot.Objects(ctx, r.System, r.System, e.stage.Scope)
	} else {
		in.Actual, err = reconcile.LoadActual(ctx, r.System, e.stage.Scope)
	}
	if err != nil {
		return p, nil, err
	}
	t3 := time.Now()
	if in.State, err = pipeline.NewSyncState(r.DB, e.stage.ID()).Load(ctx); err != nil {
		return p, nil, err
	}
	t4 := time.Now()
	plan := reconcile.MakePlan(in)
	t5 := time.Now()
	p = planParts{fetch: t1.Sub(t0), load: t2.Sub(t1), list: t3.Sub(t2), state: t4.Sub(t3), plan: t5.Sub(t4), total: t5.Sub(t0)}
	return p, plan, nil
}

func benchWarmPR(ctx context.Context, e *planEnv, o options) error {
	if (o.prs+1)*o.changed > len(e.files)-e.projects {
		return fmt.Errorf("%d PRs of %d files need more than %d files", o.prs+1, o.changed, len(e.files)-e.projects)
	}
	r := e.newRunner(filepath.Join(e.tmp, "git-warm"))
	defer r.Git.Close()
	t0 := time.Now()
	warm, err := r.Plan(ctx, e.stage, "main")
	if err != nil {
		return err
	}
	warmDur := time.Since(t0)
	if warm.Commit != e.base {
		return fmt.Errorf("warm-up planned %s, want %s", warm.Commit, e.base)
	}
	progress("warm-up plan at the base: %v", warmDur.Round(time.Millisecond))

	var plans, floors []time.Duration
	for i := 0; i < o.prs; i++ {
		ref, sha, files, err := pushPR(e, i, o.changed)
		if err != nil {
			return err
		}
		t0 := time.Now()
		planned, err := r.Plan(ctx, e.stage, ref)
		d := time.Since(t0)
		if err != nil {
			return err
		}
		if planned.Commit != sha {
			return fmt.Errorf("planned %s, want %s", planned.Commit, sha)
		}
		if n := planned.Plan.Count(reconcile.Update); n != o.changed {
			return fmt.Errorf("PR %d: plan has %d updates, want %d", i+1, n, o.changed)
		}
		fd, err := prFloor(ctx, e, files)
		if err != nil {
			return err
		}
		plans, floors = append(plans, d), append(floors, fd)
		progress("PR %d: plan %v, floor %v", i+1, d.Round(100*time.Microsecond), fd.Round(100*time.Microsecond))
	}
	// One more PR, its plan timed step by step.
	ref, _, _, err := pushPR(e, o.prs, o.changed)
	if err != nil {
		return err
	}
	parts, plan, err := timeParts(ctx, e, r, ref)
	if err != nil {
		return err
	}
	if n := plan.Count(reconcile.Update); n != o.changed {
		return fmt.Errorf("parts PR: plan has %d updates, want %d", n, o.changed)
	}

	sortDur(plans)
	sortDur(floors)
	fmt.Printf("### Warm PR plan: %d files changed in a %d-file repository (%d PR commits)\n\n", o.changed, len(e.files), o.prs)
	fmt.Printf("Job start to plan ready: `Runner.Plan` of `refs/pull/N/head` (fetch of the new commit, read the tree, parse what the loader's cache lacks, list the controller, load the sync state, plan) on a runner that planned the base once (%v). "+
		"Floor: `spec.Parse` + `spec.Validate` of the %d changed files and `reconcile.LoadActual` (list the controller). Goal: p50 ≤ 300 ms and ≤ 3× the floor.\n\n",
		warmDur.Round(time.Millisecond), o.changed)
	fmt.Println("| | p50 | p90 | max |")
	fmt.Println("| --- | --- | --- | --- |")
	fmt.Printf("| floor: parse %d files + list controller | %s | %s | %s |\n", o.changed, ms(pct(floors, 50)), ms(pct(floors, 90)), ms(floors[len(floors)-1]))
	fmt.Printf("| PR plan (job start → plan ready) | %s | %s | %s |\n", ms(pct(plans, 50)), ms(pct(plans, 90)), ms(plans[len(plans)-1]))
	fmt.Printf("| plan / floor | %.2f× | %.2f× | |\n\n", ratio(pct(plans, 50), pct(floors, 50)), ratio(pct(plans, 90), pct(floors, 90)))
	fmt.Printf("One more PR plan, step by step: fetch %s, load %s, system (snapshot or list) %s, sync state %s, plan %s; total %s.\n\n",
		ms(parts.fetch), ms(parts.load), ms(parts.list), ms(parts.state), ms(parts.plan), ms(parts.total))
	fmt.Printf("Goal p50 ≤ 300 ms: %s. Goal ≤ 3× floor (p50): %s.\n\n",
		verdict(pct(plans, 50) <= 300*time.Millisecond), verdict(ratio(pct(plans, 50), pct(floors, 50)) <= 3))
	return nil
}

func benchCold(ctx context.Context, e *planEnv, o options) error {
	var plans, floors []time.Duration
	var allParts []planParts
	// The floor reads from a clone made once (reading, not fetching, is the floor).
	floorMgr := gitrepo.NewManager(filepath.Join(e.tmp, "git-floor"), nil, gitrepo.AllowAll())
	defer floorMgr.Close()
	floorRepo, err := floorMgr.Repo(ctx, e.repoURL)
	if err != nil {
		return err
	}
	if _, err := floorRepo.Fetch(ctx, gitrepo.Auth{}, "main"); err != nil {
		return err
	}
	for i := 0; i < o.coldIters; i++ {
		dir := filepath.Join(e.tmp, fmt.Sprintf("git-cold-%d", i))
		r := e.newRunner(dir)
		t0 := time.Now()
		planned, err := r.Plan(ctx, e.stage, "main")
		d := time.Since(t0)
		r.Git.Close()
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
		if n := len(planned.Plan.Changes); n != len(e.files) {
			return fmt.Errorf("cold plan has %d changes, want %d", n, len(e.files))
		}
		fd, err := coldFloor(ctx, floorRepo, e.base, len(e.files))
		if err != nil {
			return err
		}
		// The same cold plan again, step by step.
		dir = filepath.Join(e.tmp, fmt.Sprintf("git-parts-%d", i))
		r = e.newRunner(dir)
		parts, _, err := timeParts(ctx, e, r, "main")
		r.Git.Close()
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
		plans, floors, allParts = append(plans, d), append(floors, fd), append(allParts, parts)
		progress("cold %d: plan %v, floor %v, parts %+v", i+1, d.Round(time.Millisecond), fd.Round(time.Millisecond), parts)
	}
	mid := medianParts(allParts)
	sortDur(plans)
	sortDur(floors)
	p50, f50 := pct(plans, 50), pct(floors, 50)
	fmt.Printf("### Cold full plan of %d files (%d runs, median)\n\n", len(e.files), o.coldIters)
	fmt.Printf("A fresh runner (empty clone folder, empty loader cache) plans `main`: fetch everything, read and parse every file, list the controller, plan. " +
		"Floor: read every file's bytes from a clone (`ReadTree` + `Blob`) and `spec.Parse` + `spec.Validate` it, one goroutine. Goal ≤ 1.5× the floor.\n\n")
	fmt.Println("| | time | / floor |")
	fmt.Println("| --- | --- | --- |")
	fmt.Printf("| floor: read + parse %d files | %s | 1.00× |\n", len(e.files), ms(f50))
	fmt.Printf("| cold plan (`Runner.Plan`) | %s | %.2f× |\n", ms(p50), ratio(p50, f50))
	fmt.Printf("| — fetch (clone over HTTP) | %s | %.2f× |\n", ms(mid.fetch), ratio(mid.fetch, f50))
	fmt.Printf("| — load (read + parse + validate + hash) | %s | %.2f× |\n", ms(mid.load), ratio(mid.load, f50))
	fmt.Printf("| — the system: full list (first use of the snapshot) | %s | %.2f× |\n", ms(mid.list), ratio(mid.list, f50))
	fmt.Printf("| — load sync state | %s | %.2f× |\n", ms(mid.state), ratio(mid.state, f50))
	fmt.Printf("| — plan | %s | %.2f× |\n", ms(mid.plan), ratio(mid.plan, f50))
	fmt.Printf("| — total of the parts | %s | %.2f× |\n\n", ms(mid.total), ratio(mid.total, f50))
	fmt.Printf("Goal ≤ 1.5× floor: %s.\n\n", verdict(ratio(p50, f50) <= 1.5))
	return nil
}

// coldFloor reads every spec file at commit from repo and parses it.
func coldFloor(ctx context.Context, repo *gitrepo.Repo, commit string, want int) (time.Duration, error) {
	t0 := time.Now()
	entries, err := repo.ReadTree(ctx, commit, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, en := range entries {
		if !isSpecPath(en.Path) {
			continue
		}
		data, err := repo.Blob(ctx, en.BlobSHA, reconcile.MaxFileBytes)
		if err != nil {
			return 0, err
		}
		if _, err := parseValidate(en.Path, data); err != nil {
			return 0, err
		}
		n++
	}
	d := time.Since(t0)
	if n != want {
		return 0, fmt.Errorf("floor parsed %d files, want %d", n, want)
	}
	return d, nil
}

func medianParts(ps []planParts) planParts {
	pick := func(get func(planParts) time.Duration) time.Duration {
		ds := make([]time.Duration, len(ps))
		for i, p := range ps {
			ds[i] = get(p)
		}
		sortDur(ds)
		return pct(ds, 50)
	}
	return planParts{
		fetch: pick(func(p planParts) time.Duration { return p.fetch }),
		load:  pick(func(p planParts) time.Duration { return p.load }),
		list:  pick(func(p planParts) time.Duration { return p.list }),
		state: pick(func(p planParts) time.Duration { return p.state }),
		plan:  pick(func(p planParts) time.Duration { return p.plan }),
		total: pick(func(p planParts) time.Duration { return p.total }),
	}
}

// openStore opens a database for a child process (no migration: the parent did it).
func openStore(ctx context.Context, url string) (*store.DB, error) { return store.Open(ctx, url) }
