package handlers

import (
	"context"
	"encoding/json"
	"strings"
)

// PushHandler queues pushes to branches: merge-to-apply.
type PushHandler struct{ base }

// Handles names the event.
func (h *PushHandler) Handles() []string { return []string{"push"} }

// Handle queues a push that created or moved a branch.
func (h *PushHandler) Handle(ctx context.Context, event, delivery string, payload []byte) error {
	var ev struct {
		Ref     string `json:"ref"`
		Deleted bool   `json:"deleted"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	if ev.Deleted || !strings.HasPrefix(ev.Ref, "refs/heads/") {
		return h.ignore(ctx, event, delivery, "not a push to a branch")
	}
	return h.enqueue(ctx, event, delivery, payload)
}
