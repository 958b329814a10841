// Package githubflow is what the bot does on GitHub for one webhook
// delivery, once its job runs: plan a pull request and post the sticky
// comment and the systemsync/plan check run; apply a push to a pipeline's
// branch and report it on the commit and the merged pull request; record
// installations. Handlers only enqueue; this package does the work.
package githubflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/store"
)

// Check run names.
const (
	CheckPlan  = "systemsync/plan"
	CheckApply = "systemsync/apply"
)

// Flow carries out webhook deliveries.
type Flow struct {
	Apps   githubapp.ClientCreator
	Runner *pipeline.Runner
	DB     *store.DB
	Log    *slog.Logger
	// RunURL returns where a person can read run id; may be nil.
	RunURL func(id int64) string

	mu     sync.Mutex
	tokens map[int64]*github.InstallationToken
}

// Handle processes one delivery. An error means the job should be retried.
func (f *Flow) Handle(ctx context.Context, event, deliveryID string, payload []byte) error {
	log := f.Log.With("event", event, "delivery", deliveryID)
	switch event {
	case "pull_request":
		var ev github.PullRequestEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return fmt.Errorf("decode pull_request: %w: %w", jobs.ErrPermanent, err)
		}
		switch ev.GetAction() {
		case "opened", "synchronize", "reopened", "ready_for_review":
		default:
			return nil
		}
		pr := ev.GetPullRequest()
		return f.planPR(ctx, log, ev.GetInstallation().GetID(), ev.GetRepo(), pr.GetNumber(), pr.GetHead().GetSHA(), pr.GetBase().GetRef())
	case "issue_comment":
		var ev github.IssueCommentEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return fmt.Errorf("decode issue_comment: %w: %w", jobs.ErrPermanent, err)
		}
		return f.comment(ctx, log, &ev)
	case "push":
		var ev github.PushEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return fmt.Errorf("decode push: %w: %w", jobs.ErrPermanent, err)
		}
		return f.push(ctx, log, &ev, payload)
	case "check_run":
		var ev checkRunEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return fmt.Errorf("decode check_run: %w: %w", jobs.ErrPermanent, err)
		}
		return f.rerequest(ctx, log, &ev, payload)
	case "installation", "installation_repositories":
		return f.recordInstallation(ctx, event, payload)
	}
	return nil
}

// checkRunEvent is the part of a check_run delivery the bot reads. Only
// these fields are decoded, so a timestamp in a format go-github does not
// take (octokit's own examples have some) cannot fail the job.
type checkRunEvent struct {
	Action   string `json:"action"`
	CheckRun struct {
		Name         string `json:"name"`
		HeadSHA      string `json:"head_sha"`
		PullRequests []struct {
			Number int `json:"number"`
			Base   struct {
				Ref string `json:"ref"`
			} `json:"base"`
		} `json:"pull_requests"`
		CheckSuite struct {
			HeadBranch string `json:"head_branch"`
		} `json:"check_suite"`
	} `json:"check_run"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repo struct {
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		Owner    struct {
			Login string `json:"login"`
		} `json:"owner"`
		CloneURL string `json:"clone_url"`
		HTMLURL  string `json:"html_url"`
		SSHURL   string `json:"ssh_url"`
		GitURL   string `json:"git_url"`
	} `json:"repository"`
}

func (ev *checkRunEvent) repo() *github.Repository {
	r := ev.Repo
	return &github.Repository{Name: &r.Name, FullName: &r.FullName, Owner: &github.User{Login: &r.Owner.Login},
		CloneURL: &r.CloneURL, HTMLURL: &r.HTMLURL, SSHURL: &r.SSHURL, GitURL: &r.GitURL}
}

// token returns an installation token for git, cached until shortly before it expires.
func (f *Flow) token(ctx context.Context, installationID int64) (string, error) {
	f.mu.Lock()
	if f.tokens == nil {
		f.tokens = map[int64]*github.InstallationToken{}
	}
	t := f.tokens[installationID]
	f.mu.Unlock()
	if t != nil && time.Until(t.GetExpiresAt().Time) > 5*time.Minute {
		return t.GetToken(), nil
	}
	app, err := f.Apps.NewAppClient()
	if err != nil {
		return "", fmt.Errorf("app client: %w", err)
	}
	t, _, err = app.Apps.CreateInstallationToken(ctx, installationID, nil)
	if err != nil {
		return "", fmt.Errorf("installation %d token: %w", installationID, err)
	}
	f.mu.Lock()
	f.tokens[installationID] = t
	f.mu.Unlock()
	return t.GetToken(), nil
}

// repoURLs are the URLs a repository is known by, for matching pipelines.
func repoURLs(r *github.Repository) []string {
	return []string{r.GetCloneURL(), r.GetHTMLURL(), r.GetSSHURL(), r.GetGitURL()}
}

// stagesFor returns the git → system stages of repo at branch.
func (f *Flow) stagesFor(ctx context.Context, log *slog.Logger, urls []string, branch string) ([]pipeline.Stage, error) {
	stages, problems, err := pipeline.LoadStages(ctx, f.Runner.System)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		log.Warn("pipeline skipped", "err", p)
	}
	return pipeline.MatchPush(stages, urls, branch), nil
}

func (f *Flow) recordInstallation(ctx context.Context, event string, payload []byte) error {
	var ev struct {
		Action       string `json:"action"`
		Installation struct {
			ID      int64 `json:"id"`
			Account struct {
				Login string `json:"login"`
			} `json:"account"`
		} `json:"installation"`
		Repositories []struct {
			FullName string `json:"full_name"`
		} `json:"repositories"`
		RepositoriesAdded []struct {
			FullName string `json:"full_name"`
		} `json:"repositories_added"`
		RepositoriesRemoved []struct {
			FullName string `json:"full_name"`
		} `json:"repositories_removed"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return fmt.Errorf("decode %s: %w", event, err)
	}
	var names []string
	for _, r := range append(ev.Repositories, ev.RepositoriesAdded...) {
		names = append(names, r.FullName)
	}
	for _, r := range ev.RepositoriesRemoved {
		names = append(names, "-"+r.FullName)
	}
	repos, _ := json.Marshal(names)
	_, err := f.DB.Exec(ctx, `INSERT INTO installations (id, account, action, repositories, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET account = excluded.account, action = excluded.action, repositories = excluded.repositories, updated_at = excluded.updated_at`,
		ev.Installation.ID, ev.Installation.Account.Login, event+"."+ev.Action, string(repos), time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record installation %d: %w", ev.Installation.ID, err)
	}
	return nil
}

func ownerName(r *github.Repository) (string, string) {
	owner := r.GetOwner().GetLogin()
	if owner == "" {
		owner = r.GetOwner().GetName()
	}
	if owner == "" {
		owner, _, _ = strings.Cut(r.GetFullName(), "/")
	}
	return owner, r.GetName()
}

func pushRepo(r *github.PushEventRepository) *github.Repository {
	owner := r.GetOwner()
	if owner != nil && owner.Login == nil {
		owner = &github.User{Login: owner.Name}
	}
	return &github.Repository{Name: r.Name, FullName: r.FullName, Owner: owner, CloneURL: r.CloneURL,
		HTMLURL: r.HTMLURL, SSHURL: r.SSHURL, GitURL: r.GitURL}
}

func authOf(token string) gitrepo.Auth { return gitrepo.Auth{Token: token} }
