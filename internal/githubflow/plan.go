package githubflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/prcomment"
)

// planPR plans every matching stage at the pull request's head and posts
// or edits its sticky comment and a systemsync/plan check run.
func (f *Flow) planPR(ctx context.Context, log *slog.Logger, inst int64, repo *github.Repository, number int, headSHA, baseRef string) error {
	stages, err := f.stagesFor(ctx, log, repoURLs(repo), baseRef)
	if err != nil || len(stages) == 0 {
		return err
	}
	gh, err := f.Apps.NewInstallationClient(inst)
	if err != nil {
		return fmt.Errorf("installation client: %w", err)
	}
	token, err := f.token(ctx, inst)
	if err != nil {
		return err
	}
	owner, name := ownerName(repo)
	for _, st := range stages {
		check, _, err := gh.Checks.CreateCheckRun(ctx, owner, name, github.CreateCheckRunOptions{
			Name: CheckPlan, HeadSHA: headSHA, Status: github.String("in_progress"),
			ExternalID: github.String(st.ID()), StartedAt: &github.Timestamp{Time: time.Now()},
		})
		if err != nil {
			return fmt.Errorf("create check run on %s: %w", headSHA, err)
		}
		planned, err := f.Runner.Plan(ctx, st, gitrepo.Auth{Token: token}, fmt.Sprintf("refs/pull/%d/head", number))
		if err == nil && headSHA != "" && planned.Commit != headSHA {
			// The pull ref has moved on (or not caught up): plan the commit the event names.
			planned, err = f.Runner.Plan(ctx, st, gitrepo.Auth{Token: token}, headSHA)
		}
		if err != nil {
			f.finishCheck(ctx, gh, owner, name, CheckPlan, check.GetID(), "failure", "The plan could not be made", err.Error(), "", nil)
			return err
		}
		in := prcomment.Input{StageID: st.ID(), HeadSHA: planned.Commit, RepoURL: repo.GetHTMLURL(), Plan: planned.Plan.GitToSystem()}
		if err := f.upsertComment(ctx, gh, owner, name, number, prcomment.Marker(st.ID()), prcomment.PlanComment(in)); err != nil {
			return err
		}
		conclusion, title, summary, text := prcomment.CheckOutput(in)
		if err := f.finishCheck(ctx, gh, owner, name, CheckPlan, check.GetID(), conclusion, title, summary, text, prcomment.Annotations(in.Plan)); err != nil {
			return err
		}
		log.Info("planned pull request", "repo", repo.GetFullName(), "pr", number, "stage", st.ID(), "head", planned.Commit, "summary", prcomment.Counts(in.Plan))
	}
	return nil
}

// upsertComment edits the comment holding marker, or creates one.
func (f *Flow) upsertComment(ctx context.Context, gh *github.Client, owner, name string, number int, marker, body string) error {
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
func (f *Flow) finishCheck(ctx context.Context, gh *github.Client, owner, name, checkName string, id int64, conclusion, title, summary, text string, anns []prcomment.Annotation) error {
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
