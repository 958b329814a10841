package githubflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// installationHandler records installations of the app and the
// repositories they cover.
type installationHandler struct{ *App }

// installationJob is what an installation or installation_repositories
// delivery stores: the installation, its account, and the repositories'
// full names.
type installationJob struct {
	Action       string `json:"action"`
	Installation struct {
		ID      int64   `json:"id"`
		Account account `json:"account"`
	} `json:"installation"`
	Repositories        []repoName `json:"repositories,omitempty"`
	RepositoriesAdded   []repoName `json:"repositories_added,omitempty"`
	RepositoriesRemoved []repoName `json:"repositories_removed,omitempty"`
}

type repoName struct {
	FullName string `json:"full_name"`
}

func (installationHandler) Handles() []string {
	return []string{"installation", "installation_repositories"}
}

// accept takes every action on an installation.
func (installationHandler) accept(event string, payload []byte) (any, string, error) {
	var job installationJob
	if err := decode(event, payload, &job); err != nil {
		return nil, "", err
	}
	if job.Installation.ID <= 0 {
		return nil, "", fmt.Errorf("%s: installation.id %d is not an installation", event, job.Installation.ID)
	}
	return &job, "", nil
}

// work records the installation: its account, the last action, and the
// repositories it named (removed ones with a leading "-").
func (h installationHandler) work(ctx context.Context, log *slog.Logger, event string, data []byte) error {
	job, err := decodeJob[installationJob](event, data)
	if err != nil {
		return err
	}
	var names []string
	for _, r := range append(job.Repositories, job.RepositoriesAdded...) {
		names = append(names, r.FullName)
	}
	for _, r := range job.RepositoriesRemoved {
		names = append(names, "-"+r.FullName)
	}
	repos, _ := json.Marshal(names)
	inst := job.Installation
	_, err = h.db.Exec(ctx, `INSERT INTO installations (id, account, action, repositories, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET account = excluded.account, action = excluded.action, repositories = excluded.repositories, updated_at = excluded.updated_at`,
		inst.ID, inst.Account.Login, event+"."+job.Action, string(repos), time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record installation %d: %w", inst.ID, err)
	}
	log.Info("installation recorded", "installation", inst.ID, "account", inst.Account.Login, "action", event+"."+job.Action)
	return nil
}
