package githubflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/systemsync/systemsync/internal/pipeline"
)

// pushHandler applies pushes to pipelines' branches: merge-to-apply.
type pushHandler struct{ *App }

// pushJob is what a push delivery stores: the fields merge-to-apply reads,
// and what its run's event payload shows (GitHub's names). The commits'
// file lists, the bulk of a large push, are not kept.
type pushJob struct {
	Ref          string       `json:"ref"`
	Before       string       `json:"before"`
	After        string       `json:"after"`
	Deleted      bool         `json:"deleted,omitempty"`
	Compare      string       `json:"compare,omitempty"`
	Repository   repository   `json:"repository"`
	Installation installation `json:"installation"`
	Pusher       *gitUser     `json:"pusher,omitempty"`
	Sender       *account     `json:"sender,omitempty"`
	HeadCommit   *commit      `json:"head_commit,omitempty"`
	// User is who pushed (the pusher's email, else name, else the
	// sender's login): the user of the run the push starts.
	User string `json:"user,omitempty"`
}

// pushedBy is who made the push, as its run names its user.
func (j *pushJob) pushedBy() string {
	switch {
	case j.Pusher != nil && j.Pusher.Email != "":
		return j.Pusher.Email
	case j.Pusher != nil && j.Pusher.Name != "":
		return j.Pusher.Name
	case j.Sender != nil:
		return j.Sender.Login
	}
	return ""
}

// gitUser is a commit's author or committer, or a push's pusher.
type gitUser struct {
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Username string `json:"username,omitempty"`
}

// commit is a push's head commit, as a person reads it in the run.
type commit struct {
	ID        string   `json:"id"`
	Message   string   `json:"message,omitempty"`
	Timestamp string   `json:"timestamp,omitempty"`
	URL       string   `json:"url,omitempty"`
	Author    *gitUser `json:"author,omitempty"`
}

// maxMessageBytes bounds a commit message kept in a job.
const maxMessageBytes = 4 << 10

func (pushHandler) Handles() []string { return []string{"push"} }

// accept takes a push that created or moved a branch.
func (pushHandler) accept(event string, payload []byte) (any, string, error) {
	var job pushJob
	if err := decode(event, payload, &job); err != nil {
		return nil, "", err
	}
	if job.Deleted || !strings.HasPrefix(job.Ref, "refs/heads/") {
		return nil, "not a push to a branch", nil
	}
	switch {
	case job.Installation.ID == 0:
		return nil, "", errNoInstallation
	case !isSHA(job.After):
		return nil, "", fmt.Errorf("push: after %q is not a commit ID", clip(job.After, 80))
	case job.Before != "" && !isSHA(job.Before):
		return nil, "", fmt.Errorf("push: before %q is not a commit ID", clip(job.Before, 80))
	}
	if c := job.HeadCommit; c != nil {
		c.Message = clip(c.Message, maxMessageBytes)
	}
	job.User = clip(job.pushedBy(), maxMessageBytes)
	return &job, "", nil
}

// work applies the push to every stage whose source is the repository at
// that branch, unless its triggers are all Cron, when the push changed its
// PushPaths (its Webhook triggers' paths, or else its folder).
func (h pushHandler) work(ctx context.Context, log *slog.Logger, event string, data []byte) error {
	job, err := decodeJob[pushJob](event, data)
	if err != nil {
		return err
	}
	if job.User == "" && job.pushedBy() != "" { // a job stored before pushes named their user
		job.User = job.pushedBy()
		if data, err = encodeJob(job); err != nil {
			return err
		}
	}
	branch := strings.TrimPrefix(job.Ref, "refs/heads/")
	stages, err := h.stagesFor(ctx, log, job.Repository.urls(), branch)
	if err != nil || len(stages) == 0 {
		return err
	}
	// Stages run as their pipelines' next orders them.
	return h.runner.EachStage(ctx, stages, func(ctx context.Context, st pipeline.Stage) error {
		if st.CronOnly() {
			log.Info("push starts no run: the pipeline's triggers are all Cron", "stage", st.ID(), "after", job.After)
			return nil
		}
		need, why, err := h.runner.NeedsRun(ctx, st, job.Before, job.After)
		if err != nil {
			return err
		}
		if !need {
			log.Info("push starts no run", "stage", st.ID(), "after", job.After, "why", why, "paths", st.PushPaths())
			return nil
		}
		return h.apply(ctx, log, job.Installation.ID, job.Repository, st, job.After, pipeline.TriggerWebhook, data)
	})
}
