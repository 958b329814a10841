package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

const userEmail = "console-user@example.com"

// exportEnv is a controller, an empty bare repository served over HTTP,
// and a runner whose stage writes system changes to it.
type exportEnv struct {
	tmp    string
	ctl    *controllerEnv
	gs     *gitServer
	bare   string // the bare repository's folder
	user   *controllerapi.Client
	runner *pipeline.Runner
	stage  pipeline.Stage
	bot    pipeline.Identity
}

func setupExportEnv(ctx context.Context, name string) (*exportEnv, error) {
	tmp, err := os.MkdirTemp("", "bench-export-")
	if err != nil {
		return nil, err
	}
	e := &exportEnv{tmp: tmp, bot: pipeline.Identity{Name: "System Sync", Email: benchEmail}}
	if e.ctl, err = startController(ctx, tmp); err != nil {
		return nil, err
	}
	if err := controller.NewKeys(e.ctl.db).Ensure(ctx, "user-key", userEmail); err != nil {
		return nil, err
	}
	e.user = controllerapi.New(e.ctl.url, "user-key")
	root := filepath.Join(tmp, "repos")
	os.MkdirAll(root, 0o755)
	if e.gs, err = newGitServer(root); err != nil {
		return nil, err
	}
	url, err := e.gs.newBare(name)
	if err != nil {
		return nil, err
	}
	e.bare = filepath.Join(root, name+".git")
	sys := controllerapi.New(e.ctl.url, benchKey)
	if _, err := sys.Apply(ctx, map[string]any{"apiVersion": "system.k8smgmt.io/v3", "kind": "Project",
		"metadata": map[string]any{"name": "default"}, "spec": map[string]any{"default": true}}); err != nil {
		return nil, err
	}
	// The follower finds its stages in the controller, as the server's does.
	for _, obj := range []map[string]any{
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "bench", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": url}},
		{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "bench", "project": "default"},
			"spec": map[string]any{"sharing": map[string]any{"enabled": true, "projects": []any{map[string]any{"name": "*"}}},
				"stages": []any{map[string]any{"name": "sync", "type": "SystemSync", "config": map[string]any{
					"gitToSystemSync": false, "systemToGitSync": true, "sourceAsDestination": true,
					"sourceRepo": map[string]any{"repository": "bench", "revision": "main"}}}}}},
	} {
		if _, err := controllerapi.New(e.ctl.url, benchKey).Apply(ctx, obj); err != nil {
			return nil, err
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.runner = &pipeline.Runner{DB: e.ctl.db, Git: gitrepo.NewManager(filepath.Join(tmp, "clones"), log, gitrepo.AllowAll()), Loader: reconcile.NewLoader(),
		System: sys, Runs: pipeline.NewRuns(e.ctl.db), Log: log, Snapshot: reconcile.NewSnapshot(), Bot: pipeline.Identity{Name: "System Sync", Email: benchEmail}}
	ref := pipeline.RepoRef{Repository: name, Revision: "main", URL: url}
	e.stage = pipeline.Stage{Pipeline: spec.Key{Kind: "Pipeline", Project: "default", Name: "bench"}, Name: "sync",
		SystemToGit: true, Source: ref, Dest: ref, Scope: reconcile.Scope{}}
	// A first export writes what the controller already holds (the project,
	// the repository, the pipeline), so that the timed changes start from a synced state.
	if _, err := e.runner.Export(ctx, e.stage, pipeline.TriggerManual, nil, pipeline.ExportOptions{}); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *exportEnv) close() {
	e.runner.Git.Close()
	e.gs.close()
	e.ctl.close()
	os.RemoveAll(e.tmp)
}

// mainRef reads the bare repository's main branch the way git stores it after a push.
func (e *exportEnv) mainRef() string {
	if b, err := os.ReadFile(filepath.Join(e.bare, "refs", "heads", "main")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// follow runs a follower until the returned stop is called.
func (e *exportEnv) follow(window time.Duration) func() {
	f := &pipeline.Follower{Runner: e.runner, Window: window, Log: e.runner.Log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	return func() { cancel(); <-done }
}

func nsObject(name string, i int) map[string]any {
	return map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "project": "default"},
		"spec":     map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "rev", "value": fmt.Sprint("r", i)}}}}}
}

func runExportBenches(ctx context.Context, o options) error {
	if err := benchChangeToCommit(ctx, o); err != nil {
		return err
	}
	if err := benchBurst(ctx, o); err != nil {
		return err
	}
	if err := benchFullExport(ctx, o, 0); err != nil {
		return err
	}
	if o.secrets > 0 {
		return benchFullExport(ctx, o, o.secrets)
	}
	return nil
}

// benchChangeToCommit: one change through the API at a time, timed until
// the commit is on the bare repository's main, less the gathering window.
func benchChangeToCommit(ctx context.Context, o options) error {
	e, err := setupExportEnv(ctx, "latency")
	if err != nil {
		return err
	}
	defer e.close()
	const window = 20 * time.Millisecond
	stop := e.follow(window)
	defer stop()
	time.Sleep(300 * time.Millisecond)
	var lat []time.Duration
	for i := 0; i < o.changes; i++ {
		before := e.mainRef()
		t0 := time.Now()
		if _, err := e.user.Apply(ctx, nsObject(fmt.Sprintf("ns-%d", i%20), i)); err != nil {
			return err
		}
		for e.mainRef() == before {
			if time.Since(t0) > 30*time.Second {
				return fmt.Errorf("change %d not committed within 30s", i)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(t0)-window)
	}
	sortDur(lat)
	fmt.Printf("### System → Git: one change through the API → commit pushed (%d changes)\n\n", o.changes)
	fmt.Printf("Each change is an apply through the API by a console user; timed until the bare repository's `main` (served by git http-backend) holds the commit, less the %v gathering window. Goal p99 ≤ 500 ms.\n\n", window)
	fmt.Println("| p50 | p90 | p99 | max |")
	fmt.Println("| --- | --- | --- | --- |")
	fmt.Printf("| %s | %s | %s | %s |\n\n", ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(lat[len(lat)-1]))
	fmt.Printf("Goal p99 ≤ 500 ms: %s.\n\n", verdict(pct(lat, 99) <= 500*time.Millisecond))
	return nil
}

// benchBurst: 1,000 changes over 10 s from 4 clients, default 2 s window.
func benchBurst(ctx context.Context, o options) error {
	e, err := setupExportEnv(ctx, "burst")
	if err != nil {
		return err
	}
	defer e.close()
	stop := e.follow(2 * time.Second)
	defer stop()
	time.Sleep(300 * time.Millisecond)
	n := o.burst
	interval := 10 * time.Second / time.Duration(n)
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, n)
	tick := time.NewTicker(interval)
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.user.Apply(ctx, nsObject(fmt.Sprintf("burst-%04d", i), i)); err != nil {
				errc <- err
			}
		}()
	}
	tick.Stop()
	wg.Wait()
	sent := time.Since(start)
	select {
	case err := <-errc:
		return err
	default:
	}
	var files int
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := gitCmd(e.bare, "ls-tree", "-r", "--name-only", "main")
		files = strings.Count(out, "namespaces/burst-")
		if files == n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	settled := time.Since(start)
	time.Sleep(3 * time.Second) // nothing more may come
	count, _ := gitCmd(e.bare, "rev-list", "--count", "main")
	fmt.Printf("### System → Git: a burst of %d changes in %v\n\n", n, sent.Round(100*time.Millisecond))
	fmt.Println("4 clients' worth of applies paced evenly over 10 s by one console user; the follower gathers changes for 2 s (the default window) per commit. Goal: every change in Git, ≤ 10 commits, nothing lost.")
	fmt.Println()
	fmt.Println("| changes sent | files in Git | commits | all in Git after |")
	fmt.Println("| --- | --- | --- | --- |")
	fmt.Printf("| %d | %d | %s | %s |\n\n", n, files, strings.TrimSpace(count), ms(settled))
	var commits int
	fmt.Sscan(strings.TrimSpace(count), &commits)
	fmt.Printf("Goal: %s.\n\n", verdict(files == n && commits <= 10))
	return nil
}

// benchFullExport: 10,000 resources exported into an empty repository,
// against rendering them to bytes; then a re-export that must write nothing.
// With secrets > 0, that many of them (spread evenly) are Repositories
// holding a clear-text password, which each project's SecretSealer seals.
func benchFullExport(ctx context.Context, o options, secrets int) error {
	name := "full"
	if secrets > 0 {
		name = "sealed"
	}
	e, err := setupExportEnv(ctx, name)
	if err != nil {
		return err
	}
	defer e.close()
	var objs []map[string]any
	for _, f := range spectest.Generate(o.files, 1) {
		rs, probs := spec.Parse(f.Path, f.Data)
		if len(probs) > 0 {
			return fmt.Errorf("%s: %v", f.Path, probs[0])
		}
		objs = append(objs, rs[0].Object)
	}
	if secrets > 0 {
		if objs, err = withSecrets(ctx, e, objs, secrets); err != nil {
			return err
		}
	}
	if err := applyAll(ctx, e.user, objs); err != nil {
		return err
	}
	t0 := time.Now()
	for _, obj := range objs {
		if _, err := spec.Render(spec.Canonical(obj)); err != nil {
			return err
		}
	}
	floor := time.Since(t0)
	steps := &stepLog{}
	e.runner.Log = slog.New(steps)
	t0 = time.Now()
	out, err := e.runner.Export(ctx, e.stage, pipeline.TriggerManual, nil, pipeline.ExportOptions{})
	if err != nil {
		return err
	}
	full := time.Since(t0)
	parts := steps.last()
	files, _ := gitCmd(e.bare, "ls-tree", "-r", "--name-only", "main")
	t0 = time.Now()
	again, err := e.runner.Export(ctx, e.stage, pipeline.TriggerInternal, nil, pipeline.ExportOptions{})
	if err != nil {
		return err
	}
	re := time.Since(t0)
	reParts := steps.last()
	// The export's plan lists the whole system (the snapshot's first use);
	// a fresh snapshot times that listing alone.
	t0 = time.Now()
	if _, _, err := reconcile.NewSnapshot().Actual(ctx, e.runner.System, e.runner.System, e.stage.Scope); err != nil {
		return err
	}
	list := time.Since(t0)
	clones, _ := filepath.Glob(filepath.Join(e.tmp, "clones", "*.git"))
	for _, dir := range append(clones, e.bare) {
		if out, err := gitCmd(dir, "fsck", "--strict", "--no-dangling"); err != nil {
			return fmt.Errorf("git fsck of %s: %w: %s", dir, err, out)
		}
	}
	var cold time.Duration
	if secrets > 0 {
		if err := checkSealed(e, secrets); err != nil {
			return err
		}
		// A fresh process: the sealers' keys parsed anew, no value known,
		// every sealed one in Git decrypted to compare.
		fresh := &pipeline.Runner{DB: e.runner.DB, Git: e.runner.Git, Loader: reconcile.NewLoader(), System: e.runner.System,
			Runs: e.runner.Runs, Log: e.runner.Log, Snapshot: reconcile.NewSnapshot(), Bot: e.runner.Bot}
		fresh.Loader.Keys = controller.NewStore(e.ctl.db).Sealers()
		t0 = time.Now()
		if again, err := fresh.Export(ctx, e.stage, pipeline.TriggerInternal, nil, pipeline.ExportOptions{}); err != nil || again.Commit != "" {
			return fmt.Errorf("re-export by a fresh runner: %v, commit %q", err, again.Commit)
		}
		cold = time.Since(t0)
		fmt.Printf("### Full export of %d resources into an empty folder, %d of them holding a password to seal\n\n", len(objs), secrets)
		fmt.Println("As the full export below, with one SecretSealer (KubeSeal) per project: each password goes to Git as `sealed://credentials.password` and to its resource's `artifacts/<name>/sealed-secret.yaml`, sealed as kubeseal seals (RSA-OAEP 2048 + AES-256-GCM). Floor: render the same resources, passwords in clear (`spec.Render`). Goal ≤ 2× the floor; a re-export of the unchanged system writes nothing.")
	} else {
		fmt.Printf("### Full export of %d resources into an empty folder\n\n", len(objs))
		fmt.Println("`Runner.Export` of a manual run: plan against the system, render every resource Rafay-style, one commit, push over HTTP. Floor: render the same resources to bytes (`spec.Render`). Goal ≤ 2× the floor; a re-export of the unchanged system writes nothing.")
	}
	fmt.Println()
	fmt.Println("| | time | / floor |")
	fmt.Println("| --- | --- | --- |")
	fmt.Printf("| floor: render %d resources | %s | 1.00× |\n", len(objs), ms(floor))
	fmt.Printf("| full export (commit %s…, %d files) | %s | %.2f× |\n", short(out.Commit), strings.Count(files, "\n")+1, ms(full), ratio(full, floor))
	for _, p := range parts {
		fmt.Printf("| — %s | %s | %.2f× |\n", stepName(p.name), ms(p.took), ratio(p.took, floor))
	}
	fmt.Printf("| the system's full list alone (a fresh snapshot) | %s | %.2f× |\n", ms(list), ratio(list, floor))
	fmt.Printf("| re-export of the unchanged system | %s | %.2f× |\n", ms(re), ratio(re, floor))
	for _, p := range reParts {
		fmt.Printf("| — %s | %s | %.2f× |\n", stepName(p.name), ms(p.took), ratio(p.took, floor))
	}
	if secrets > 0 {
		fmt.Printf("| re-export by a fresh runner (keys read, %d sealed values decrypted) | %s | %.2f× |\n", secrets, ms(cold), ratio(cold, floor))
	}
	fmt.Println()
	fmt.Printf("Goal ≤ 2× floor: %s. Re-export writes nothing: %s.\n\n", verdict(ratio(full, floor) <= 2), verdict(again.Commit == ""))
	return nil
}

// stepName describes a step Runner.Export logs.
func stepName(name string) string {
	switch name {
	case "fetch":
		return "fetch the destination"
	case "plan":
		return "plan (Git tree and the system's list, at the same time; sync state)"
	case "render":
		return "render the files (both cores)"
	case "commit":
		return "commit (one pack)"
	case "push":
		return "push over HTTP"
	case "state":
		return "record the sync state"
	case "record":
		return "record the run"
	}
	return name
}

type step struct {
	name string
	took time.Duration
}

// stepLog is a slog handler that keeps the step timings of the exports
// (Runner.Export's "export steps" debug line) and drops everything else.
type stepLog struct {
	mu    sync.Mutex
	steps [][]step
}

func (h *stepLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *stepLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *stepLog) WithGroup(string) slog.Handler            { return h }

func (h *stepLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "export steps" {
		return nil
	}
	var steps []step
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindDuration {
			steps = append(steps, step{a.Key, a.Value.Duration()})
		}
		return true
	})
	h.mu.Lock()
	h.steps = append(h.steps, steps)
	h.mu.Unlock()
	return nil
}

// last returns the steps of the latest export.
func (h *stepLog) last() []step {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.steps) == 0 {
		return nil
	}
	return h.steps[len(h.steps)-1]
}

func short(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}
