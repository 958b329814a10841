package web

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/systemsync/systemsync/internal/pipeline"
)

// TestWhoStarted reads who or what started a run from the payloads the
// bot records: a manual run's user, a GitHub push (octokit's example), a
// poll, a system change's users.
func TestWhoStarted(t *testing.T) {
	push, err := os.ReadFile("../../testdata/github-webhooks/push/payload.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Pusher struct{ Name string } `json:"pusher"`
	}
	if err := json.Unmarshal(push, &ev); err != nil || ev.Pusher.Name == "" {
		t.Fatalf("push payload: %v", err)
	}
	for payload, want := range map[string]string{
		`{"manual":true,"user":"a@example.com"}`: "a@example.com",
		string(push):                             ev.Pusher.Name + " (push)",
		`{"poll":{"repository":"file:///r/demo.git","ref":"refs/heads/main","before":"","after":"x"}}`:                                        "poll of file:///r/demo.git main",
		`{"changes":[{"Key":{"Kind":"Namespace"},"Type":"Update","User":"b@example.com"},{"User":"b@example.com"},{"user":"c@example.com"}]}`: "b@example.com, c@example.com",
		`{"cron":{"trigger":"nightly","schedule":"0 3 * * *","tick":"2025-03-04T03:00:00Z","after":"x"}}`:                                     "Cron 0 3 * * * at 2025-03-04T03:00:00Z",
		`{"manual":true}`: "manual run",
		`null`:            "",
	} {
		if got := whoStarted(&pipeline.Run{Payload: json.RawMessage(payload)}); got != want {
			t.Errorf("whoStarted(%.60s…) = %q, want %q", payload, got, want)
		}
	}
}
