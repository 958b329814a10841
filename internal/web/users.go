package web

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
)

// userRow is a person who signed in with GitHub, with the role they have.
type userRow struct {
	consoleUser
	Effective access.Role
	Config    bool // an admin by web.admins, whatever the table says
}

type usersPage struct {
	Keys  []controller.Key
	Users []userRow
	Roles []access.Role
	// PersonRoles are the roles an admin can give a person: a key's, and
	// none (kept out of the console).
	PersonRoles []access.Role
	Default     string
	// NewKey is shown once, right after it was created.
	NewKey   *controller.Key
	Secret   string
	Problems []string
}

func (usersPage) title() string { return "Users and keys" }
func (usersPage) nav() string   { return "users" }

func (c *Console) usersData(r *http.Request) (usersPage, error) {
	page := usersPage{Roles: access.Roles(), PersonRoles: append(access.Roles(), access.None), Default: c.opt.Web.DefaultRole}
	var err error
	if page.Keys, err = c.opt.Keys.List(r.Context()); err != nil {
		return page, err
	}
	users, err := c.users.list(r.Context())
	if err != nil {
		return page, err
	}
	for _, u := range users {
		row := userRow{consoleUser: u, Config: c.configAdmin(u.Login, u.Email)}
		if row.Effective, err = c.roleOf(r.Context(), u.GitHubID, u.Login, u.Email); err != nil {
			return page, err
		}
		page.Users = append(page.Users, row)
	}
	return page, nil
}

// usersPage is GET /users (admins): API keys, created (shown once) and
// revoked here, and the people who signed in with GitHub, whose roles are
// changed here.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManageKeys); err != nil {
		c.fail(w, r, v, err)
		return
	}
	page, err := c.usersData(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "users", v, page)
}

// createKey is POST /users/keys (email, role): the key is on the answer
// page, once, and in no session, log or redirect.
func (c *Console) createKey(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManageKeys); err != nil {
		c.fail(w, r, v, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	role := access.Role(r.PostFormValue("role"))
	if role == "" {
		role = access.Viewer
	}
	key, secret, err := c.opt.Keys.Create(r.Context(), email, role)
	page, lerr := c.usersData(r)
	if lerr != nil {
		c.fail(w, r, v, lerr)
		return
	}
	var apiErr *controller.Error
	if errors.As(err, &apiErr) {
		page.Problems = []string{apiErr.Message}
		c.render(w, r, apiErr.Code, "users", v, page)
		return
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.opt.Log.InfoContext(r.Context(), "API key created", "id", key.ID, "email", key.Email, "role", key.Role, "by", v.Email)
	page.NewKey, page.Secret = &key, secret
	c.render(w, r, http.StatusCreated, "users", v, page)
}

// revokeKey is POST /users/keys/{id}/revoke.
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManageKeys); err != nil {
		c.fail(w, r, v, err)
		return
	}
	key, err := c.opt.Keys.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.opt.Log.InfoContext(r.Context(), "API key revoked", "id", key.ID, "email", key.Email, "by", v.Email)
	c.flash(r, "Key %s of %s revoked.", key.ID, key.Email)
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// setRole is POST /users/roles (role, and id or login): the role of a
// person who signs in with GitHub ("default" gives back web.default_role,
// "none" keeps them out of the console). id is the GitHub user ID of a
// person in the table; a login, of someone who may not have signed in yet,
// is asked of GitHub, which tells the account's ID.
func (c *Console) setRole(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManageKeys); err != nil {
		c.fail(w, r, v, err)
		return
	}
	ctx := r.Context()
	var role access.Role
	switch s := r.PostFormValue("role"); s {
	case "default":
	case string(access.None):
		role = access.None
	default:
		var err error
		if role, err = access.ParseRole(s); err != nil {
			c.fail(w, r, v, badRequest("%v (or none, or default)", err))
			return
		}
	}
	login := strings.TrimSpace(r.PostFormValue("login"))
	var id int64
	if s := r.PostFormValue("id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			c.fail(w, r, v, badRequest("id %q is not a GitHub user ID", s))
			return
		}
		u, ok, err := c.users.get(ctx, n)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		if !ok {
			c.fail(w, r, v, notFound("no GitHub user %d has signed in or been given a role", n))
			return
		}
		id, login = n, u.Login
	} else {
		var err error
		if id, err = c.resolveLogin(ctx, login); err != nil {
			c.fail(w, r, v, err)
			return
		}
	}
	if err := c.users.setRole(ctx, id, login, role, v.Email); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.opt.Log.InfoContext(ctx, "console role set", "login", login, "github_id", id, "role", role, "by", v.Email)
	switch role {
	case "":
		c.flash(r, "%s has the default role (%s) again.", login, c.opt.Web.DefaultRole)
	case access.None:
		c.flash(r, "%s may not use the console now.", login)
	default:
		c.flash(r, "%s is %s now.", login, role)
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// loginRE is what GitHub allows in a login: letters, digits and single
// hyphens, not at either end, at most 39 characters.
var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)

// resolveLogin returns the GitHub user ID of the account named login now:
// asked of GitHub when the console can; else the one person the table last
// knew by that login.
func (c *Console) resolveLogin(ctx context.Context, login string) (int64, error) {
	if !loginRE.MatchString(login) {
		return 0, badRequest("%q is not a GitHub login", login)
	}
	if c.people != nil {
		id, found, err := c.people.UserID(ctx, login)
		if err != nil {
			return 0, err
		}
		if !found {
			return 0, notFound("GitHub has no account %q", login)
		}
		return id, nil
	}
	known, err := c.users.byLogin(ctx, login)
	if err != nil {
		return 0, err
	}
	if len(known) != 1 {
		return 0, notFound("nobody named %q has signed in with GitHub", login)
	}
	return known[0].GitHubID, nil
}
