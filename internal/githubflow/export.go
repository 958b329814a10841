package githubflow

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// ownerRepo reads owner and name from a repository URL (…/owner/name[.git]).
func ownerRepo(raw string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(u.Path, ".git"), "/"), "/")
	if len(parts) < 2 {
		return "", "", fmt.Errorf("%s names no owner/repository", gitrepo.RedactURL(raw))
	}
	return parts[len(parts)-2], parts[len(parts)-1], nil
}

// AuthFor returns an installation token for the stage's destination repository.
func (f *Flow) AuthFor(ctx context.Context, st pipeline.Stage) (gitrepo.Auth, error) {
	inst, _, _, err := f.installationOf(ctx, st.Dest.URL)
	if err != nil {
		return gitrepo.Auth{}, err
	}
	token, err := f.token(ctx, inst)
	return gitrepo.Auth{Token: token}, err
}

func (f *Flow) installationOf(ctx context.Context, repoURL string) (int64, string, string, error) {
	owner, name, err := ownerRepo(repoURL)
	if err != nil {
		return 0, "", "", err
	}
	app, err := f.Apps.NewAppClient()
	if err != nil {
		return 0, "", "", fmt.Errorf("app client: %w", err)
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return 0, "", "", fmt.Errorf("installation of %s/%s: %w", owner, name, err)
	}
	return inst.GetID(), owner, name, nil
}

// OpenPullRequest opens a pull request from a review branch to the stage's branch.
func (f *Flow) OpenPullRequest(ctx context.Context, st pipeline.Stage, branch, title, body string) error {
	inst, owner, name, err := f.installationOf(ctx, st.Dest.URL)
	if err != nil {
		return err
	}
	gh, err := f.Apps.NewInstallationClient(inst)
	if err != nil {
		return fmt.Errorf("installation client: %w", err)
	}
	_, _, err = gh.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{
		Title: github.String(title), Head: github.String(branch), Base: github.String(st.Dest.Revision), Body: github.String(body),
	})
	if err != nil {
		return fmt.Errorf("open pull request from %s: %w", branch, err)
	}
	return nil
}
