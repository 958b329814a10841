package handlers

import (
	"context"
	"encoding/json"
	"strings"
)

// IssueCommentHandler queues /systemsync commands on pull requests.
type IssueCommentHandler struct{ base }

// Handles names the event.
func (h *IssueCommentHandler) Handles() []string { return []string{"issue_comment"} }

// Handle queues a new comment on a pull request that starts with /systemsync.
// Whether its author may run it is checked when the job runs.
func (h *IssueCommentHandler) Handle(ctx context.Context, event, delivery string, payload []byte) error {
	var ev struct {
		Action string `json:"action"`
		Issue  struct {
			PullRequest *json.RawMessage `json:"pull_request"`
		} `json:"issue"`
		Comment struct {
			Body string `json:"body"`
		} `json:"comment"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	switch {
	case ev.Action != "created":
		return h.ignore(ctx, event, delivery, "action "+ev.Action)
	case ev.Issue.PullRequest == nil:
		return h.ignore(ctx, event, delivery, "not a pull request")
	case !strings.HasPrefix(strings.TrimSpace(ev.Comment.Body), "/systemsync"):
		return h.ignore(ctx, event, delivery, "not a /systemsync command")
	}
	return h.enqueue(ctx, event, delivery, payload)
}
