package githubflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/prcomment"
	"github.com/systemsync/systemsync/internal/reconcile"
)

// push applies a push to a pipeline's source branch (merge-to-apply).
func (f *Flow) push(ctx context.Context, log *slog.Logger, ev *github.PushEvent, payload []byte) error {
	if ev.GetDeleted() || !strings.HasPrefix(ev.GetRef(), "refs/heads/") {
		return nil
	}
	branch := strings.TrimPrefix(ev.GetRef(), "refs/heads/")
	repo := pushRepo(ev.GetRepo())
	stages, err := f.stagesFor(ctx, log, repoURLs(repo), branch)
	if err != nil || len(stages) == 0 {
		return err
	}
	inst := ev.GetInstallation().GetID()
	token, err := f.token(ctx, inst)
	if err != nil {
		return err
	}
	auth := gitrepo.Auth{Token: token}
	for _, st := range stages {
		if _, err := f.fetch(ctx, st, auth, ev.GetAfter()); err != nil {
			return err
		}
		touched, err := f.Runner.Touches(ctx, st, auth, ev.GetBefore(), ev.GetAfter())
		if err != nil {
			return err
		}
		if !touched {
			log.Info("push does not touch the pipeline folder", "stage", st.ID(), "after", ev.GetAfter())
			continue
		}
		if err := f.apply(ctx, log, inst, repo, st, auth, ev.GetAfter(), pipeline.TriggerWebhook, payload); err != nil {
			return err
		}
	}
	return nil
}

func (f *Flow) fetch(ctx context.Context, st pipeline.Stage, auth gitrepo.Auth, ref string) (string, error) {
	repo, err := f.Runner.Git.Repo(ctx, st.Source.URL)
	if err != nil {
		return "", err
	}
	return repo.Fetch(ctx, auth, ref)
}

// apply runs the stage at sha, puts systemsync/apply on the commit and
// comments on the pull requests the commit came from.
func (f *Flow) apply(ctx context.Context, log *slog.Logger, inst int64, repo *github.Repository, st pipeline.Stage, auth gitrepo.Auth, sha, trigger string, payload []byte) error {
	gh, err := f.Apps.NewInstallationClient(inst)
	if err != nil {
		return fmt.Errorf("installation client: %w", err)
	}
	owner, name := ownerName(repo)
	check, _, err := gh.Checks.CreateCheckRun(ctx, owner, name, github.CreateCheckRunOptions{
		Name: CheckApply, HeadSHA: sha, Status: github.String("in_progress"),
		ExternalID: github.String(st.ID()), StartedAt: &github.Timestamp{Time: time.Now()},
	})
	if err != nil {
		return fmt.Errorf("create check run on %s: %w", sha, err)
	}
	applied, err := f.Runner.Apply(ctx, st, auth, sha, trigger, payload)
	if err != nil {
		f.finishCheck(ctx, gh, owner, name, CheckApply, check.GetID(), "failure", "The apply failed", err.Error(), "", nil)
		return err
	}
	run := applied.Run
	if run == nil {
		return f.finishCheck(ctx, gh, owner, name, CheckApply, check.GetID(), "success", "Nothing to apply",
			fmt.Sprintf("`%s` at `%s`: the system already matches this commit.", st.ID(), sha), "", nil)
	}
	runURL := ""
	if f.RunURL != nil {
		runURL = f.RunURL(run.ID)
	}
	conclusion := "success"
	if run.Status != pipeline.StatusSuccess {
		conclusion = "failure"
	}
	body := prcomment.ApplyComment(st.ID(), run.ID, sha, run.Status, applied.Results, runURL)
	summary := fmt.Sprintf("Run %d of `%s` at `%s`: **%s**.", run.ID, st.ID(), sha, run.Status)
	if err := f.finishCheck(ctx, gh, owner, name, CheckApply, check.GetID(), conclusion, run.Status, summary, body,
		prcomment.Annotations(applied.Planned.Plan.GitToSystem())); err != nil {
		return err
	}
	prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, sha, nil)
	if err != nil {
		return fmt.Errorf("pull requests of %s: %w", sha, err)
	}
	for _, pr := range prs {
		if pr.GetMergeCommitSHA() != sha && pr.GetHead().GetSHA() != sha {
			continue
		}
		if _, _, err := gh.Issues.CreateComment(ctx, owner, name, pr.GetNumber(), &github.IssueComment{Body: &body}); err != nil {
			return fmt.Errorf("comment on #%d: %w", pr.GetNumber(), err)
		}
	}
	log.Info("applied push", "repo", repo.GetFullName(), "stage", st.ID(), "sha", sha, "run", run.ID, "status", run.Status,
		"applied", countOutcome(applied.Results, reconcile.Applied), "failed", countOutcome(applied.Results, reconcile.Failed))
	return nil
}

func countOutcome(rs []reconcile.Result, o reconcile.Outcome) int {
	n := 0
	for _, r := range rs {
		if r.Outcome == o {
			n++
		}
	}
	return n
}
