package handlers

import (
	"context"
	"encoding/json"
)

// PullRequestHandler queues plans for opened and updated pull requests.
type PullRequestHandler struct{ base }

// Handles names the event.
func (h *PullRequestHandler) Handles() []string { return []string{"pull_request"} }

// Handle queues opened, synchronize, reopened and ready_for_review.
func (h *PullRequestHandler) Handle(ctx context.Context, event, delivery string, payload []byte) error {
	var ev struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	switch ev.Action {
	case "opened", "synchronize", "reopened", "ready_for_review":
		return h.enqueue(ctx, event, delivery, payload)
	}
	return h.ignore(ctx, event, delivery, "action "+ev.Action)
}
