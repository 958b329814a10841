package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/gittest"
)

// TestPushOfTheBotsOwnCommitsStartsNoRun: a console change becomes the
// bot's commit on GitHub; its push is delivered and worked, and starts no
// run. A person's push after it runs, naming the pusher.
func TestPushOfTheBotsOwnCommitsStartsNoRun(t *testing.T) {
	ctx := context.Background()
	b := exportingBot(t)
	gitDir := b.gh.GitDir(owner, repoName)
	before := gittest.Git(t, gitDir, "rev-parse", "main")
	if _, err := consoleUser(t, b, "carol@example.com").Apply(ctx, namespaceObj("from-console", "prod")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the bot's commit on GitHub", func() bool { return gittest.Git(t, gitDir, "rev-parse", "main") != before })
	botCommit := gittest.Git(t, gitDir, "rev-parse", "main")
	runs := b.waitRuns(t, 3) // exportingBot's two, and the export's
	if runs[0].Trigger != "Internally Triggered" {
		t.Fatalf("run %d: %s", runs[0].ID, runs[0].Trigger)
	}
	export, err := b.s.Runner.Runs.Get(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		User    string           `json:"user"`
		Changes []map[string]any `json:"changes"`
	}
	if err := json.Unmarshal(export.Payload, &payload); err != nil || payload.User != "carol@example.com" || len(payload.Changes) == 0 {
		t.Fatalf("the export's payload: %s", export.Payload)
	}
	last := payload.Changes[len(payload.Changes)-1]
	if last["kind"] != "Namespace" || last["name"] != "from-console" || last["user"] != "carol@example.com" || last["type"] != "Create" {
		t.Fatalf("the export's change: %v", last)
	}

	// GitHub delivers the push of the bot's commit.
	delivery := b.push(t, before, botCommit, "main")
	jobDone(t, b, delivery)
	if n := len(b.runs(t)); n != 3 {
		t.Fatalf("%d runs after the push of the bot's own commit, want 3", n)
	}
	for _, cr := range b.gh.CheckRuns(owner, repoName) {
		if cr.GetHeadSHA() == botCommit {
			t.Fatalf("the bot's own commit got a check run %s", cr.GetName())
		}
	}

	// A person's push after it: a run, whose payload names the pusher.
	b.work.Run("pull", "-q", "origin", "main")
	b.work.Write(map[string]string{p2("by-a-person"): ns("by-a-person", "dev")})
	mine := b.work.Commit("a person's change")
	b.work.Push("main")
	code, resp, _ := b.deliver(t, "push", "payload.json", func(p map[string]any) {
		p["ref"], p["before"], p["after"], p["deleted"], p["created"] = "refs/heads/main", botCommit, mine, false, false
		p["pusher"] = map[string]any{"name": "Codertocat", "email": "codertocat@example.com"}
	})
	if code != http.StatusAccepted {
		t.Fatalf("push delivery: %d %s", code, resp)
	}
	runs = b.waitRuns(t, 4)
	run, err := b.s.Runner.Runs.Get(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var push struct {
		User   string `json:"user"`
		After  string `json:"after"`
		Pusher struct{ Email string }
	}
	if err := json.Unmarshal(run.Payload, &push); err != nil || push.User != "codertocat@example.com" || push.After != mine || run.Trigger != "Webhook" {
		t.Fatalf("the person's run: %s %s", run.Trigger, run.Payload)
	}
	if !strings.Contains(string(run.Payload), `"pusher"`) {
		t.Fatalf("the payload lost GitHub's fields: %s", run.Payload)
	}
}
