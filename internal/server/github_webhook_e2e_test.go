package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/store"
)

// End-to-end tests of the webhook's answers (issue 10, reproduction 7):
// what is refused and with which status, what is stored, how a job that
// can never succeed ends.

// post sends body to the bot's webhook with exactly the headers given
// (Content-Type application/json added) and returns the status and body.
func post(t *testing.T, b *bot, body []byte, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.hook, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func sha1Signature(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func TestSHA1SignatureAloneIsRefused(t *testing.T) {
	b := startBot(t)
	body := githubtest.Payload(t, "push", "payload.json", func(m map[string]any) {
		githubtest.SetRepo(m, b.gh, owner, repoName, inst)
		m["ref"], m["deleted"] = "refs/heads/main", false
	})
	secret := b.gh.WebhookSecret()
	for name, h := range map[string]map[string]string{
		"X-Hub-Signature only":                     {"X-Hub-Signature": sha1Signature(secret, body)},
		"a SHA-1 signature as X-Hub-Signature-256": {"X-Hub-Signature-256": sha1Signature(secret, body)},
	} {
		h["X-GitHub-Event"], h["X-GitHub-Delivery"] = "push", "sha1-"+strings.ReplaceAll(name, " ", "-")
		if code, resp := post(t, b, body, h); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, code, resp)
		}
	}
	if n := cmdJobs(t, b); n != 0 {
		t.Fatalf("%d jobs stored for SHA-1-signed deliveries", n)
	}
}

func TestMalformedOrIncompleteDeliveriesAreRefused(t *testing.T) {
	b := startBot(t)
	push := githubtest.Payload(t, "push", "payload.json", func(m map[string]any) {
		githubtest.SetRepo(m, b.gh, owner, repoName, inst)
		m["ref"], m["deleted"] = "refs/heads/main", false
	})
	installation := func(edit func(m map[string]any)) []byte {
		return githubtest.Payload(t, "installation", "created.payload.json", edit)
	}
	for _, tc := range []struct {
		name, event string
		body        []byte
		noDelivery  bool
	}{
		{"push: not JSON", "push", []byte(`{"ref": "refs/heads/main", "after": `), false},
		{"pull_request: not JSON", "pull_request", []byte(`{"action": "opened"`), false},
		{"issue_comment: not JSON", "issue_comment", []byte(`[{]`), false},
		{"check_run: not JSON", "check_run", []byte(`nope`), false},
		{"installation: not JSON", "installation", []byte(`{"action": "created", "installation": {"id": 4242,}}`), false},
		{"installation: an id that is not a number", "installation", installation(func(m map[string]any) {
			m["installation"].(map[string]any)["id"] = "4242"
		}), false},
		{"installation: no installation", "installation", installation(func(m map[string]any) { delete(m, "installation") }), false},
		{"push: no X-GitHub-Delivery", "push", push, true},
	} {
		h := map[string]string{"X-GitHub-Event": tc.event, "X-Hub-Signature-256": githubtest.Sign(b.gh.WebhookSecret(), tc.body)}
		if !tc.noDelivery {
			h["X-GitHub-Delivery"] = "malformed-" + strings.ReplaceAll(tc.name, " ", "-")
		}
		if code, resp := post(t, b, tc.body, h); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.name, code, resp)
		}
	}
	if n := cmdJobs(t, b); n != 0 {
		t.Fatalf("%d jobs stored for refused deliveries", n)
	}
	// The same push with its delivery ID is stored: the refusals were about what they lacked.
	if code, resp, _ := b.deliver(t, "push", "payload.json", func(m map[string]any) { m["ref"], m["deleted"] = "refs/heads/main", false }); code != http.StatusAccepted {
		t.Fatalf("a whole push: %d %s", code, resp)
	}
	if n := cmdJobs(t, b); n != 1 {
		t.Fatalf("%d jobs stored, want the one push", n)
	}
}

func TestBodyOverGitHubsCapIs413(t *testing.T) {
	b := startBot(t)
	body := append([]byte(`{"ref":"refs/heads/main","padding":"`), bytes.Repeat([]byte("x"), 26<<20)...)
	body = append(body, `"}`...)
	if code, resp := b.gh.Deliver(t, b.hook, "push", "too-large", body); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 26 MiB delivery: %d %.200s, want 413", code, resp)
	}
	if n := cmdJobs(t, b); n != 0 {
		t.Fatalf("%d jobs stored for a body over the cap", n)
	}
}

// jobBytes is the size of the stored job's arguments, as the database holds them.
func jobBytes(t *testing.T, b *bot, delivery string) int {
	t.Helper()
	q := `SELECT length(args) FROM river_job WHERE kind = 'github_event'`
	if b.s.DB.Dialect != store.SQLite {
		q = `SELECT octet_length(args::text) FROM river_job WHERE kind = 'github_event'`
	}
	rows, err := b.s.DB.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sizes []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) != 1 {
		t.Fatalf("%d jobs stored, want the one of %s", len(sizes), delivery)
	}
	return sizes[0]
}

func TestLargePushStoresOnlyWhatTheJobNeeds(t *testing.T) {
	b := startBot(t)
	b.work.Write(map[string]string{p("keep"): ns("keep", "dev")})
	head := b.work.Commit("keep")
	b.work.Push("main")
	// A real push payload made 24 MiB the way a large push is: many
	// commits, each listing many changed files.
	body := githubtest.Payload(t, "push", "payload.json", func(m map[string]any) {
		githubtest.SetRepo(m, b.gh, owner, repoName, inst)
		m["ref"], m["before"], m["after"], m["deleted"], m["created"] = "refs/heads/main", zeroSHA, head, false, true
		files := make([]any, 2000)
		for i := range files {
			files[i] = fmt.Sprintf("%s/projects/default/namespaces/generated-namespace-%06d.yaml", folder, i)
		}
		var commits []any
		for i := 0; i < 188; i++ {
			commits = append(commits, map[string]any{"id": head, "message": "generated", "modified": files,
				"author": map[string]any{"name": "Octo Cat", "email": "octocat@example.com"}})
		}
		m["commits"] = commits
		m["head_commit"] = map[string]any{"id": head, "message": "keep\n\n" + strings.Repeat("a long message ", 10000), "modified": files,
			"author": map[string]any{"name": "Octo Cat", "email": "octocat@example.com"}}
	})
	if len(body) < 24<<20 || len(body) > 25<<20 {
		t.Fatalf("payload of %d bytes, want 24 to 25 MiB", len(body))
	}
	code, resp := b.gh.Deliver(t, b.hook, "push", "large-push", body)
	if code != http.StatusAccepted {
		t.Fatalf("a 24 MiB push: %d %.300s", code, resp)
	}
	if n := jobBytes(t, b, "large-push"); n > 16<<10 {
		t.Fatalf("the job of a %d-byte push holds %d bytes", len(body), n)
	}
	runs := b.waitRuns(t, 1)
	if runs[0].Status != pipeline.StatusSuccess {
		t.Fatalf("run %+v", runs[0])
	}
	run, err := b.s.Runner.Runs.Get(context.Background(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Payload) > 16<<10 {
		t.Fatalf("the run's event payload holds %d bytes", len(run.Payload))
	}
	var ev struct {
		Ref, After string
		Repository struct {
			FullName string `json:"full_name"`
		}
		HeadCommit struct {
			ID, Message string
		} `json:"head_commit"`
	}
	if err := json.Unmarshal(run.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Ref != "refs/heads/main" || ev.After != head || ev.Repository.FullName != owner+"/"+repoName ||
		ev.HeadCommit.ID != head || !strings.HasPrefix(ev.HeadCommit.Message, "keep\n\na long message") {
		t.Fatalf("the run's event payload lacks the push's fields:\n%.1000s", run.Payload)
	}
}

// jobState waits for the one stored job to reach a final state and returns it and its attempts.
func jobState(t *testing.T, b *bot) (string, int) {
	t.Helper()
	var state string
	var attempt int
	eventually(t, "the job to end", func() bool {
		err := b.s.DB.QueryRow(context.Background(), `SELECT state, attempt FROM river_job WHERE kind = 'github_event'`).Scan(&state, &attempt)
		return err == nil && (state == "cancelled" || state == "discarded" || state == "completed")
	})
	return state, attempt
}

func TestJobThatCanNeverSucceedFailsOnce(t *testing.T) {
	b := startBot(t)
	// A malformed installation event as a row stored before this version,
	// which kept the whole payload: it cannot decode, now or ever.
	_, err := b.s.Queue.Enqueue(context.Background(), jobs.EventArgs{DeliveryID: "stored-earlier", Event: "installation",
		Payload: []byte(`{"action": "created", "installation": "4242", "repositories": {}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if state, attempt := jobState(t, b); state != "cancelled" || attempt != 1 {
		t.Fatalf("job %s after %d attempt(s), want cancelled after 1", state, attempt)
	}
	var n int
	if err := b.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM installations`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d installations recorded (%v)", n, err)
	}
}

func TestBareCommandGetsTheHelp(t *testing.T) {
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	cmdBranch(t, b, "feature", map[string]string{p("new-a"): ns("new-a", "dev")})
	b.gh.AddPull(owner, repoName, githubtest.Pull{Number: 3, HeadRef: "feature"})
	b.gh.SetPermission(owner, repoName, "carol", "write")

	if code, resp := cmdComment(t, b, 3, "carol", "/systemsync"); code != http.StatusAccepted {
		t.Fatalf("issue_comment delivery: %d %s", code, resp)
	}
	eventually(t, "the help comment", func() bool { return len(cmdBotComments(b, 3)) == 1 })
	help := cmdBotComments(b, 3)[0].GetBody()
	if !strings.Contains(help, "`/systemsync plan`") || !strings.Contains(help, "`/systemsync help`") || strings.Contains(help, "Unknown command") {
		t.Fatalf("reply to a bare /systemsync:\n%s", help)
	}
	// A word that only starts like the command is not one: ignored, nothing stored.
	code, resp, _ := b.deliver(t, "issue_comment", "created.payload.json", cmdIssueComment(b, 3, "carol", "/systemsyncplan", 0, true))
	if code != http.StatusOK || !strings.Contains(resp, `"ignored"`) {
		t.Fatalf("/systemsyncplan answered %d %s, want 200 ignored", code, resp)
	}
	if n := cmdJobs(t, b); n != 1 {
		t.Fatalf("%d jobs stored, want the bare command's", n)
	}
}
