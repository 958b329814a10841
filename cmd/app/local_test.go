package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/store/storetest"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestLocalModeSyncsBothWays walks the README: clone the demo repository,
// push a namespace and see the system follow; change the system through the
// API and pull the commit.
func TestLocalModeSyncsBothWays(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=local-key",
		"SYSTEMSYNC_POLL_INTERVAL=200ms", "SYSTEMSYNC_COMMIT_WINDOW=200ms", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, stdout, _, _ := startInProcess(t, env)
	repo := filepath.Join(dir, "repos", "demo.git")
	if !strings.Contains(stdout.String(), "git clone "+repo) {
		t.Fatalf("start-up output does not show how to clone the demo repository:\n%s", stdout.String())
	}
	for _, p := range []string{"/apis/integrations.k8smgmt.io/v3/projects/default/repositories/demo", "/apis/gitops.k8smgmt.io/v3/projects/default/pipelines/system-sync"} {
		if code, body := do(t, "GET", base+p, "local-key", ""); code != 200 {
			t.Fatalf("seeded %s: %d %s", p, code, body)
		}
	}
	work := t.TempDir()
	git(t, work, "clone", "-q", repo, ".")
	if _, err := os.Stat(filepath.Join(work, "projects", "default.yaml")); err != nil {
		t.Fatalf("the demo repository has no default project: %v", err)
	}
	os.MkdirAll(filepath.Join(work, "projects", "default", "namespaces"), 0o755)
	os.WriteFile(filepath.Join(work, "projects", "default", "namespaces", "team-a.yaml"), []byte(namespaceYAML("team-a")), 0o644)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "Add namespace team-a")
	git(t, work, "push", "-q", "origin", "HEAD:main")

	deadline := time.Now().Add(20 * time.Second)
	for synced := false; !synced; {
		if time.Now().After(deadline) {
			t.Fatal("the pushed namespace and its Success run did not come within 20s")
		}
		if code, _ := do(t, "GET", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces/team-a", "local-key", ""); code == 200 {
			// The namespace is applied before its run is recorded as done.
			code, body := do(t, "GET", base+"/api/pipelines/default/system-sync/runs", "local-key", "")
			if code == 200 && strings.Contains(body, `"status":"In Progress"`) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if code != 200 || !strings.Contains(body, `"status":"Success"`) {
				t.Fatalf("runs after the push: %d %s", code, body)
			}
			synced = true
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The other way: a change through the API becomes a commit, by the key's user.
	if code, body := do(t, "POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", "local-key", namespaceYAML("from-console")); code != 201 {
		t.Fatalf("apply: %d %s", code, body)
	}
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		git(t, work, "pull", "-q", "origin", "main")
		if _, err := os.Stat(filepath.Join(work, "projects", "default", "namespaces", "from-console.yaml")); err == nil {
			// Git and the system agreed from the start: the commit is this change alone, as the README shows.
			if got := git(t, work, "log", "-1", "--format=%ae|%ce|%s"); got != "admin@localhost|systemsync-bot@localhost|Resource Namespace/from-console, Create" {
				t.Fatalf("commit author|committer|subject = %s", got)
			}
			if got := git(t, work, "show", "--name-only", "--format=", "HEAD"); got != "projects/default/namespaces/from-console.yaml" {
				t.Fatalf("the commit holds more than the change:\n%s", got)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the console change did not reach the demo repository within 20s")
}
