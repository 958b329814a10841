package githubflow

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/systemsync/systemsync/internal/pipeline"
)

// checkRunHandler plans or applies again when a person re-runs one of the
// bot's check runs.
type checkRunHandler struct{ *App }

// checkRunJob is what a re-run stores: which check, on which commit, for
// which pull requests. It is read from the payload field by field, so a
// timestamp go-github's types cannot parse (octokit's own examples have
// some) cannot fail it.
type checkRunJob struct {
	Action   string `json:"action"`
	CheckRun struct {
		Name         string `json:"name"`
		HeadSHA      string `json:"head_sha"`
		PullRequests []struct {
			Number int `json:"number"`
		} `json:"pull_requests"`
		CheckSuite struct {
			HeadBranch string `json:"head_branch"`
		} `json:"check_suite"`
	} `json:"check_run"`
	Repository   repository   `json:"repository"`
	Installation installation `json:"installation"`
	Sender       *account     `json:"sender,omitempty"`
	// User is who asked for the re-run (the sender's login): the user of
	// the run a re-run of systemsync/apply starts.
	User string `json:"user,omitempty"`
}

// maxRerunPullRequests bounds the pull requests a re-run plans (GitHub
// lists at most 30 in a check run).
const maxRerunPullRequests = 100

func (checkRunHandler) Handles() []string { return []string{"check_run"} }

// accept takes a re-run of systemsync/plan or systemsync/apply.
func (checkRunHandler) accept(event string, payload []byte) (any, string, error) {
	var job checkRunJob
	if err := decode(event, payload, &job); err != nil {
		return nil, "", err
	}
	cr := &job.CheckRun
	if job.Action != "rerequested" || (cr.Name != CheckPlan && cr.Name != CheckApply) {
		return nil, "not a re-run of a systemsync check", nil
	}
	switch {
	case job.Installation.ID == 0:
		return nil, "", errNoInstallation
	case !isSHA(cr.HeadSHA):
		return nil, "", fmt.Errorf("check_run: check_run.head_sha %q is not a commit ID", clip(cr.HeadSHA, 80))
	case len(cr.PullRequests) > maxRerunPullRequests:
		cr.PullRequests = cr.PullRequests[:maxRerunPullRequests]
	}
	if job.Sender != nil {
		job.User = job.Sender.Login
	}
	return &job, "", nil
}

// work plans each of the check's pull requests at its current head (a
// re-run of an old check must not put an old commit's plan on the pull
// request), or applies the check's commit again.
func (h checkRunHandler) work(ctx context.Context, log *slog.Logger, event string, data []byte) error {
	job, err := decodeJob[checkRunJob](event, data)
	if err != nil {
		return err
	}
	cr, inst := job.CheckRun, job.Installation.ID
	switch cr.Name {
	case CheckPlan:
		gh, err := h.installationClient(inst)
		if err != nil {
			return err
		}
		for _, pr := range cr.PullRequests {
			if err := h.planCurrent(ctx, log, inst, job.Repository, gh, pr.Number); err != nil {
				return err
			}
		}
	case CheckApply:
		stages, err := h.stagesFor(ctx, log, job.Repository.urls(), cr.CheckSuite.HeadBranch)
		if err != nil {
			return err
		}
		for _, st := range stages {
			if err := h.apply(ctx, log, inst, job.Repository, st, cr.HeadSHA, pipeline.TriggerManual, data); err != nil {
				return err
			}
		}
	}
	return nil
}
