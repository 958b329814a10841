package pipeline_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

func syncPipeline(repo, folder string) map[string]any {
	return map[string]any{
		"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline",
		"metadata": map[string]any{"name": "system-sync", "project": "default"},
		"spec": map[string]any{
			"active":  true,
			"sharing": map[string]any{"enabled": true, "projects": []any{map[string]any{"name": "*"}}},
			"stages": []any{map[string]any{"name": "sync", "type": "SystemSync", "config": map[string]any{
				"gitToSystemSync": true, "systemToGitSync": true, "sourceAsDestination": true,
				"sourceRepo": map[string]any{"repository": repo, "revision": "main", "path": map[string]any{"name": folder}},
			}}},
		},
	}
}

func repository(name, url string) map[string]any {
	return map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": name, "project": "default"},
		"spec":     map[string]any{"type": "Git", "endpoint": url}}
}

func ns(project, name, value string) string {
	return "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: " + name + "\n  project: " + project +
		"\nspec:\n  placement:\n    labels:\n    - key: env\n      value: " + value + "\n"
}

type env struct {
	sys     *controllerapi.Client
	runner  *pipeline.Runner
	poller  *pipeline.Poller
	work    *gittest.Work
	bareDir string
}

func setup(t *testing.T, folder string) *env {
	t.Helper()
	e, _ := setupWithController(t, folder)
	return e
}

func setupWithController(t *testing.T, folder string) (*env, *controllertest.Controller) {
	t.Helper()
	ctx := context.Background()
	c := controllertest.Start(t)
	sys := controllerapi.New(c.URL, controllertest.AdminKey)
	srv := gittest.Serve(t)
	url := srv.NewBare(t, "specs")
	if _, err := sys.Apply(ctx, repository("specs", url)); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Apply(ctx, syncPipeline("specs", folder)); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &pipeline.Runner{DB: db, Git: gitrepo.NewManager(filepath.Join(t.TempDir(), "git"), log, gitrepo.AllowAll()), Loader: reconcile.NewLoader(),
		System: sys, Runs: pipeline.NewRuns(db), Log: log, Snapshot: reconcile.NewSnapshot(),
		Bot: pipeline.Identity{Name: "System Sync", Email: controllertest.AdminEmail}}
	return &env{sys: sys, runner: r, poller: &pipeline.Poller{Runner: r, Interval: time.Second, Log: log}, work: gittest.Clone(t, url),
		bareDir: filepath.Join(srv.Root, "specs.git")}, c
}

func TestStagesFromRealPipelines(t *testing.T) {
	for _, f := range []string{"presales-shared-system-sync-pipeline.yaml", "syncrepo-gke-system-sync-pipeline.yaml"} {
		data := mustRead(t, "../../testdata/rafay-specs/pipeline/"+f)
		rs, probs := spec.Parse(f, data)
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		stages, errs := pipeline.Stages(rs[0].Object, map[string]string{"gke-system-sync": "https://github.com/rafay-presales/gke-system-sync.git"})
		if len(errs) > 0 || len(stages) != 1 {
			t.Fatalf("%s: stages %v errors %v", f, stages, errs)
		}
		st := stages[0]
		if !st.GitToSystem || !st.SystemToGit || st.Source.Revision != "main" || st.Dest != st.Source || st.Source.Path != "" {
			t.Fatalf("%s: stage %+v", f, st)
		}
		if !st.Scope.KindIncluded("Cluster") || st.Scope.KindIncluded("Project") {
			t.Fatalf("%s: included kinds wrong", f)
		}
		if !st.Scope.ProjectCovered(rs[0].Project()) || st.Scope.ProjectCovered("elsewhere") {
			t.Fatalf("%s: covered projects wrong", f)
		}
		got := pipeline.MatchPush(stages, []string{"git@github.com:rafay-presales/gke-system-sync.git"}, "main")
		if len(got) != 1 {
			t.Fatalf("%s: an ssh URL of the same repository did not match", f)
		}
		if len(pipeline.MatchPush(stages, []string{"https://github.com/rafay-presales/gke-system-sync"}, "dev")) != 0 {
			t.Fatalf("%s: another branch matched", f)
		}
	}
}

func TestPollerAppliesNewCommitsOnce(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	e.work.Write(map[string]string{
		"projects/default/namespaces/a.yaml": ns("default", "a", "dev"),
		"projects/default/namespaces/b.yaml": ns("default", "b", "dev"),
		"README.md":                          "specs\n",
	}).Commit("two namespaces")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "b"); err != nil {
		t.Fatalf("b not applied: %v", err)
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 1 || runs[0].Status != pipeline.StatusSuccess || runs[0].Trigger != pipeline.TriggerWebhook {
		t.Fatalf("runs after first poll: %+v", runs)
	}
	// Nothing new: no run.
	e.poller.PollOnce(ctx)
	if runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10); len(runs) != 1 {
		t.Fatalf("%d runs after an idle poll", len(runs))
	}
	// A change outside the folder's specs: no resource changes; a broken file: Partial.
	e.work.Write(map[string]string{
		"projects/default/namespaces/a.yaml":      ns("default", "a", "prod"),
		"projects/default/namespaces/broken.yaml": "kind: [\n",
	}).Remove("projects/default/namespaces/b.yaml").Commit("change a, delete b, break one")
	e.work.Push("main")
	e.poller.PollOnce(ctx)
	runs, _ = e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 2 || runs[0].Status != pipeline.StatusPartial {
		t.Fatalf("runs: %+v", runs)
	}
	run, err := e.runner.Runs.Get(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range run.Rows {
		got = append(got, r.Name+":"+r.Action+":"+r.Outcome)
	}
	if strings.Join(got, ",") != "a:update:applied,b:delete:applied,broken:invalid:skipped" {
		t.Fatalf("run rows %v", got)
	}
	if !strings.Contains(string(run.Payload), `"after"`) {
		t.Fatalf("run payload %s", run.Payload)
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "b"); !controllerapi.IsNotFound(err) {
		t.Fatalf("b not deleted: %v", err)
	}
}

func TestChangeOutsideFolderRunsNothing(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "infra")
	e.work.Write(map[string]string{"infra/projects/default/namespaces/a.yaml": ns("default", "a", "dev")}).Commit("a")
	e.work.Push("main")
	e.poller.PollOnce(ctx)
	e.work.Write(map[string]string{"docs/readme.md": "hello\n", "projects/default/namespaces/x.yaml": ns("default", "x", "dev")}).Commit("outside")
	e.work.Push("main")
	e.poller.PollOnce(ctx)
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	if len(runs) != 1 {
		t.Fatalf("%d runs; a push outside the folder must not run", len(runs))
	}
	if _, err := e.sys.Get(ctx, "Namespace", "default", "x"); !controllerapi.IsNotFound(err) {
		t.Fatalf("a spec outside the pipeline folder was applied: %v", err)
	}
}
