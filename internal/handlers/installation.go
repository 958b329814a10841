package handlers

import "context"

// InstallationHandler queues installation changes, which are recorded.
type InstallationHandler struct{ base }

// Handles names the events.
func (h *InstallationHandler) Handles() []string {
	return []string{"installation", "installation_repositories"}
}

// Handle queues the delivery.
func (h *InstallationHandler) Handle(ctx context.Context, event, delivery string, payload []byte) error {
	return h.enqueue(ctx, event, delivery, payload)
}
