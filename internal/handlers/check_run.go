package handlers

import (
	"context"
	"encoding/json"
	"strings"
)

// CheckRunHandler queues re-runs of the bot's own check runs.
type CheckRunHandler struct{ base }

// Handles names the event.
func (h *CheckRunHandler) Handles() []string { return []string{"check_run"} }

// Handle queues a rerequested systemsync/plan or systemsync/apply.
func (h *CheckRunHandler) Handle(ctx context.Context, event, delivery string, payload []byte) error {
	var ev struct {
		Action   string `json:"action"`
		CheckRun struct {
			Name string `json:"name"`
		} `json:"check_run"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	if ev.Action != "rerequested" || !strings.HasPrefix(ev.CheckRun.Name, "systemsync/") {
		return h.ignore(ctx, event, delivery, "not a re-run of a systemsync check")
	}
	return h.enqueue(ctx, event, delivery, payload)
}
