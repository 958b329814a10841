package githubflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/prcomment"
	"github.com/systemsync/systemsync/internal/reconcile"
)

// What the bot does on GitHub for more than one event: apply a commit and
// report it (push, a re-run systemsync/apply), edit the sticky plan
// comment, complete check runs.

// apply runs the stage at sha (at the branch's tip, when the branch has
// moved past sha: never an older tree over a newer one), puts
// systemsync/apply on the commit and comments on the pull requests the
// commit came from. payload is the run's event payload (the stored job).
// A resource the merged pull requests' plans touch that the system changed
// after the plan was made is a conflict, not applied.
func (a *App) apply(ctx context.Context, log *slog.Logger, inst int64, repo repository, st pipeline.Stage, sha, trigger string, payload []byte) error {
	gh, err := a.installationClient(inst)
	if err != nil {
		return err
	}
	owner, name := repo.ownerName()
	check, _, err := gh.Checks.CreateCheckRun(ctx, owner, name, github.CreateCheckRunOptions{
		Name: CheckApply, HeadSHA: sha, Status: github.String("in_progress"),
		ExternalID: github.String(st.ID()), StartedAt: &github.Timestamp{Time: time.Now()},
	})
	if err != nil {
		return fmt.Errorf("create check run on %s: %w", sha, err)
	}
	fail := func(err error) error {
		a.finishCheck(ctx, gh, owner, name, CheckApply, check.GetID(), "failure", "The apply failed", err.Error(), "", nil)
		return err
	}
	prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, sha, nil)
	if err != nil {
		return fail(fmt.Errorf("pull requests of %s: %w", sha, err))
	}
	var merged []int
	for _, pr := range prs {
		if pr.GetMergeCommitSHA() == sha || pr.GetHead().GetSHA() == sha {
			merged = append(merged, pr.GetNumber())
		}
	}
	moved, err := a.movedSince(ctx, repo, st, merged)
	if err != nil {
		return fail(err)
	}
	// ApplyWith applies the branch's tip when sha is behind it.
	applied, err := a.runner.ApplyWith(ctx, st, sha, trigger, payload, pipeline.ApplyOptions{Moved: moved})
	if err != nil {
		return fail(err)
	}
	run := applied.Run
	if run == nil {
		return a.finishCheck(ctx, gh, owner, name, CheckApply, check.GetID(), "success", "Nothing to apply",
			fmt.Sprintf("`%s` at `%s`: the system already matches this commit.", st.ID(), sha), "", nil)
	}
	runURL := ""
	if a.runURL != nil {
		runURL = a.runURL(run.ID)
	}
	conclusion := "success"
	switch run.Status {
	case pipeline.StatusSuccess:
	case pipeline.StatusSkipped: // a pre-condition was false
		conclusion = "skipped"
	default:
		conclusion = "failure"
	}
	body := prcomment.ApplyComment(st.ID(), run.ID, sha, run.Status, applied.Results, runURL)
	summary := fmt.Sprintf("Run %d of `%s` at `%s`: **%s**.", run.ID, st.ID(), sha, run.Status)
	if run.Message != "" {
		summary += " " + run.Message
	}
	var anns []prcomment.Annotation
	if applied.Planned != nil { // nil: the stage stopped before planning (a pre-condition, its variables)
		anns = prcomment.Annotations(applied.Planned.Plan.GitToSystem())
	}
	if err := a.finishCheck(ctx, gh, owner, name, CheckApply, check.GetID(), conclusion, run.Status, summary, body,
		anns); err != nil {
		return err
	}
	for _, n := range merged {
		if _, _, err := gh.Issues.CreateComment(ctx, owner, name, n, &github.IssueComment{Body: &body}); err != nil {
			return fmt.Errorf("comment on #%d: %w", n, err)
		}
	}
	log.Info("applied push", "repo", repo.FullName, "stage", st.ID(), "sha", sha, "run", run.ID, "status", run.Status,
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

// upsertComment edits the comment holding marker, or creates one.
func (a *App) upsertComment(ctx context.Context, gh *github.Client, owner, name string, number int, marker, body string) error {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		comments, resp, err := gh.Issues.ListComments(ctx, owner, name, number, opts)
		if err != nil {
			return fmt.Errorf("list comments of #%d: %w", number, err)
		}
		for _, c := range comments {
			if strings.HasPrefix(c.GetBody(), marker) {
				if _, _, err := gh.Issues.EditComment(ctx, owner, name, c.GetID(), &github.IssueComment{Body: &body}); err != nil {
					return fmt.Errorf("edit plan comment %d: %w", c.GetID(), err)
				}
				return nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if _, _, err := gh.Issues.CreateComment(ctx, owner, name, number, &github.IssueComment{Body: &body}); err != nil {
		return fmt.Errorf("create plan comment on #%d: %w", number, err)
	}
	return nil
}

// finishCheck completes a check run, sending annotations 50 per request
// as GitHub takes them.
func (a *App) finishCheck(ctx context.Context, gh *github.Client, owner, name, checkName string, id int64, conclusion, title, summary, text string, anns []prcomment.Annotation) error {
	batch := func(from int) []*github.CheckRunAnnotation {
		var out []*github.CheckRunAnnotation
		for i := from; i < len(anns) && i < from+prcomment.MaxAnnotationsPerWrite; i++ {
			a := anns[i]
			out = append(out, &github.CheckRunAnnotation{Path: github.String(a.Path), StartLine: github.Int(a.StartLine), EndLine: github.Int(a.EndLine),
				AnnotationLevel: github.String(a.Level), Title: github.String(a.Title), Message: github.String(a.Message)})
		}
		return out
	}
	output := func(from int) *github.CheckRunOutput {
		o := &github.CheckRunOutput{Title: github.String(title), Summary: github.String(summary), Annotations: batch(from)}
		if text != "" {
			o.Text = github.String(text)
		}
		return o
	}
	for from := prcomment.MaxAnnotationsPerWrite; from < len(anns); from += prcomment.MaxAnnotationsPerWrite {
		if _, _, err := gh.Checks.UpdateCheckRun(ctx, owner, name, id, github.UpdateCheckRunOptions{Name: checkName, Output: output(from)}); err != nil {
			return fmt.Errorf("annotate check run %d: %w", id, err)
		}
	}
	_, _, err := gh.Checks.UpdateCheckRun(ctx, owner, name, id, github.UpdateCheckRunOptions{
		Name: checkName, Status: github.String("completed"), Conclusion: github.String(conclusion),
		CompletedAt: &github.Timestamp{Time: time.Now()}, Output: output(0),
	})
	if err != nil {
		return fmt.Errorf("complete check run %d: %w", id, err)
	}
	return nil
}
