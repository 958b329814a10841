package githubflow

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/prcomment"
)

// pullRequestHandler plans opened and updated pull requests.
type pullRequestHandler struct{ *App }

// pullRequestJob is what a pull_request delivery stores: the pull request
// to plan, and where.
type pullRequestJob struct {
	Action      string `json:"action"`
	PullRequest struct {
		Number int `json:"number"`
		Head   struct {
			Ref string `json:"ref,omitempty"`
			SHA string `json:"sha"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository   repository   `json:"repository"`
	Installation installation `json:"installation"`
	Sender       *account     `json:"sender,omitempty"`
}

func (pullRequestHandler) Handles() []string { return []string{"pull_request"} }

// accept takes opened, synchronize, reopened and ready_for_review.
func (pullRequestHandler) accept(event string, payload []byte) (any, string, error) {
	var job pullRequestJob
	if err := decode(event, payload, &job); err != nil {
		return nil, "", err
	}
	switch job.Action {
	case "opened", "synchronize", "reopened", "ready_for_review":
	default:
		return nil, "action " + clip(job.Action, 80), nil
	}
	pr := job.PullRequest
	switch {
	case job.Installation.ID == 0:
		return nil, "", errNoInstallation
	case pr.Number <= 0:
		return nil, "", fmt.Errorf("pull_request: pull_request.number %d is not a pull request number", pr.Number)
	case !isSHA(pr.Head.SHA):
		return nil, "", fmt.Errorf("pull_request: pull_request.head.sha %q is not a commit ID", clip(pr.Head.SHA, 80))
	}
	return &job, "", nil
}

// work plans the pull request at the head the delivery names.
func (h pullRequestHandler) work(ctx context.Context, log *slog.Logger, event string, data []byte) error {
	job, err := decodeJob[pullRequestJob](event, data)
	if err != nil {
		return err
	}
	pr := job.PullRequest
	return h.planPR(ctx, log, job.Installation.ID, job.Repository, pr.Number, pr.Head.SHA, pr.Base.Ref)
}

// planCurrent plans a pull request at its current head, as GitHub reports it.
func (a *App) planCurrent(ctx context.Context, log *slog.Logger, inst int64, repo repository, gh *github.Client, number int) error {
	owner, name := repo.ownerName()
	pr, _, err := gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return fmt.Errorf("pull request #%d: %w", number, err)
	}
	return a.planPR(ctx, log, inst, repo, number, pr.GetHead().GetSHA(), pr.GetBase().GetRef())
}

// planPR plans every matching stage at the pull request's head and posts
// or edits its sticky comment and a systemsync/plan check run.
func (a *App) planPR(ctx context.Context, log *slog.Logger, inst int64, repo repository, number int, headSHA, baseRef string) error {
	stages, err := a.stagesFor(ctx, log, repo.urls(), baseRef)
	if err != nil || len(stages) == 0 {
		return err
	}
	gh, err := a.installationClient(inst)
	if err != nil {
		return err
	}
	owner, name := repo.ownerName()
	for _, st := range stages {
		check, _, err := gh.Checks.CreateCheckRun(ctx, owner, name, github.CreateCheckRunOptions{
			Name: CheckPlan, HeadSHA: headSHA, Status: github.String("in_progress"),
			ExternalID: github.String(st.ID()), StartedAt: &github.Timestamp{Time: time.Now()},
		})
		if err != nil {
			return fmt.Errorf("create check run on %s: %w", headSHA, err)
		}
		planned, err := a.runner.Plan(ctx, st, fmt.Sprintf("refs/pull/%d/head", number))
		if err == nil && headSHA != "" && planned.Commit != headSHA {
			// The pull ref has moved on (or not caught up): plan the commit the event names.
			planned, err = a.runner.Plan(ctx, st, headSHA)
		}
		if err != nil {
			a.finishCheck(ctx, gh, owner, name, CheckPlan, check.GetID(), "failure", "The plan could not be made", err.Error(), "", nil)
			return err
		}
		in := prcomment.Input{StageID: st.ID(), HeadSHA: planned.Commit, RepoURL: repo.HTMLURL, Plan: planned.Plan.GitToSystem()}
		if err := a.upsertComment(ctx, gh, owner, name, number, prcomment.Marker(st.ID()), prcomment.PlanComment(in)); err != nil {
			return err
		}
		conclusion, title, summary, text := prcomment.CheckOutput(in)
		if err := a.finishCheck(ctx, gh, owner, name, CheckPlan, check.GetID(), conclusion, title, summary, text, prcomment.Annotations(in.Plan)); err != nil {
			return err
		}
		log.Info("planned pull request", "repo", repo.FullName, "pr", number, "stage", st.ID(), "head", planned.Commit, "summary", prcomment.Counts(in.Plan))
	}
	return nil
}
