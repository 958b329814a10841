package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/gittest"
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

func labelled(name, value string) string {
	return "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: " + name + "\n  project: default\nspec:\n  placement:\n    labels:\n    - key: env\n      value: " + value + "\n"
}

// apiConflict is a run's conflict as GET /api/runs/{id} answers.
type apiConflict struct {
	Kind, Project, Name, Path, Stage, Branch string
	Resolution                               *struct {
		Keep, By, Via string
		Run           int64
	}
}

func runConflicts(t *testing.T, base, key string, id int64) []apiConflict {
	t.Helper()
	code, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d", base, id), key, "")
	var run struct{ Conflicts []apiConflict }
	if code != 200 || json.Unmarshal([]byte(body), &run) != nil {
		t.Fatalf("GET /api/runs/%d: %d %s", id, code, body)
	}
	return run.Conflicts
}

// runNow presses Run and returns the run's id, finished.
func runNow(t *testing.T, base, key string) apiRun {
	t.Helper()
	code, body := do(t, "POST", base+"/api/pipelines/default/system-sync/run", key, "")
	var ids struct{ ID int64 }
	if code != 202 || json.Unmarshal([]byte(body), &ids) != nil {
		t.Fatalf("run: %d %s", code, body)
	}
	return waitRun(t, base, key, ids.ID)
}

// TestLocalModeConflictsResolvedThroughTheAPI: a resource changed in Git
// and in the console, differently, is a conflict whose system version goes
// to a branch; POST /api/runs/{id}/conflicts/… with keep git applies Git's
// version, with keep system writes the system's to main; either deletes the
// branch, says on the conflict's run how and by whom, and leaves nothing
// for the next run to find.
func TestLocalModeConflictsResolvedThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	// Pushes are not polled (after the first poll): the Run button applies them.
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=local-key",
		"SYSTEMSYNC_POLL_INTERVAL=1h", "SYSTEMSYNC_COMMIT_WINDOW=100ms", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, _, _, _ := startInProcess(t, env)
	key := "local-key"
	bare := filepath.Join(dir, "repos", "demo.git")
	work := t.TempDir()
	git(t, work, "clone", "-q", bare, ".")
	nsDir := filepath.Join(work, "projects", "default", "namespaces")
	os.MkdirAll(nsDir, 0o755)
	push := func(name, value string) {
		t.Helper()
		git(t, work, "pull", "-q", "origin", "main")
		os.WriteFile(filepath.Join(nsDir, name+".yaml"), []byte(labelled(name, value)), 0o644)
		git(t, work, "add", "-A")
		git(t, work, "commit", "-q", "-m", "namespace "+name+" "+value)
		git(t, work, "push", "-q", "origin", "HEAD:main")
	}
	system := func(name string) string {
		t.Helper()
		code, body := do(t, "GET", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces/"+name, key, "")
		if code != 200 {
			t.Fatalf("get %s: %d %s", name, code, body)
		}
		return body
	}
	// conflict makes one on name: synced, then changed in Git and in the
	// console; it returns the export run that found it.
	conflict := func(name string) (int64, apiConflict) {
		t.Helper()
		push(name, "v1")
		if run := runNow(t, base, key); run.Status != "Success" {
			t.Fatalf("the sync of %s: %s %s", name, run.Status, run.rows())
		}
		push(name, "from-git")
		if code, body := do(t, "POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", key, labelled(name, "from-console")); code != 200 {
			t.Fatalf("console change of %s: %d %s", name, code, body)
		}
		var found int64
		var c apiConflict
		deadline := time.Now().Add(20 * time.Second)
		for id := int64(1); found == 0; {
			if time.Now().After(deadline) {
				t.Fatalf("no run found the conflict of %s", name)
			}
			run, ok := getRun(t, base, key, id)
			if !ok {
				time.Sleep(50 * time.Millisecond)
				if _, exists := getRun(t, base, key, id+1); !exists {
					continue
				}
			}
			if cs := runConflicts(t, base, key, id); len(cs) == 1 && cs[0].Name == name {
				if run.Trigger != "Internally Triggered" || !strings.Contains(run.rows(), name+":conflict:skipped") {
					t.Fatalf("run %d found the conflict as %s, rows %s", id, run.Trigger, run.rows())
				}
				found, c = id, cs[0]
			}
			id++
		}
		if c.Branch != fmt.Sprintf("systemsync/conflict-%d", found) || c.Resolution != nil || c.Stage != "default/system-sync/system-sync-stage" {
			t.Fatalf("the conflict: %+v", c)
		}
		if got := gittest.Git(t, bare, "show", c.Branch+":projects/default/namespaces/"+name+".yaml"); !strings.Contains(got, "from-console") {
			t.Fatalf("the branch does not hold the system's version:\n%s", got)
		}
		return found, c
	}
	resolve := func(id int64, name, keep, withKey string) (int, string) {
		return do(t, "POST", fmt.Sprintf("%s/api/runs/%d/conflicts/Namespace/default/%s", base, id, name), withKey, `{"keep": "`+keep+`"}`)
	}

	// Keep Git's version.
	id, c := conflict("x")
	code, body := do(t, "POST", base+"/api/keys", key, `{"email": "viewer@example.com", "role": "viewer"}`)
	var viewer struct{ Key string }
	if code != 201 || json.Unmarshal([]byte(body), &viewer) != nil {
		t.Fatalf("viewer key: %d %s", code, body)
	}
	if code, body := resolve(id, "x", "git", viewer.Key); code != 403 {
		t.Fatalf("a viewer resolved a conflict: %d %s", code, body)
	}
	if code, body := resolve(id, "x", "theirs", key); code != 400 {
		t.Fatalf("keep theirs: %d %s", code, body)
	}
	if code, body := resolve(id, "y", "git", key); code != 404 {
		t.Fatalf("a conflict the run does not have: %d %s", code, body)
	}
	code, body = resolve(id, "x", "git", key)
	var answered struct{ Conflicts []apiConflict }
	if code != 200 || json.Unmarshal([]byte(body), &answered) != nil || len(answered.Conflicts) != 1 {
		t.Fatalf("keep git: %d %s", code, body)
	}
	res := answered.Conflicts[0].Resolution
	if res == nil || res.Keep != "git" || res.By != "admin@localhost" || res.Via != "API" || res.Run == 0 {
		t.Fatalf("the conflict's resolution: %s", body)
	}
	if got := runConflicts(t, base, key, id); got[0].Resolution == nil || got[0].Resolution.Run != res.Run {
		t.Fatalf("GET /api/runs/%d: %+v", id, got)
	}
	if s := system("x"); !strings.Contains(s, "from-git") {
		t.Fatalf("the system does not hold Git's version: %s", s)
	}
	resolving := waitRun(t, base, key, res.Run)
	if resolving.Trigger != "Manually Triggered" || resolving.Status != "Success" || resolving.rows() != "x:update:applied" {
		t.Fatalf("the resolving run: %s %s %s", resolving.Trigger, resolving.Status, resolving.rows())
	}
	if got := gittest.Git(t, bare, "branch", "--list", c.Branch); got != "" {
		t.Fatalf("the conflict branch is still there: %s", got)
	}
	if code, body := resolve(id, "x", "system", key); code != 409 {
		t.Fatalf("resolving again: %d %s", code, body)
	}
	if run := runNow(t, base, key); run.Status != "Success" || strings.Contains(run.rows(), "conflict") {
		t.Fatalf("the next run: %s %s", run.Status, run.rows())
	}

	// Keep the system's version.
	id, c = conflict("y")
	if code, body := resolve(id, "y", "system", key); code != 200 {
		t.Fatalf("keep system: %d %s", code, body)
	}
	git(t, work, "pull", "-q", "origin", "main")
	if got, _ := os.ReadFile(filepath.Join(nsDir, "y.yaml")); !strings.Contains(string(got), "from-console") {
		t.Fatalf("main does not hold the system's version:\n%s", got)
	}
	if got := git(t, work, "log", "-1", "--format=%ae|%ce|%s"); got != "admin@localhost|systemsync-bot@localhost|Resolve the conflict of Namespace/y: keep the system's version" {
		t.Fatalf("the resolving commit: %s", got)
	}
	if s := system("y"); !strings.Contains(s, "from-console") {
		t.Fatalf("the system changed: %s", s)
	}
	if got := gittest.Git(t, bare, "branch", "--list", c.Branch); got != "" {
		t.Fatalf("the conflict branch is still there: %s", got)
	}
	if got := runConflicts(t, base, key, id); got[0].Resolution == nil || got[0].Resolution.Keep != "system" || got[0].Resolution.By != "admin@localhost" {
		t.Fatalf("the conflict's resolution: %+v", got[0])
	}
	if run := runNow(t, base, key); run.Status != "Success" || strings.Contains(run.rows(), "conflict") {
		t.Fatalf("the next run: %s %s", run.Status, run.rows())
	}

	// Through the console: the run page shows the open conflict with its
	// buttons, and, once Git's version is kept, how and by whom.
	id, _ = conflict("z")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	form := func(path string, values url.Values) (int, string) {
		t.Helper()
		resp, err := browser.PostForm(base+path, values)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	page := func(path string) string {
		t.Helper()
		resp, err := browser.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if code, body := form("/login", url.Values{"api_key": {key}}); code != 200 {
		t.Fatalf("console sign-in: %d %s", code, body)
	}
	runPath := fmt.Sprintf("/runs/%d", id)
	if got := page(runPath); !strings.Contains(got, `id="conflict-rows"`) || !strings.Contains(got, "Namespace default/z") ||
		!strings.Contains(got, `value="git">Keep Git's</button>`) {
		t.Fatalf("the run page does not offer to resolve the conflict:\n%s", got)
	}
	if code, body := form(runPath+"/conflicts/Namespace/default/z", url.Values{"keep": {"git"}}); code != 200 || !strings.Contains(body, "kept Git's version — by admin@localhost, console") {
		t.Fatalf("resolving in the console: %d %s", code, body)
	}
	if s := system("z"); !strings.Contains(s, "from-git") {
		t.Fatalf("the system does not hold Git's version: %s", s)
	}
}
