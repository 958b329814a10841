package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
)

const (
	credsPath    = "projects/default/repositories/creds.yaml"
	credsArtPath = "projects/default/repositories/artifacts/creds/sealed-secret.yaml"
)

func credsObj(username, password string) map[string]any {
	return map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "creds", "project": "default"},
		"spec": map[string]any{"type": "Git", "endpoint": "https://bob:Url-pw-" + password + "@git.example.org/x.git",
			"credentials": map[string]any{"username": username, "password": password}}}
}

// A Repository whose password the system holds goes to Git sealed (the
// password and the URL holding one, each a whole value), the artifact
// rewritten only when a value changes; read back from Git, the system
// keeps the clear values; deleted, both files go. No commit holds a
// clear value.
func TestExportSealsWithTheProjectsSealer(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	e.runner.Loader.Keys = c.Store.Sealers()
	e.work.Write(map[string]string{"README.md": "specs\n"}).Commit("start")
	e.work.Push("main")
	e.runner.Bot = pipeline.Identity{Name: "System Sync", Email: controllertest.AdminEmail}
	if _, err := e.sys.Apply(ctx, map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "SecretSealer",
		"metadata": map[string]any{"name": "sealer", "project": "default"}, "spec": map[string]any{"type": "KubeSeal"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Apply(ctx, credsObj("bob", "Pw-first-1")); err != nil {
		t.Fatal(err)
	}
	sync := func(what string) *pipeline.Run {
		t.Helper()
		ids, err := e.runner.SyncNow(ctx, "default", "system-sync")
		if err != nil || len(ids) != 1 {
			t.Fatalf("%s: %v %v", what, ids, err)
		}
		run, _ := e.runner.Runs.Get(ctx, ids[0])
		if run.Status != pipeline.StatusSuccess {
			t.Fatalf("%s: run %s %s %+v", what, run.Status, run.Message, run.Rows)
		}
		e.work.Run("pull", "-q", "origin", "main")
		return run
	}
	sync("first export")
	file := e.work.Run("show", "HEAD:"+credsPath)
	if !strings.Contains(file, "password: sealed://credentials.password") || !strings.Contains(file, "endpoint: sealed://endpoint") ||
		!strings.Contains(file, "username: bob") {
		t.Fatalf("%s:\n%s", credsPath, file)
	}
	art1 := e.work.Run("show", "HEAD:"+credsArtPath)
	sealer, _ := c.Store.Sealers().Sealer(ctx, "default")
	unsealed := func(art string) map[string]any {
		t.Helper()
		a, err := sealing.ParseArtifact([]byte(art))
		if err != nil {
			t.Fatal(err)
		}
		obj := map[string]any{"kind": "Repository", "spec": map[string]any{"endpoint": "sealed://endpoint",
			"credentials": map[string]any{"password": "sealed://credentials.password"}}}
		if errs := sealing.NewSealer("default", nil, nil).Unseal(obj, "creds", a, ""); len(errs) != 2 {
			t.Fatalf("a sealer without keys opens the artifact: %v", errs)
		}
		if errs := sealer.Unseal(obj, "creds", a, ""); len(errs) > 0 {
			t.Fatal(errs)
		}
		return obj
	}
	if got := unsealed(art1); got["spec"].(map[string]any)["endpoint"] != "https://bob:Url-pw-Pw-first-1@git.example.org/x.git" {
		t.Fatalf("unsealed %v", got)
	}

	// Nothing changed: nothing written.
	head := e.work.Run("rev-parse", "HEAD")
	sync("again")
	if e.work.Run("rev-parse", "HEAD") != head {
		t.Fatalf("an unchanged system was written again: %s", e.work.Run("show", "--stat", "HEAD"))
	}
	// Another field changes: the spec file alone.
	if _, err := e.sys.Apply(ctx, credsObj("alice", "Pw-first-1")); err != nil {
		t.Fatal(err)
	}
	sync("a new username")
	if stat := e.work.Run("show", "--name-only", "--format=", "HEAD"); stat != credsPath {
		t.Fatalf("a new username changed %q", stat)
	}
	// The password changes: the artifact changes.
	if _, err := e.sys.Apply(ctx, credsObj("alice", "Pw-second-2")); err != nil {
		t.Fatal(err)
	}
	sync("a new password")
	if stat := e.work.Run("show", "--name-only", "--format=", "HEAD"); stat != credsArtPath {
		t.Fatalf("a new password changed %q", stat)
	}
	if got := unsealed(e.work.Run("show", "HEAD:"+credsArtPath)); spec.Equal(got, unsealed(art1)) {
		t.Fatal("the artifact holds the old values")
	}

	// From Git: a change to the file applies, the secrets unsealed.
	e.work.Write(map[string]string{credsPath: strings.Replace(e.work.Run("show", "HEAD:"+credsPath), "username: alice", "username: carol", 1) + "\n"}).Commit("carol")
	e.work.Push("main")
	run := sync("a change in Git")
	got, err := e.sys.Get(ctx, "Repository", "default", "creds")
	if err != nil {
		t.Fatal(err)
	}
	if !spec.Equal(got, credsObj("carol", "Pw-second-2")) {
		t.Fatalf("after %+v the system holds %v", run.Rows, got)
	}
	head = e.work.Run("rev-parse", "HEAD")
	sync("after the change from Git")
	if e.work.Run("rev-parse", "HEAD") != head {
		t.Fatalf("a change applied from Git was written back: %s", e.work.Run("show", "--stat", "HEAD"))
	}

	// A secret in a key cannot be sealed: that resource alone fails.
	ghs := "ghs_" + strings.Repeat("K3y5", 9)
	keyed := credsObj("dave", "Pw-dave-3")
	keyed["metadata"].(map[string]any)["name"] = "keyed"
	keyed["metadata"].(map[string]any)["labels"] = map[string]any{ghs: "x"}
	if _, err := e.sys.Apply(ctx, keyed); err != nil {
		t.Fatal(err)
	}
	ids, _ := e.runner.SyncNow(ctx, "default", "system-sync")
	run, _ = e.runner.Runs.Get(ctx, ids[0])
	var failed bool
	for _, r := range run.Rows {
		if r.Name == "keyed" && r.Outcome == "failed" && strings.Contains(r.Message, "a key cannot be sealed") && !strings.Contains(r.Message, ghs) {
			failed = true
		}
	}
	if !failed || run.Status == pipeline.StatusSuccess {
		t.Fatalf("a secret in a key: %s %+v", run.Status, run.Rows)
	}
	e.work.Run("pull", "-q", "origin", "main")

	// Deleted in the system: the file and its artifact go.
	if err := e.sys.Delete(ctx, "Repository", "default", "creds"); err != nil {
		t.Fatal(err)
	}
	ids, _ = e.runner.SyncNow(ctx, "default", "system-sync")
	e.work.Run("pull", "-q", "origin", "main")
	if files := e.work.Run("ls-files", "projects/default/repositories"); strings.Contains(files, "creds") {
		t.Fatalf("after the delete, Git holds %s", files)
	}

	log := e.work.Run("log", "--all", "-p")
	for _, v := range []string{"Pw-first-1", "Pw-second-2", "Pw-dave-3", ghs} {
		if strings.Contains(log, v) {
			t.Errorf("a commit holds %s", v)
		}
	}
}
