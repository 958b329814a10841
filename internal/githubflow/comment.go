package githubflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/pipeline"
)

// HelpText answers `/systemsync help`.
const HelpText = `### System Sync commands

| comment | what it does |
| --- | --- |
| ` + "`/systemsync plan`" + ` | plan this pull request again and update the plan comment and the ` + "`systemsync/plan`" + ` check |
| ` + "`/systemsync help`" + ` | show this help |

Commands are honoured from users with write access to the repository. Merging the pull request applies its plan.
`

// comment handles /systemsync commands on pull requests.
func (f *Flow) comment(ctx context.Context, log *slog.Logger, ev *github.IssueCommentEvent) error {
	if ev.GetAction() != "created" || !ev.GetIssue().IsPullRequest() {
		return nil
	}
	cmd := strings.Fields(strings.SplitN(strings.TrimSpace(ev.GetComment().GetBody()), "\n", 2)[0])
	if len(cmd) < 2 || cmd[0] != "/systemsync" {
		return nil
	}
	inst := ev.GetInstallation().GetID()
	repo := ev.GetRepo()
	owner, name := ownerName(repo)
	number := ev.GetIssue().GetNumber()
	gh, err := f.Apps.NewInstallationClient(inst)
	if err != nil {
		return fmt.Errorf("installation client: %w", err)
	}
	if cmd[1] != "plan" { // help (and unknown commands) are for anyone
		body := HelpText
		if cmd[1] != "help" {
			body = fmt.Sprintf("Unknown command `/systemsync %s`.\n\n", cmd[1]) + HelpText
		}
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, number, &github.IssueComment{Body: &body})
		return err
	}
	user := ev.GetComment().GetUser().GetLogin()
	perm, _, err := gh.Repositories.GetPermissionLevel(ctx, owner, name, user)
	if err != nil {
		return fmt.Errorf("permission of %s: %w", user, err)
	}
	switch perm.GetPermission() {
	case "admin", "maintain", "write":
	default:
		log.Info("command refused: no write access", "user", user, "command", cmd[1])
		body := fmt.Sprintf("@%s `/systemsync %s` needs write access to %s.", user, cmd[1], repo.GetFullName())
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, number, &github.IssueComment{Body: &body})
		return err
	}
	return f.planCurrent(ctx, log, inst, repo, gh, number)
}

// planCurrent plans a pull request at its current head, as GitHub reports it.
func (f *Flow) planCurrent(ctx context.Context, log *slog.Logger, inst int64, repo *github.Repository, gh *github.Client, number int) error {
	owner, name := ownerName(repo)
	pr, _, err := gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return fmt.Errorf("pull request #%d: %w", number, err)
	}
	return f.planPR(ctx, log, inst, repo, number, pr.GetHead().GetSHA(), pr.GetBase().GetRef())
}

// rerequest plans or applies again when a person re-runs a check.
func (f *Flow) rerequest(ctx context.Context, log *slog.Logger, ev *checkRunEvent, payload []byte) error {
	if ev.Action != "rerequested" {
		return nil
	}
	cr := ev.CheckRun
	inst := ev.Installation.ID
	repo := ev.repo()
	switch cr.Name {
	case CheckPlan:
		// Plan each pull request at its current head: re-running an old
		// check must not put an old commit's plan on the pull request.
		gh, err := f.Apps.NewInstallationClient(inst)
		if err != nil {
			return fmt.Errorf("installation client: %w", err)
		}
		for _, pr := range cr.PullRequests {
			if err := f.planCurrent(ctx, log, inst, repo, gh, pr.Number); err != nil {
				return err
			}
		}
	case CheckApply:
		stages, err := f.stagesFor(ctx, log, repoURLs(repo), cr.CheckSuite.HeadBranch)
		if err != nil {
			return err
		}
		token, err := f.token(ctx, inst)
		if err != nil {
			return err
		}
		for _, st := range stages {
			if err := f.apply(ctx, log, inst, repo, st, authOf(token), cr.HeadSHA, pipeline.TriggerManual, payload); err != nil {
				return err
			}
		}
	}
	return nil
}
