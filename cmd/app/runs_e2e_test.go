package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// apiRun is a run as GET /api/runs/{id} answers.
type apiRun struct {
	ID      int64           `json:"id"`
	Trigger string          `json:"trigger"`
	Status  string          `json:"status"`
	Commit  string          `json:"commit"`
	EndedAt *time.Time      `json:"endedAt"`
	Payload json.RawMessage `json:"payload"`
	Rows    []struct {
		Kind, Project, Name, Path, Action, Outcome, Message string
	} `json:"rows"`
}

func getRun(t *testing.T, base, key string, id int64) (apiRun, bool) {
	t.Helper()
	code, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d", base, id), key, "")
	if code == 404 {
		return apiRun{}, false
	}
	var run apiRun
	if code != 200 || json.Unmarshal([]byte(body), &run) != nil {
		t.Fatalf("GET /api/runs/%d: %d %s", id, code, body)
	}
	return run, run.EndedAt != nil
}

// waitRun waits for run id to finish.
func waitRun(t *testing.T, base, key string, id int64) apiRun {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if run, done := getRun(t, base, key, id); done {
			return run
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("run %d did not finish within 20s", id)
	return apiRun{}
}

func (r apiRun) rows() string {
	var out []string
	for _, row := range r.Rows {
		out = append(out, row.Name+":"+row.Action+":"+row.Outcome)
	}
	return strings.Join(out, ",")
}

// TestLocalModeRunsAreTheUsers walks the README's `curl …/api/runs/1`: the
// first run is the user's push, not the seed's; a problem left in an
// unchanged file does not fail the next run; the bot's own commit starts
// none; every payload says who started the run, in the API's style.
func TestLocalModeRunsAreTheUsers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := storetest.URL(t)
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=local-key",
		"SYSTEMSYNC_POLL_INTERVAL=100ms", "SYSTEMSYNC_COMMIT_WINDOW=100ms", "SYSTEMSYNC_DATABASE_URL=" + dbURL}
	base, _, _, _ := startInProcess(t, env)
	key := "local-key"
	work := t.TempDir()
	git(t, work, "clone", "-q", filepath.Join(dir, "repos", "demo.git"), ".")

	// One bot identity on every commit, the first included.
	if got := git(t, work, "log", "--format=%an <%ae>|%cn <%ce>", "-1"); got != "System Sync <systemsync-bot@localhost>|System Sync <systemsync-bot@localhost>" {
		t.Fatalf("the first commit's author|committer = %s", got)
	}

	// The user's push: a namespace and a broken file. It is run 1.
	nsDir := filepath.Join(work, "projects", "default", "namespaces")
	os.MkdirAll(nsDir, 0o755)
	os.WriteFile(filepath.Join(nsDir, "team-a.yaml"), []byte(namespaceYAML("team-a")), 0o644)
	os.WriteFile(filepath.Join(nsDir, "broken.yaml"), []byte("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: [broken\n"), 0o644)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "Add namespace team-a")
	git(t, work, "push", "-q", "origin", "HEAD:main")
	first := git(t, work, "rev-parse", "HEAD")
	run := waitRun(t, base, key, 1)
	if run.Trigger != "Webhook" || run.Commit != first || run.Status != "Partial" {
		t.Fatalf("run 1: %s %s at %s, want the user's push %s (Webhook, Partial)", run.Trigger, run.Status, run.Commit, first)
	}
	if got := run.rows(); got != "team-a:create:applied,broken:invalid:skipped" {
		t.Fatalf("run 1 rows: %s", got)
	}
	var poll struct {
		User string                 `json:"user"`
		Poll struct{ After string } `json:"poll"`
	}
	if err := json.Unmarshal(run.Payload, &poll); err != nil || poll.User != "dev@example.com" || poll.Poll.After != first {
		t.Fatalf("run 1 payload: %s", run.Payload)
	}

	// The next push leaves broken.yaml as it was: its problem is carried
	// over, and the run is the push's own: Success.
	os.WriteFile(filepath.Join(nsDir, "team-b.yaml"), []byte(namespaceYAML("team-b")), 0o644)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "Add namespace team-b")
	git(t, work, "push", "-q", "origin", "HEAD:main")
	run = waitRun(t, base, key, 2)
	if run.Status != "Success" || run.rows() != "team-b:create:applied,broken:invalid:unchanged" {
		t.Fatalf("run 2: %s, rows %s", run.Status, run.rows())
	}

	// A change through the API: an Internally Triggered run whose payload
	// names the change and its user in the API's style.
	if code, body := do(t, "POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", key, namespaceYAML("from-console")); code != 201 {
		t.Fatalf("apply: %d %s", code, body)
	}
	run = waitRun(t, base, key, 3)
	var changes struct {
		User    string `json:"user"`
		Changes []map[string]any
	}
	if err := json.Unmarshal(run.Payload, &changes); err != nil || run.Trigger != "Internally Triggered" || changes.User != "admin@localhost" || len(changes.Changes) != 1 {
		t.Fatalf("run 3: %s %s", run.Trigger, run.Payload)
	}
	c := changes.Changes[0]
	if c["kind"] != "Namespace" || c["project"] != "default" || c["name"] != "from-console" || c["type"] != "Create" || c["user"] != "admin@localhost" || c["time"] == nil {
		t.Fatalf("run 3's change: %v", c)
	}
	if _, ok := c["Key"]; ok {
		t.Fatalf("a change in Go's field names: %v", c)
	}
	botCommit := run.Commit

	// The bot's commit is polled, and starts no run: wait until the
	// poller has got to it, then for a run of a push after it.
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pos, err := db.Position(ctx, "poll:default/system-sync/system-sync-stage")
		if err != nil {
			t.Fatal(err)
		}
		if pos == botCommit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poller did not get to the bot's commit %s (at %q)", botCommit, pos)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := do(t, "GET", base+"/api/runs/4", key, ""); code != 404 {
		t.Fatalf("the bot's own commit started a run: %s", body)
	}
	git(t, work, "pull", "-q", "origin", "main")
	os.WriteFile(filepath.Join(nsDir, "team-c.yaml"), []byte(namespaceYAML("team-c")), 0o644)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "Add namespace team-c")
	git(t, work, "push", "-q", "origin", "HEAD:main")
	run = waitRun(t, base, key, 4)
	if err := json.Unmarshal(run.Payload, &poll); err != nil || run.rows() != "team-c:create:applied,broken:invalid:unchanged" {
		t.Fatalf("run 4: %s rows %s", run.Payload, run.rows())
	}
	var before struct{ Poll struct{ Before string } }
	json.Unmarshal(run.Payload, &before)
	if before.Poll.Before != botCommit {
		t.Fatalf("run 4 started from %s, not from the bot's commit %s", before.Poll.Before, botCommit)
	}

	// The Run button: Manually Triggered, by the key's user.
	code, body := do(t, "POST", base+"/api/pipelines/default/system-sync/run", key, "")
	if code != 202 {
		t.Fatalf("run: %d %s", code, body)
	}
	run = waitRun(t, base, key, 5)
	var manual struct {
		Manual bool
		User   string
	}
	if err := json.Unmarshal(run.Payload, &manual); err != nil || run.Trigger != "Manually Triggered" || !manual.Manual || manual.User != "admin@localhost" {
		t.Fatalf("run 5: %s %s", run.Trigger, run.Payload)
	}
	if run.Status != "Success" {
		t.Fatalf("the manual run of a tree whose only problem is carried over: %s, rows %s", run.Status, run.rows())
	}
}
