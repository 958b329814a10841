package githubflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"
)

// The console's questions about people on GitHub, answered with the app's
// own credentials (its installations' tokens), never a person's.

// UserID returns the ID of the GitHub account named login, which stays
// the account's when it is renamed; found is false when no account has
// that login. It asks with the token of the app's first installation.
func (a *App) UserID(ctx context.Context, login string) (id int64, found bool, err error) {
	insts, err := a.installations(ctx)
	if err != nil {
		return 0, false, err
	}
	if len(insts) == 0 {
		return 0, false, errors.New("the app has no installation to ask GitHub with")
	}
	gh, err := a.installationClient(insts[0].GetID())
	if err != nil {
		return 0, false, err
	}
	u, _, err := gh.Users.Get(ctx, login)
	var ghErr *github.ErrorResponse
	if errors.As(err, &ghErr) && ghErr.Response != nil && ghErr.Response.StatusCode == http.StatusNotFound {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("GitHub user %s: %w", login, err)
	}
	return u.GetID(), true, nil
}

// ReadsAnInstalledRepository reports whether the GitHub user login has at
// least read access to one private or internal repository that an
// installation of the app covers, as GitHub answers
// GET /repos/{owner}/{repo}/collaborators/{user}/permission to the
// installation. A public repository, which everyone reads, does not count.
// It stops at the first repository that answers yes.
func (a *App) ReadsAnInstalledRepository(ctx context.Context, login string) (bool, error) {
	insts, err := a.installations(ctx)
	if err != nil {
		return false, err
	}
	for _, inst := range insts {
		gh, err := a.installationClient(inst.GetID())
		if err != nil {
			return false, err
		}
		opt := &github.ListOptions{PerPage: 100}
		for {
			list, res, err := gh.Apps.ListRepos(ctx, opt)
			if err != nil {
				return false, fmt.Errorf("repositories of installation %d: %w", inst.GetID(), err)
			}
			for _, r := range list.Repositories {
				if !r.GetPrivate() && r.GetVisibility() != "internal" {
					continue
				}
				perm, _, err := gh.Repositories.GetPermissionLevel(ctx, r.GetOwner().GetLogin(), r.GetName(), login)
				var ghErr *github.ErrorResponse
				if errors.As(err, &ghErr) && ghErr.Response != nil && ghErr.Response.StatusCode == http.StatusNotFound {
					continue // GitHub knows no such user, or does not say
				}
				if err != nil {
					return false, fmt.Errorf("permission of %s on %s: %w", login, r.GetFullName(), err)
				}
				switch perm.GetPermission() {
				case "admin", "write", "read":
					return true, nil
				}
			}
			if res.NextPage == 0 {
				break
			}
			opt.Page = res.NextPage
		}
	}
	return false, nil
}

// installations lists the app's installations.
func (a *App) installations(ctx context.Context) ([]*github.Installation, error) {
	app, err := a.clients.NewAppClient()
	if err != nil {
		return nil, fmt.Errorf("GitHub App client: %w", err)
	}
	var out []*github.Installation
	opt := &github.ListOptions{PerPage: 100}
	for {
		list, res, err := app.Apps.ListInstallations(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("installations of the app: %w", err)
		}
		out = append(out, list...)
		if res.NextPage == 0 {
			return out, nil
		}
		opt.Page = res.NextPage
	}
}
