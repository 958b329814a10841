package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/oauth2"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/store"
)

// loginPage is GET /login: a form for an API key (field api_key) and,
// when the GitHub App has OAuth credentials, "Sign in with GitHub".
type loginPage struct {
	GitHub       bool
	LocalMode    bool
	AdminKeyFile string
	Error        string
}

func (loginPage) title() string { return "Sign in" }

func (c *Console) loginData(msg string) loginPage {
	return loginPage{GitHub: c.opt.OAuthClientID != "", LocalMode: c.opt.LocalMode, AdminKeyFile: c.opt.AdminKeyFile, Error: msg}
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	v, err := c.who(r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if v != nil {
		http.Redirect(w, r, "/pipelines", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", nil, c.loginData(r.URL.Query().Get("error")))
}

// loginWithKey is POST /login with an API key: the session takes the key's
// ID (never the key), and its user and role are the key's while it is valid.
func (c *Console) loginWithKey(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	p, err := c.opt.Keys.Authenticate(r.Context(), key)
	var apiErr *controller.Error
	if errors.As(err, &apiErr) && apiErr.Code == http.StatusUnauthorized {
		c.opt.Log.InfoContext(r.Context(), "console sign-in refused", "reason", apiErr.Message)
		c.render(w, r, http.StatusUnauthorized, "login", nil, c.loginData("That is not a valid API key ("+apiErr.Message+")."))
		return
	}
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if err := c.startSession(r, "key", func(ctx context.Context) { c.sessions.Put(ctx, sessKeyID, p.KeyID) }); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.opt.Log.InfoContext(r.Context(), "console sign-in", "via", "key", "key_id", p.KeyID, "email", p.Email, "role", p.Role)
	c.afterSignIn(w, r)
}

// startSession renews the session's token (a token from before sign-in is
// never a signed-in one) and records how the viewer signed in.
func (c *Console) startSession(r *http.Request, via string, put func(ctx context.Context)) error {
	ctx := r.Context()
	next := c.sessions.PopString(ctx, sessNext)
	if err := c.sessions.RenewToken(ctx); err != nil {
		return fmt.Errorf("renew session token: %w", err)
	}
	c.sessions.Remove(ctx, sessState)
	c.sessions.Put(ctx, sessVia, via)
	c.sessions.Put(ctx, sessNext, next)
	put(ctx)
	return nil
}

func (c *Console) afterSignIn(w http.ResponseWriter, r *http.Request) {
	next := safeNext(c.sessions.PopString(r.Context(), sessNext))
	if next == "/" {
		next = "/pipelines"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout is POST /logout: the session is deleted from the store and its
// cookie expired; the next visit starts a new token.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if err := c.sessions.RenewToken(r.Context()); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if err := c.sessions.Destroy(r.Context()); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) oauthConfig() *oauth2.Config {
	web := strings.TrimSuffix(c.opt.GitHubWebURL, "/") + "/"
	return &oauth2.Config{
		ClientID: c.opt.OAuthClientID, ClientSecret: c.opt.OAuthClientSecret,
		RedirectURL: c.base + "/login/github/callback",
		Endpoint: oauth2.Endpoint{AuthURL: web + "login/oauth/authorize", TokenURL: web + "login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams},
	}
}

// loginWithGitHub is GET /login/github: off to GitHub's authorize page
// with a state kept in the session.
func (c *Console) loginWithGitHub(w http.ResponseWriter, r *http.Request) {
	if c.opt.OAuthClientID == "" {
		c.fail(w, r, nil, notFound("sign-in with GitHub is not configured (github.oauth.client_id)"))
		return
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	state := hex.EncodeToString(b[:])
	c.sessions.Put(r.Context(), sessState, state)
	http.Redirect(w, r, c.oauthConfig().AuthCodeURL(state), http.StatusSeeOther)
}

// gitHubCallback is GET /login/github/callback: the code is exchanged for
// the user's token, which tells the login and the verified primary email;
// then the token is dropped.
func (c *Console) gitHubCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	want := c.sessions.PopString(ctx, sessState)
	if c.opt.OAuthClientID == "" {
		c.fail(w, r, nil, notFound("sign-in with GitHub is not configured (github.oauth.client_id)"))
		return
	}
	refuse := func(msg string, args ...any) {
		c.opt.Log.InfoContext(ctx, "console sign-in with GitHub refused", "reason", fmt.Sprintf(msg, args...))
		c.render(w, r, http.StatusUnauthorized, "login", nil, c.loginData(fmt.Sprintf(msg, args...)))
	}
	if e := q.Get("error"); e != "" {
		refuse("GitHub did not sign you in: %s %s", e, q.Get("error_description"))
		return
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(q.Get("state"))) != 1 {
		refuse("The sign-in with GitHub expired or did not start here: please try again.")
		return
	}
	cfg := c.oauthConfig()
	tok, err := cfg.Exchange(ctx, q.Get("code"))
	if err != nil {
		refuse("GitHub refused the sign-in code: %v", err)
		return
	}
	api := strings.TrimSuffix(c.opt.GitHubAPIURL, "/") + "/"
	client, err := github.NewClient(cfg.Client(ctx, tok)).WithEnterpriseURLs(api, api)
	if err != nil {
		c.fail(w, r, nil, fmt.Errorf("GitHub client: %w", err))
		return
	}
	user, _, err := client.Users.Get(ctx, "")
	if err != nil {
		c.fail(w, r, nil, fmt.Errorf("GitHub sign-in: read the user: %w", err))
		return
	}
	emails, _, err := client.Users.ListEmails(ctx, &github.ListOptions{PerPage: 100})
	if err != nil {
		c.fail(w, r, nil, fmt.Errorf("GitHub sign-in: read the user's emails: %w", err))
		return
	}
	email := ""
	for _, e := range emails {
		if e.GetPrimary() && e.GetVerified() {
			email = e.GetEmail()
		}
	}
	id, login := user.GetID(), user.GetLogin()
	if email == "" {
		refuse("Your GitHub account %s has no verified primary email: verify one on GitHub, then sign in again.", login)
		return
	}
	if id <= 0 {
		c.fail(w, r, nil, fmt.Errorf("GitHub sign-in: the user %s has no ID", login))
		return
	}
	role, why, err := c.admit(ctx, id, login, email)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if why != "" {
		c.opt.Log.InfoContext(ctx, "console sign-in with GitHub refused", "login", login, "github_id", id, "reason", why)
		c.render(w, r, http.StatusForbidden, "login", nil, c.loginData(why))
		return
	}
	if err := c.users.signedIn(ctx, id, login, email); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if err := c.startSession(r, "github", func(ctx context.Context) {
		c.sessions.Put(ctx, sessGitHubID, id)
		c.sessions.Put(ctx, sessLogin, login)
		c.sessions.Put(ctx, sessEmail, email)
	}); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.opt.Log.InfoContext(ctx, "console sign-in", "via", "GitHub", "login", login, "github_id", id, "email", email, "role", role)
	c.afterSignIn(w, r)
}

// admit decides whether the GitHub account id (now named login, with the
// verified primary email) may sign in, and with which role: an admin when
// web.admins names it; else with the role an admin gave it on /users
// (none: not at all); else with web.default_role, when GitHub says the
// account reads one of the private repositories the app's installations
// cover. why says, for the person, why not ("" when admitted).
func (c *Console) admit(ctx context.Context, id int64, login, email string) (role access.Role, why string, err error) {
	if c.configAdmin(login, email) {
		return access.Admin, "", nil
	}
	u, ok, err := c.users.get(ctx, id)
	if err != nil {
		return "", "", err
	}
	switch {
	case ok && u.Role == access.None:
		return "", fmt.Sprintf("An admin has turned off console access for %s.", login), nil
	case ok && u.Role != "":
		return u.Role, "", nil
	}
	ask := fmt.Sprintf("Your GitHub account %s may not use this console: ask an admin to give you a role on /users.", login)
	if r := access.Role(c.opt.Web.DefaultRole); !r.Can(access.Read) || c.people == nil {
		return "", ask, nil
	}
	reads, err := c.people.ReadsAnInstalledRepository(ctx, login)
	if err != nil {
		return "", "", fmt.Errorf("GitHub sign-in: the access of %s: %w", login, err)
	}
	if !reads {
		return "", fmt.Sprintf("Your GitHub account %s has no access to the repositories of this app's installations: ask an admin to give you a role on /users.", login), nil
	}
	return access.Role(c.opt.Web.DefaultRole), "", nil
}

// roleOf is the role of the GitHub account id (now named login, with
// email), signed in: admin when web.admins names the login or the email;
// else the role an admin gave on /users (None keeps it out); else
// web.default_role, which admit granted at sign-in.
func (c *Console) roleOf(ctx context.Context, id int64, login, email string) (access.Role, error) {
	if c.configAdmin(login, email) {
		return access.Admin, nil
	}
	u, ok, err := c.users.get(ctx, id)
	if err != nil {
		return "", err
	}
	if ok && u.Role != "" {
		return u.Role, nil
	}
	return access.Role(c.opt.Web.DefaultRole), nil
}

func (c *Console) configAdmin(login, email string) bool {
	for _, a := range c.opt.Web.Admins {
		if strings.EqualFold(a, login) || (email != "" && strings.EqualFold(a, email)) {
			return true
		}
	}
	return false
}

// consoleUser is a person on GitHub the console knows: one who signed in,
// or one an admin gave a role before they did. GitHubID is who they are
// (a login can be renamed, and then registered by someone else); Login and
// Email are as they were at the last sign-in (or as the admin named them).
type consoleUser struct {
	GitHubID     int64
	Login, Email string
	Role         access.Role // "" until an admin sets one; None keeps them out
	RoleSetBy    string
	LastSignIn   time.Time // zero until they sign in
}

// consoleUsers is the table console_users, by GitHub user ID.
type consoleUsers struct{ db *store.DB }

const userColumns = `github_id, login, email, role, role_set_by, last_sign_in`

func (u *consoleUsers) signedIn(ctx context.Context, id int64, login, email string) error {
	_, err := u.db.Exec(ctx, `INSERT INTO console_users (`+userColumns+`) VALUES (?, ?, ?, '', '', ?)
		ON CONFLICT (github_id) DO UPDATE SET login = excluded.login, email = excluded.email, last_sign_in = excluded.last_sign_in`,
		id, login, email, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record the sign-in of %s: %w", login, err)
	}
	return nil
}

func (u *consoleUsers) get(ctx context.Context, id int64) (consoleUser, bool, error) {
	row := u.db.QueryRow(ctx, `SELECT `+userColumns+` FROM console_users WHERE github_id = ?`, id)
	cu, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return consoleUser{}, false, nil
	}
	if err != nil {
		return consoleUser{}, false, fmt.Errorf("read console user %d: %w", id, err)
	}
	return cu, true, nil
}

// byLogin finds the people the table last knew by login (case-insensitive).
func (u *consoleUsers) byLogin(ctx context.Context, login string) ([]consoleUser, error) {
	all, err := u.list(ctx)
	if err != nil {
		return nil, err
	}
	var out []consoleUser
	for _, cu := range all {
		if strings.EqualFold(cu.Login, login) {
			out = append(out, cu)
		}
	}
	return out, nil
}

func (u *consoleUsers) list(ctx context.Context) ([]consoleUser, error) {
	rows, err := u.db.Query(ctx, `SELECT `+userColumns+` FROM console_users ORDER BY login, github_id`)
	if err != nil {
		return nil, fmt.Errorf("list console users: %w", err)
	}
	defer rows.Close()
	var out []consoleUser
	for rows.Next() {
		cu, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list console users: %w", err)
		}
		out = append(out, cu)
	}
	return out, rows.Err()
}

// setRole gives the GitHub account id (named login) role, recording it
// when it has not signed in yet.
func (u *consoleUsers) setRole(ctx context.Context, id int64, login string, role access.Role, by string) error {
	_, err := u.db.Exec(ctx, `INSERT INTO console_users (`+userColumns+`) VALUES (?, ?, '', ?, ?, '')
		ON CONFLICT (github_id) DO UPDATE SET role = excluded.role, role_set_by = excluded.role_set_by`,
		id, login, string(role), by)
	if err != nil {
		return fmt.Errorf("set the role of %s: %w", login, err)
	}
	return nil
}

func scanUser(row interface{ Scan(...any) error }) (consoleUser, error) {
	var cu consoleUser
	var role, last string
	if err := row.Scan(&cu.GitHubID, &cu.Login, &cu.Email, &role, &cu.RoleSetBy, &last); err != nil {
		return consoleUser{}, err
	}
	cu.Role = access.Role(role)
	if last != "" {
		cu.LastSignIn, _ = time.Parse(time.RFC3339Nano, last)
	}
	return cu, nil
}
