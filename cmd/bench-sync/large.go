package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// The large-resource benchmark: peak RSS of a child process that exports
// one 3 MB Namespace (100,000 labels) to Git, against a child that only
// renders it (spec.Render), each fetching it from the controller first.

const (
	largeName   = "large"
	largeLabels = 100000
)

// largeNamespace is the benchmark's resource: a Namespace with n labels
// (about 30 bytes each as JSON); rev changes one label's value.
func largeNamespace(n int, rev string) map[string]any {
	labels := make(map[string]any, n)
	for i := range n {
		labels[fmt.Sprintf("label-%06d", i)] = fmt.Sprintf("value-%06d", i)
	}
	labels["label-000000"] = rev
	return map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": largeName, "project": "default", "labels": labels},
		"spec":     map[string]any{"placement": map[string]any{}}}
}

var largeKey = spec.Key{Kind: "Namespace", Project: "default", Name: largeName}

// largeStage is the stage setupExportEnv makes for a repository.
func largeStage(repoURL string) pipeline.Stage {
	ref := pipeline.RepoRef{Repository: largeName, Revision: "main", URL: repoURL}
	return pipeline.Stage{Pipeline: spec.Key{Kind: "Pipeline", Project: "default", Name: "bench"}, Name: "sync",
		SystemToGit: true, Source: ref, Dest: ref, Scope: reconcile.Scope{}}
}

// childRenderLarge fetches the large resource and renders it, as a new
// file is written: the floor of its export.
func childRenderLarge(ctx context.Context, ctlURL string, res *childResult) (any, error) {
	obj, err := controllerapi.New(ctlURL, benchKey).Get(ctx, largeKey.Kind, largeKey.Project, largeKey.Name)
	if err != nil {
		return nil, err
	}
	data, err := spec.Render(spec.Canonical(obj))
	if err != nil {
		return nil, err
	}
	res.Files, res.Bytes = 1, len(data)
	return data, nil
}

// childExportLarge exports the system's change of the large resource with a
// fresh runner (an empty clone), as the follower does after a console change.
func childExportLarge(ctx context.Context, db *store.DB, dir, repoURL, ctlURL string, res *childResult) (any, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &pipeline.Runner{DB: db, Git: gitrepo.NewManager(filepath.Join(dir, "clones"), log, gitrepo.AllowAll()), Loader: reconcile.NewLoader(),
		System: controllerapi.New(ctlURL, benchKey), Runs: pipeline.NewRuns(db), Log: log, Snapshot: reconcile.NewSnapshot(), Bot: pipeline.Identity{Name: "System Sync", Email: benchEmail}}
	defer r.Git.Close()
	changes := []pipeline.Change{{Key: largeKey, Type: "Update", User: userEmail}}
	out, err := r.Export(ctx, largeStage(repoURL), pipeline.TriggerInternal, changes, pipeline.ExportOptions{})
	if err != nil {
		return nil, err
	}
	if out.Commit == "" || out.Run == nil || out.Run.Status != pipeline.StatusSuccess {
		return nil, fmt.Errorf("the export wrote nothing: %+v", out)
	}
	res.Files = 1
	return out, nil
}

// benchLarge measures peak RSS exporting one 3 MB resource: written anew,
// then edited in place (one label changed), each against rendering it.
func benchLarge(ctx context.Context) error {
	e, err := setupExportEnv(ctx, largeName)
	if err != nil {
		return err
	}
	defer e.close()
	canon, _ := spec.AppendCanonicalJSON(nil, largeNamespace(largeLabels, "v1"))
	type row struct {
		name string
		res  childResult
		rss  int64
	}
	var rows []row
	runOne := func(mode, name string) error {
		res, rss, err := runChildArgs(mode, "-repo", e.stage.Dest.URL, "-controller", e.ctl.url, "-db", e.ctl.dbURL)
		if err != nil {
			return err
		}
		progress("child %s: %.0f ms, VmHWM %.1f MB", mode, res.Millis, float64(res.VmHWM)/1e6)
		rows = append(rows, row{name, res, rss})
		return nil
	}
	if err := runOne("idle", "baseline: start, open the database"); err != nil {
		return err
	}
	path := "projects/default/namespaces/" + largeName + ".yaml"
	for _, step := range []struct{ rev, what string }{{"v1", "a new file"}, {"v2", "one label changed: the file edited in place"}} {
		if _, err := e.user.Apply(ctx, largeNamespace(largeLabels, step.rev)); err != nil {
			return err
		}
		if err := runOne("render-large", step.what+" — floor: get it, `spec.Render` it"); err != nil {
			return err
		}
		if err := runOne("export-large", step.what+" — `Runner.Export` of the change"); err != nil {
			return err
		}
		got, err := gitCmd(e.bare, "show", "main:"+path)
		if err != nil {
			return err
		}
		if !strings.Contains(got, "label-000000: "+step.rev+"\n") {
			return fmt.Errorf("after the export, %s does not hold label-000000: %s", path, step.rev)
		}
	}
	peak := func(r row) int64 {
		if r.res.VmHWM > 0 {
			return r.res.VmHWM
		}
		return r.rss
	}
	fmt.Printf("### Peak memory exporting one 3 MB resource\n\n")
	fmt.Printf("A Namespace with %d labels (%.2f MB as canonical JSON, %.2f MB as YAML), applied through the API; each row is a child process "+
		"(this program re-executed) that gets it from the controller over HTTP and either renders it (`spec.Render` of its canonical form: the floor) "+
		"or exports the change with a fresh runner (`Runner.Export`: clone, plan, edit or write the file, commit, push, record the run). "+
		"Peak RSS is the child's `VmHWM`. MB = 10^6 bytes. Goal ≤ 300 MB.\n\n", largeLabels, float64(len(canon))/1e6, float64(rows[1].res.Bytes)/1e6)
	fmt.Println("| child process | time | peak RSS (VmHWM) | heap in use at end | peak / render |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	ok := true
	for i, r := range rows {
		ratio := "–"
		if i > 0 {
			floor := rows[i]
			if strings.Contains(r.name, "Runner.Export") {
				floor = rows[i-1]
				ok = ok && peak(r) <= 300e6
			}
			ratio = fmt.Sprintf("%.2f×", float64(peak(r))/float64(peak(floor)))
		}
		fmt.Printf("| %s | %.0f ms | %.1f MB | %.1f MB | %s |\n", r.name, r.res.Millis, float64(peak(r))/1e6, float64(r.res.HeapInuse)/1e6, ratio)
	}
	fmt.Printf("\nGoal ≤ 300 MB: %s.\n\n", verdict(ok))
	return nil
}
