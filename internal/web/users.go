package web

import (
	"errors"
	"net/http"
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
	Keys    []controller.Key
	Users   []userRow
	Roles   []access.Role
	Default string
	// NewKey is shown once, right after it was created.
	NewKey   *controller.Key
	Secret   string
	Problems []string
}

func (usersPage) title() string { return "Users and keys" }
func (usersPage) nav() string   { return "users" }

func (c *Console) usersData(r *http.Request) (usersPage, error) {
	page := usersPage{Roles: access.Roles(), Default: c.opt.Web.DefaultRole}
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
		if row.Effective, err = c.roleOf(r.Context(), u.Login, u.Email); err != nil {
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

// setRole is POST /users/roles (login, role): the role of a person who
// signs in with GitHub ("default" gives back web.default_role).
func (c *Console) setRole(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManageKeys); err != nil {
		c.fail(w, r, v, err)
		return
	}
	login := strings.TrimSpace(r.PostFormValue("login"))
	var role access.Role
	if s := r.PostFormValue("role"); s != "default" {
		var err error
		if role, err = access.ParseRole(s); err != nil {
			c.fail(w, r, v, badRequest("%v", err))
			return
		}
	}
	if err := c.users.setRole(r.Context(), login, role, v.Email); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.opt.Log.InfoContext(r.Context(), "console role set", "login", login, "role", role, "by", v.Email)
	if role == "" {
		c.flash(r, "%s has the default role (%s) again.", login, c.opt.Web.DefaultRole)
	} else {
		c.flash(r, "%s is %s now.", login, role)
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}
