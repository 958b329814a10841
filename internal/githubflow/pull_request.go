package githubflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/prcomment"
	"github.com/systemsync/systemsync/internal/spec"
)

// pullRequestHandler plans opened and updated pull requests, and acts on
// closed ones: a conflict branch's pull request resolves its conflicts,
// and a closed pull request's plan is no longer followed.
type pullRequestHandler struct{ *App }

// pullRequestJob is what a pull_request delivery stores: the pull request
// to plan, and where; for a closed one, whether it was merged and by whom.
type pullRequestJob struct {
	Action      string `json:"action"`
	PullRequest struct {
		Number int  `json:"number"`
		Merged bool `json:"merged,omitempty"`
		Head   struct {
			Ref  string `json:"ref,omitempty"`
			SHA  string `json:"sha"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo,omitempty"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
		User *account `json:"user,omitempty"`
	} `json:"pull_request"`
	Repository   repository   `json:"repository"`
	Installation installation `json:"installation"`
	Sender       *account     `json:"sender,omitempty"`
	// User is who acted (the sender's login): the user of the run a
	// closed conflict pull request starts.
	User string `json:"user,omitempty"`
}

func (pullRequestHandler) Handles() []string { return []string{"pull_request"} }

// accept takes opened, synchronize, reopened, ready_for_review and closed.
func (pullRequestHandler) accept(event string, payload []byte) (any, string, error) {
	var job pullRequestJob
	if err := decode(event, payload, &job); err != nil {
		return nil, "", err
	}
	switch job.Action {
	case "opened", "synchronize", "reopened", "ready_for_review", "closed":
	default:
		return nil, "action " + clip(job.Action, 80), nil
	}
	if job.Sender != nil {
		job.User = job.Sender.Login
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
	if job.Action == "closed" {
		return h.closed(ctx, log, job, data)
	}
	return h.planPR(ctx, log, job.Installation.ID, job.Repository, pr.Number, pr.Head.SHA, pr.Base.Ref, nil)
}

// closed acts on a closed pull request: one from a conflict branch
// (systemsync/conflict-<run id>, in the repository itself) resolves the
// open conflicts it carries: merged, the system's version is kept (the
// merge's push brings it to Git); closed unmerged, Git's version is
// applied to the system. The sender is who resolved them.
func (h pullRequestHandler) closed(ctx context.Context, log *slog.Logger, job *pullRequestJob, data []byte) error {
	pr := job.PullRequest
	if err := h.planClosed(ctx, job.Repository, pr.Number, pr.Merged); err != nil {
		return err
	}
	if _, ok := pipeline.ConflictRun(pr.Head.Ref); !ok {
		return nil
	}
	if pr.Head.Repo != nil && !strings.EqualFold(pr.Head.Repo.FullName, job.Repository.FullName) {
		log.Info("a fork's pull request from a conflict branch's name resolves nothing", "pr", pr.Number, "head_repo", pr.Head.Repo.FullName)
		return nil
	}
	conflicts, err := h.runner.Runs.ConflictsOnBranch(ctx, job.Repository.urls(), pr.Head.Ref)
	if err != nil {
		return err
	}
	keep, via := pipeline.KeepGit, fmt.Sprintf("pull request #%d closed unmerged", pr.Number)
	if pr.Merged {
		keep, via = pipeline.KeepSystem, fmt.Sprintf("pull request #%d merged", pr.Number)
	}
	for _, c := range conflicts {
		req := pipeline.ResolveRequest{Run: c.Run(), Key: c.Key(), Keep: keep, By: job.User, Via: via, Trigger: pipeline.TriggerWebhook, Payload: data}
		switch {
		case pr.Merged:
			// The merge's push brings the system's version to Git: its
			// run records the sync state. This records who decided.
			err = h.runner.RecordResolution(ctx, req)
		case c.Resolution != nil:
			continue
		default:
			_, err = h.runner.Resolve(ctx, req)
			if errors.Is(err, pipeline.ErrConflictResolved) {
				continue // another conflict of the branch's resolved it with this one
			}
			if errors.Is(err, pipeline.ErrCannotResolve) {
				log.Warn("the conflict cannot be resolved so", "run", c.Run(), "key", c.Key().String(), "keep", keep, "err", err)
				err = h.replyCannot(ctx, job, c, err)
			}
		}
		if err != nil {
			return err
		}
		log.Info("conflict resolved by its pull request", "run", c.Run(), "key", c.Key().String(), "keep", keep, "by", job.User, "pr", pr.Number)
	}
	return nil
}

// replyCannot tells the closed pull request why its conflict stays open.
func (h pullRequestHandler) replyCannot(ctx context.Context, job *pullRequestJob, c pipeline.Conflict, why error) error {
	gh, err := h.installationClient(job.Installation.ID)
	if err != nil {
		return err
	}
	owner, name := job.Repository.ownerName()
	body := fmt.Sprintf("System Sync could not resolve the conflict of %s (run %d): %v\n\nThe conflict stays open: fix the file in Git, or resolve it with `POST /api/runs/%d/conflicts/…`.",
		c.Key(), c.Run(), why, c.Run())
	if _, _, err := gh.Issues.CreateComment(ctx, owner, name, job.PullRequest.Number, &github.IssueComment{Body: &body}); err != nil {
		return fmt.Errorf("comment on #%d: %w", job.PullRequest.Number, err)
	}
	return nil
}

// planCurrent plans a pull request at its current head, as GitHub reports it.
func (a *App) planCurrent(ctx context.Context, log *slog.Logger, inst int64, repo repository, gh *github.Client, number int) error {
	owner, name := repo.ownerName()
	pr, _, err := gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return fmt.Errorf("pull request #%d: %w", number, err)
	}
	return a.planPR(ctx, log, inst, repo, number, pr.GetHead().GetSHA(), pr.GetBase().GetRef(), nil)
}

// planPR plans every matching stage at the pull request's head and posts
// or edits its sticky comment and a systemsync/plan check run. Each plan
// is stored with the system revision it was made at and the resources it
// touches (see PlansMoved). stale names, by stage ID, the plans the
// system's changes made stale: such a plan, made again, says what moved,
// makes each moved resource it would change a conflict (a merge will not
// apply it), fails its check, and keeps the revision of the plan that was
// reviewed.
func (a *App) planPR(ctx context.Context, log *slog.Logger, inst int64, repo repository, number int, headSHA, baseRef string, stale map[string]stalePlan) error {
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
		revision, keys := planned.Revision, touched(in.Plan)
		if sp, ok := stale[st.ID()]; ok {
			pipeline.MarkMoved(in.Plan, movedReasons(number, sp.moved))
			in.Moved = movedOf(sp.moved)
			revision, keys = sp.revision, unionKeys(sp.keys, touched(in.Plan))
		}
		if err := a.upsertComment(ctx, gh, owner, name, number, prcomment.Marker(st.ID()), prcomment.PlanComment(in)); err != nil {
			return err
		}
		conclusion, title, summary, text := prcomment.CheckOutput(in)
		if len(in.Moved) > 0 {
			conclusion = "failure" // a merge now would be a conflict: plan again first
		}
		if err := a.finishCheck(ctx, gh, owner, name, CheckPlan, check.GetID(), conclusion, title, summary, text, prcomment.Annotations(in.Plan)); err != nil {
			return err
		}
		if err := a.savePlan(ctx, repo, inst, number, st.ID(), planned.Commit, keys, revision); err != nil {
			return err
		}
		log.Info("planned pull request", "repo", repo.FullName, "pr", number, "stage", st.ID(), "head", planned.Commit, "revision", planned.Revision,
			"summary", prcomment.Counts(in.Plan), "moved", len(in.Moved))
	}
	return nil
}

// unionKeys is a and the keys of b not in a.
func unionKeys(a, b []spec.Key) []spec.Key {
	seen := map[spec.Key]bool{}
	for _, k := range a {
		seen[k] = true
	}
	out := append([]spec.Key(nil), a...)
	for _, k := range b {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
