package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/web/sessionstore"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what the console is built on: the same controller store,
// keys, runs and sync the APIs use.
type Options struct {
	DB    *store.DB
	Store *controller.Store
	Keys  *controller.Keys
	Runs  *pipeline.Runs
	Sync  SyncFunc
	// Resolve ends a run's conflict (the API's ResolveFunc); nil: the run
	// page offers no way to.
	Resolve ResolveFunc
	Stages  func(ctx context.Context) ([]pipeline.Stage, error)
	Web     config.Web
	// BaseURL is where the server listens, the console's address when
	// Web.URL is empty.
	BaseURL string
	// GitHub: web and API bases and the app's OAuth client; sign-in with
	// GitHub is offered when OAuthClientID is set.
	GitHubWebURL, GitHubAPIURL       string
	OAuthClientID, OAuthClientSecret string
	// People answers who may sign in with GitHub (UsePeople sets it once
	// the GitHub App is built); nil admits only web.admins and the people
	// an admin gave a role on /users.
	People People
	// LocalMode tells the sign-in page to point at the admin key file,
	// AdminKeyFile; PollInterval is how often plain Git remotes are polled.
	LocalMode    bool
	AdminKeyFile string
	PollInterval time.Duration
	Log          *slog.Logger
}

// People answers the console's questions about people on GitHub, with
// the app's own credentials (githubflow.App does).
type People interface {
	// UserID returns the ID of the account named login; found is false
	// when there is none.
	UserID(ctx context.Context, login string) (id int64, found bool, err error)
	// ReadsAnInstalledRepository reports whether login has at least read
	// access to a private repository an installation of the app covers.
	ReadsAnInstalledRepository(ctx context.Context, login string) (bool, error)
}

// Console is the web console: server-rendered pages over the controller,
// the pipelines and their runs, with sessions in the bot's database.
type Console struct {
	opt      Options
	base     string // the console's public URL, no trailing slash
	sessions *scs.SessionManager
	store    *sessionstore.Store
	users    *consoleUsers
	people   People
	pages    map[string]*template.Template
	handler  http.Handler

	draining context.Context // done once Drain is called: live updates end
	drain    context.CancelFunc
	runs     sync.WaitGroup // Run button runs going on after their request
}

// NewConsole returns the console; Register mounts it.
func NewConsole(opt Options) (*Console, error) {
	c := &Console{opt: opt, base: strings.TrimSuffix(opt.Web.URL, "/")}
	if c.base == "" {
		c.base = strings.TrimSuffix(opt.BaseURL, "/")
	}
	if opt.GitHubWebURL == "" {
		c.opt.GitHubWebURL = "https://github.com/"
	}
	if opt.GitHubAPIURL == "" {
		c.opt.GitHubAPIURL = "https://api.github.com/"
	}
	c.draining, c.drain = context.WithCancel(context.Background())
	c.store = sessionstore.New(opt.DB)
	c.users = &consoleUsers{db: opt.DB}
	c.people = opt.People
	sm := scs.New()
	sm.Store = c.store
	sm.HashTokenInStore = true
	sm.Lifetime = opt.Web.SessionLifetime
	sm.Cookie.Name = "systemsync_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = strings.HasPrefix(c.base, "https://")
	sm.Cookie.Path = "/"
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		opt.Log.ErrorContext(r.Context(), "console session", "path", r.URL.Path, "err", err)
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
	}
	c.sessions = sm
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.handler = c.routes()
	return c, nil
}

// UsePeople sets who answers the console's questions about people on
// GitHub, for a console built before the GitHub App. Call it before the
// console serves.
func (c *Console) UsePeople(p People) { c.people = p }

// Handler serves the console's pages. The session is loaded, then every
// state-changing request is checked with http.CrossOriginProtection (a
// cross-origin POST is 403 and changes nothing).
func (c *Console) Handler() http.Handler { return c.handler }

// Register mounts the console on mux at "/": every path the server does
// not route elsewhere (the APIs, the webhook and the health checks stay
// outside sessions and the cross-origin check).
func (c *Console) Register(mux *http.ServeMux) { mux.Handle("/", c.handler) }

// Drain ends the live updates in progress (server-sent events), so that
// they do not hold a shutdown.
func (c *Console) Drain() { c.drain() }

// Wait waits for the runs the Run button started to finish, or ctx.
func (c *Console) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { c.runs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("console runs still going: %w", ctx.Err())
	}
}

// CleanSessions deletes expired sessions every interval until ctx ends.
func (c *Console) CleanSessions(ctx context.Context, interval time.Duration) {
	c.store.Cleanup(ctx, interval, c.opt.Log)
}

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.loginWithKey)
	mux.HandleFunc("POST /logout", c.logout)
	mux.HandleFunc("GET /login/github", c.loginWithGitHub)
	mux.HandleFunc("GET /login/github/callback", c.gitHubCallback)

	in := func(pattern string, h func(http.ResponseWriter, *http.Request, *viewer)) {
		mux.Handle(pattern, c.signedIn(h))
	}
	in("GET /projects", c.projects)
	in("GET /projects/{project}", c.project)
	in("GET /projects/{project}/{plural}", c.resources)
	in("GET /projects/{project}/{plural}/new", c.newResource)
	in("POST /projects/{project}/{plural}/new", c.createResource)
	in("GET /projects/{project}/{plural}/{name}", c.resource)
	in("GET /projects/{project}/{plural}/{name}/edit", c.editResource)
	in("POST /projects/{project}/{plural}/{name}", c.saveResource)
	in("GET /projects/{project}/{plural}/{name}/delete", c.confirmDelete)
	in("POST /projects/{project}/{plural}/{name}/delete", c.deleteResource)
	in("GET /pipelines", c.pipelines)
	in("GET /pipelines/new", c.newPipeline)
	in("POST /pipelines/new", c.savePipeline)
	in("GET /pipelines/{project}/{name}", c.pipelinePage)
	in("GET /pipelines/{project}/{name}/edit", c.editPipeline)
	in("POST /pipelines/{project}/{name}/edit", c.savePipeline)
	in("GET /pipelines/{project}/{name}/triggers", c.triggers)
	in("POST /pipelines/{project}/{name}/run", c.runPipeline)
	in("GET /runs/{id}", c.runPage)
	in("GET /runs/{id}/events", c.runEvents)
	in("POST /runs/{id}/conflicts/{kind}/{project}/{name}", c.resolveConflict)
	in("GET /users", c.usersPage)
	in("POST /users/keys", c.createKey)
	in("POST /users/keys/{id}/revoke", c.revokeKey)
	in("POST /users/roles", c.setRole)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, &controller.Error{Code: http.StatusNotFound, Message: "no such page: " + r.URL.Path})
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.opt.Log.WarnContext(r.Context(), "cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		c.render(w, r, http.StatusForbidden, "error", nil, errorPage{Code: http.StatusForbidden,
			Message: "cross-origin request refused: a change to the console must come from the console's own pages"})
	}))
	return c.sessions.LoadAndSave(cop.Handler(securityHeaders(mux)))
}

// securityHeaders sets what every page sends: no framing, no sniffing,
// scripts and styles only from the console itself.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
		next.ServeHTTP(w, r)
	})
}

func staticHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// viewer is the person signed in: who (email, role) and how.
type viewer struct {
	access.Principal
	Login string // GitHub login; empty for a key
	Via   string // "key" or "GitHub"
}

// Name is how the console shows the viewer.
func (v *viewer) Name() string {
	if v.Login != "" {
		return v.Login
	}
	return v.Email
}

// Can reports whether the viewer may do the named action: write, run,
// pipelines or keys.
func (v *viewer) Can(action string) bool {
	switch action {
	case "write":
		return v.Role.Can(access.WriteResources)
	case "run":
		return v.Role.Can(access.RunPipelines)
	case "pipelines":
		return v.Role.Can(access.ManagePipelines)
	case "keys":
		return v.Role.Can(access.ManageKeys)
	}
	return false
}

// Session keys.
const (
	sessVia      = "via"      // "key" or "github"
	sessKeyID    = "keyID"    // the API key's ID (never the key)
	sessGitHubID = "githubID" // the GitHub user ID of a person signed in with GitHub
	sessLogin    = "login"
	sessEmail    = "email"
	sessFlash    = "flash"
	sessState    = "oauthState"
	sessNext     = "next"
)

// who returns the signed-in viewer, or nil. A session whose key was
// revoked ends here.
func (c *Console) who(r *http.Request) (*viewer, error) {
	ctx := r.Context()
	switch c.sessions.GetString(ctx, sessVia) {
	case "key":
		p, err := c.opt.Keys.ByID(ctx, c.sessions.GetString(ctx, sessKeyID))
		var apiErr *controller.Error
		if errors.As(err, &apiErr) && apiErr.Code == http.StatusUnauthorized {
			_ = c.sessions.Destroy(ctx)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &viewer{Principal: p, Via: "key"}, nil
	case "github":
		id := c.sessions.GetInt64(ctx, sessGitHubID)
		login, email := c.sessions.GetString(ctx, sessLogin), c.sessions.GetString(ctx, sessEmail)
		role := access.Role("")
		if id > 0 { // a session from before sign-ins were by ID has none: signed out
			var err error
			if role, err = c.roleOf(ctx, id, login, email); err != nil {
				return nil, err
			}
		}
		if !role.Can(access.Read) { // an admin set none (or took the role away)
			_ = c.sessions.Destroy(ctx)
			return nil, nil
		}
		return &viewer{Principal: access.Principal{Email: email, Role: role}, Login: login, Via: "GitHub"}, nil
	}
	return nil, nil
}

// signedIn serves h to a signed-in viewer, with the viewer's principal in
// the request's context (so that what the console calls records who);
// others go to /login.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, *viewer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := c.who(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if v == nil {
			if r.Method == http.MethodGet {
				c.sessions.Put(r.Context(), sessNext, r.URL.RequestURI())
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(access.NewContext(r.Context(), v.Principal)), v)
	})
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	v, err := c.who(r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if v == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/pipelines", http.StatusSeeOther)
}

// flash keeps a message for the next page the viewer sees.
func (c *Console) flash(r *http.Request, format string, args ...any) {
	c.sessions.Put(r.Context(), sessFlash, fmt.Sprintf(format, args...))
}

// pageData is what every page's template gets.
type pageData struct {
	Title string
	Nav   string
	User  *viewer
	Flash string
	Data  any
}

// render writes the page name with data, status code.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name string, v *viewer, data any) {
	t, ok := c.pages[name]
	if !ok {
		panic("web: no page template " + name)
	}
	pd := pageData{User: v, Data: data, Flash: c.sessions.PopString(r.Context(), sessFlash)}
	if tp, ok := data.(interface{ title() string }); ok {
		pd.Title = tp.title()
	}
	if np, ok := data.(interface{ nav() string }); ok {
		pd.Nav = np.nav()
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", pd); err != nil {
		c.opt.Log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(buf.String()))
}

// errorPage is the page of a failed request.
type errorPage struct {
	Code     int
	Message  string
	Problems []string
}

func (e errorPage) title() string { return http.StatusText(e.Code) }

// fail answers err as the API would, as a page: an *controller.Error with
// its status, an *access.Denied with 403, anything else 500 (logged).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var apiErr *controller.Error
	var denied *access.Denied
	page := errorPage{Code: http.StatusInternalServerError, Message: "internal error"}
	switch {
	case errors.As(err, &apiErr):
		page.Code, page.Message = apiErr.Code, apiErr.Message
		for _, p := range apiErr.Problems {
			page.Problems = append(page.Problems, p.String())
		}
	case errors.As(err, &denied):
		page.Code, page.Message = http.StatusForbidden, denied.Error()
	default:
		c.opt.Log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	c.render(w, r, page.Code, "error", v, page)
}

func notFound(format string, args ...any) error {
	return &controller.Error{Code: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &controller.Error{Code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// safeNext is a path of the console to go to after sign-in, or "/".
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

// Title is the status text of the page's code.
func (e errorPage) Title() string { return http.StatusText(e.Code) }

// URL is where people reach the console (web.url, or where the server
// listens), without a trailing slash.
func (c *Console) URL() string { return c.base }
