package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"go.yaml.in/yaml/v3"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/githubflow"
	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
	"github.com/systemsync/systemsync/internal/web"
)

// consoleEnv is a console over a fresh database, served over HTTP, with a
// `default` project and an admin key.
type consoleEnv struct {
	url   string
	db    *store.DB
	store *controller.Store
	keys  *controller.Keys
	runs  *pipeline.Runs
	gh    *githubtest.Server
}

func startConsole(t *testing.T, webCfg config.Web, gh *githubtest.Server) *consoleEnv {
	t.Helper()
	return startConsoleTB(t, webCfg, gh, false)
}

// startConsoleTB is startConsole, with the controller API on the same mux
// when withAPI is set.
func startConsoleTB(t testing.TB, webCfg config.Web, gh *githubtest.Server, withAPI bool) *consoleEnv {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t)
	env := &consoleEnv{db: db, store: controller.NewStore(db), keys: controller.NewKeys(db), runs: pipeline.NewRuns(db), gh: gh}
	if _, _, err := env.keys.Claim(ctx, controller.SlotAdmin, "admin-key", "admin@example.com", access.Admin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.store.Apply(ctx, spec.Key{Kind: "Project", Name: "default"}, map[string]any{"apiVersion": "system.k8smgmt.io/v3",
		"kind": "Project", "metadata": map[string]any{"name": "default"}}, "admin@example.com", ""); err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	env.url = srv.URL
	if webCfg.DefaultRole == "" {
		webCfg.DefaultRole = "viewer"
	}
	if webCfg.SessionLifetime == 0 {
		webCfg.SessionLifetime = time.Hour
	}
	opt := web.Options{DB: db, Store: env.store, Keys: env.keys, Runs: env.runs, Web: webCfg, BaseURL: srv.URL,
		Sync: func(ctx context.Context, project, name string) ([]int64, error) {
			t.Errorf("a run of %s/%s was started", project, name)
			return nil, nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if gh != nil {
		opt.GitHubWebURL, opt.GitHubAPIURL = gh.WebURL(), gh.APIURL()
		opt.OAuthClientID, opt.OAuthClientSecret = gh.OAuthClientID(), gh.OAuthClientSecret()
		// Who may sign in is asked of GitHub by the app, as the server wires it.
		var ghCfg githubapp.Config
		ghCfg.WebURL, ghCfg.V3APIURL = gh.WebURL(), gh.APIURL()
		ghCfg.App.IntegrationID, ghCfg.App.PrivateKey, ghCfg.App.WebhookSecret = gh.AppID(), gh.PrivateKeyPEM(), gh.WebhookSecret()
		app, err := githubflow.New(githubflow.Config{GitHub: ghCfg}, nil, db, opt.Log)
		if err != nil {
			t.Fatal(err)
		}
		opt.People = app
	}
	c, err := web.NewConsole(opt)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if withAPI {
		mux.Handle("/apis/", controller.NewAPI(env.store, env.keys, opt.Log))
	}
	c.Register(mux)
	handler = mux
	return env
}

// visitor is a browser-like client: cookies, no automatic redirects.
type visitor struct {
	t   testing.TB
	env *consoleEnv
	c   *http.Client
}

func (env *consoleEnv) visitor(t *testing.T) *visitor { return newVisitor(t, env) }

func newVisitor(t testing.TB, env *consoleEnv) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, env: env, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	code int
	loc  string
	body string
	hdr  http.Header
}

func (v *visitor) req(method, path string, form url.Values, hdr map[string]string) page {
	v.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = v.env.url + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, val := range hdr {
		req.Header.Set(k, val)
	}
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, loc: resp.Header.Get("Location"), body: string(b), hdr: resp.Header}
}

func (v *visitor) get(path string) page { return v.req("GET", path, nil, nil) }
func (v *visitor) post(path string, form url.Values) page {
	return v.req("POST", path, form, map[string]string{"Origin": v.env.url, "Sec-Fetch-Site": "same-origin"})
}

func (v *visitor) cookie() *http.Cookie {
	u, _ := url.Parse(v.env.url)
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == "systemsync_session" {
			return c
		}
	}
	return nil
}

func (v *visitor) signIn(key string) page {
	v.t.Helper()
	p := v.post("/login", url.Values{"api_key": {key}})
	if p.code != http.StatusSeeOther {
		v.t.Fatalf("sign-in: %d %s", p.code, p.body)
	}
	return p
}

// TestKeySessions: a key signs in; the session token is renewed at
// sign-in and out, its cookie is HttpOnly and SameSite=Lax, the database
// holds no token nor key, and revoking the key ends the session.
func TestKeySessions(t *testing.T) {
	ctx := context.Background()
	env := startConsole(t, config.Web{}, nil)
	v := env.visitor(t)
	if p := v.get("/pipelines"); p.code != http.StatusSeeOther || p.loc != "/login" {
		t.Fatalf("a visitor's /pipelines: %d to %s", p.code, p.loc)
	}
	before := v.cookie()
	if before == nil {
		t.Fatal("no session cookie before sign-in (the page to return to is kept)")
	}
	if p := v.post("/login", url.Values{"api_key": {"wrong"}}); p.code != http.StatusUnauthorized || !strings.Contains(p.body, "not a valid API key") {
		t.Fatalf("a wrong key: %d", p.code)
	}
	key, secret, err := env.keys.Create(ctx, "carol@example.com", access.Editor)
	if err != nil {
		t.Fatal(err)
	}
	p := v.signIn(secret)
	if p.loc != "/pipelines" {
		t.Fatalf("after sign-in: to %s, want the page asked for", p.loc)
	}
	var setCookie string
	for _, c := range p.hdr.Values("Set-Cookie") {
		if strings.HasPrefix(c, "systemsync_session=") {
			setCookie = c
		}
	}
	if !strings.Contains(setCookie, "HttpOnly") || !strings.Contains(setCookie, "SameSite=Lax") || strings.Contains(setCookie, "Secure") {
		t.Fatalf("session cookie over http: %s", setCookie)
	}
	after := v.cookie()
	if after.Value == before.Value {
		t.Fatal("the session token was not renewed at sign-in")
	}
	if p := v.get("/pipelines"); p.code != http.StatusOK || !strings.Contains(p.body, "carol@example.com") {
		t.Fatalf("signed in: %d", p.code)
	}
	rows, err := env.db.Query(ctx, `SELECT token, data FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tok string
		var data []byte
		if err := rows.Scan(&tok, &data); err != nil {
			t.Fatal(err)
		}
		if tok == after.Value || strings.Contains(string(data), secret) || !strings.Contains(string(data), key.ID) {
			t.Fatalf("the sessions table holds the token or the key (token %q)", tok)
		}
	}
	rows.Close()

	// Revoked: the session ends at once.
	if _, err := env.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if p := v.get("/pipelines"); p.code != http.StatusSeeOther || p.loc != "/login" {
		t.Fatalf("after revocation: %d to %s", p.code, p.loc)
	}

	// Sign-out: the old cookie no longer signs anyone in.
	w := env.visitor(t)
	w.signIn("admin-key")
	old := w.cookie()
	if p := w.post("/logout", url.Values{}); p.code != http.StatusSeeOther || p.loc != "/login" {
		t.Fatalf("sign-out: %d to %s", p.code, p.loc)
	}
	replay := env.visitor(t)
	u, _ := url.Parse(env.url)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: old.Name, Value: old.Value}})
	if p := replay.get("/pipelines"); p.code != http.StatusSeeOther {
		t.Fatalf("a signed-out token still works: %d", p.code)
	}
}

// TestSecureCookieOverHTTPS: with web.url https://, the cookie is Secure.
func TestSecureCookieOverHTTPS(t *testing.T) {
	env := startConsole(t, config.Web{URL: "https://sync.example.com"}, nil)
	p := env.visitor(t).signIn("admin-key")
	if c := strings.Join(p.hdr.Values("Set-Cookie"), "\n"); !strings.Contains(c, "Secure") {
		t.Fatalf("session cookie with an https web.url: %s", c)
	}
}

// TestCrossOriginRefused: a POST a browser says is cross-site (or from
// another origin) is 403 and signs nobody in; the same from the console's
// own page passes.
func TestCrossOriginRefused(t *testing.T) {
	env := startConsole(t, config.Web{}, nil)
	v := env.visitor(t)
	form := url.Values{"api_key": {"admin-key"}}
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
		{"Origin": "https://evil.example"},
	} {
		if p := v.req("POST", "/login", form, hdr); p.code != http.StatusForbidden || !strings.Contains(p.body, "cross-origin request refused") {
			t.Fatalf("POST with %v: %d", hdr, p.code)
		}
	}
	if p := v.get("/pipelines"); p.code != http.StatusSeeOther {
		t.Fatalf("a refused sign-in signed in: %d", p.code)
	}
	v.signIn("admin-key")
}

// TestRolesOnPages: a viewer reads but may not write; an editor writes
// resources but not pipelines; each refusal is 403 and changes nothing.
func TestRolesOnPages(t *testing.T) {
	ctx := context.Background()
	env := startConsole(t, config.Web{}, nil)
	_, viewerKey, _ := env.keys.Create(ctx, "v@example.com", access.Viewer)
	_, editorKey, _ := env.keys.Create(ctx, "e@example.com", access.Editor)
	ns := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: a\n  project: default\nspec: {}\n"
	viewer := env.visitor(t)
	viewer.signIn(viewerKey)
	if p := viewer.get("/projects/default/namespaces"); p.code != http.StatusOK || strings.Contains(p.body, "New Namespace") {
		t.Fatalf("a viewer's list: %d, offers New: %v", p.code, strings.Contains(p.body, "New Namespace"))
	}
	if p := viewer.post("/projects/default/namespaces/new", url.Values{"yaml": {ns}, "action": {"save"}}); p.code != http.StatusForbidden || !strings.Contains(p.body, "role viewer may not write resources") {
		t.Fatalf("a viewer's create: %d", p.code)
	}
	if p := viewer.get("/users"); p.code != http.StatusForbidden {
		t.Fatalf("a viewer's /users: %d", p.code)
	}
	editor := env.visitor(t)
	editor.signIn(editorKey)
	if p := editor.post("/projects/default/namespaces/new", url.Values{"yaml": {ns}, "action": {"save"}}); p.code != http.StatusSeeOther {
		t.Fatalf("an editor's create: %d %s", p.code, p.body)
	}
	st, err := env.store.Get(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := env.store.Events(ctx, 0, 100)
	if last := evs[len(evs)-1]; last.User != "e@example.com" || last.Name != "a" {
		t.Fatalf("the event log records %+v, want the editor", last)
	}
	if p := editor.get("/pipelines/new"); p.code != http.StatusForbidden {
		t.Fatalf("an editor's new pipeline form: %d", p.code)
	}
	if p := editor.post("/projects/default/namespaces/a/delete", nil); p.code != http.StatusSeeOther {
		t.Fatalf("an editor's delete: %d", p.code)
	}
	if _, err := env.store.Get(ctx, st.Key); err == nil {
		t.Fatal("the deleted namespace is still there")
	}
}

// TestEditProblemsAndConflicts: problems are shown on their lines; a
// resource changed since the form was opened is said so, with the diff
// against what is stored now, and saving then needs the new version.
func TestEditProblemsAndConflicts(t *testing.T) {
	ctx := context.Background()
	env := startConsole(t, config.Web{}, nil)
	key := spec.Key{Kind: "Namespace", Project: "default", Name: "a"}
	obj := func(env string) map[string]any {
		return map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace", "metadata": map[string]any{"name": "a", "project": "default"},
			"spec": map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": env}}}}}
	}
	st, _, err := env.store.Apply(ctx, key, obj("dev"), "x@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	v := env.visitor(t)
	v.signIn("admin-key")
	bad := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: a\n  project: default\nspec:\n  placement:\n    labels:\n    - key: 5\n      value: x\n"
	p := v.post("/projects/default/namespaces/a", url.Values{"yaml": {bad}, "resourceVersion": {"1"}})
	if p.code != http.StatusBadRequest || !strings.Contains(p.body, `id="L9"`) || !strings.Contains(p.body, "spec.placement.labels[0].key") {
		t.Fatalf("problems: %d\n%s", p.code, p.body)
	}
	opened := st.ResourceVersion
	if _, _, err := env.store.Apply(ctx, key, obj("staging"), "x@example.com", ""); err != nil {
		t.Fatal(err)
	}
	mine := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: a\n  project: default\nspec:\n  placement:\n    labels:\n    - key: env\n      value: prod\n"
	p = v.post("/projects/default/namespaces/a", url.Values{"yaml": {mine}, "resourceVersion": {itoa(opened)}, "action": {"save"}})
	if p.code != http.StatusOK || !strings.Contains(p.body, `id="conflict"`) || !strings.Contains(p.body, "-       value: staging") || !strings.Contains(p.body, "&#43;       value: prod") {
		t.Fatalf("a save over a change: %d\n%s", p.code, p.body)
	}
	if cur, _ := env.store.Get(ctx, key); cur.Object["spec"].(map[string]any)["placement"].(map[string]any)["labels"].([]any)[0].(map[string]any)["value"] != "staging" {
		t.Fatal("a save over someone's change went through unreviewed")
	}
	cur, _ := env.store.Get(ctx, key)
	p = v.post("/projects/default/namespaces/a", url.Values{"yaml": {mine}, "resourceVersion": {itoa(cur.ResourceVersion)}, "action": {"save"}})
	if p.code != http.StatusSeeOther {
		t.Fatalf("the reviewed save: %d\n%s", p.code, p.body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSignInWithGitHub signs people in through the GitHub stand-in: the
// login from web.admins is an admin, another (who reads a repository of
// the installation) gets web.default_role until an admin changes it on
// /users; a user without a verified primary email and a callback with the
// wrong state are refused.
func TestSignInWithGitHub(t *testing.T) {
	gh := githubtest.New(t)
	env := startConsole(t, config.Web{Admins: []string{"octocat"}, DefaultRole: "viewer"}, gh)
	gh.SetOAuthCallbackURL(env.url + "/login/github/callback")
	gh.AddOAuthUser(githubtest.OAuthUser{Login: "octocat", Emails: []githubtest.OAuthEmail{{Email: "octo@example.com", Primary: true, Verified: true}}})
	gh.AddOAuthUser(githubtest.OAuthUser{Login: "hubot", Emails: []githubtest.OAuthEmail{{Email: "hubot@example.com", Primary: true, Verified: true}}})
	gh.AddOAuthUser(githubtest.OAuthUser{Login: "unverified", Emails: []githubtest.OAuthEmail{{Email: "u@example.com", Primary: true}}})
	gh.AddRepo(t, "acme", "specs", 77)
	gh.SetPermission("acme", "specs", "hubot", "read") // what lets hubot in with the default role

	signIn := func(login string) (*visitor, page) {
		t.Helper()
		v := env.visitor(t)
		if p := v.get("/login"); !strings.Contains(p.body, "Sign in with GitHub") {
			t.Fatal("no Sign in with GitHub on /login")
		}
		gh.SignInAs(login)
		p := v.get("/login/github")
		for i := 0; i < 5 && p.code/100 == 3 && !strings.HasPrefix(p.loc, "/"); i++ {
			p = v.get(p.loc) // GitHub's authorize, then back to the callback
		}
		return v, p
	}
	octo, p := signIn("octocat")
	if p.code != http.StatusSeeOther || p.loc != "/pipelines" {
		t.Fatalf("octocat's sign-in: %d to %s\n%s", p.code, p.loc, p.body)
	}
	if p := octo.get("/users"); p.code != http.StatusOK || !strings.Contains(p.body, "admin (web.admins)") {
		t.Fatalf("octocat (web.admins) on /users: %d", p.code)
	}
	hubot, p := signIn("hubot")
	if p.code != http.StatusSeeOther {
		t.Fatalf("hubot's sign-in: %d\n%s", p.code, p.body)
	}
	if p := hubot.get("/pipelines"); !strings.Contains(p.body, `<span class="role">viewer</span>`) {
		t.Fatal("hubot is not a viewer by default")
	}
	if p := hubot.get("/users"); p.code != http.StatusForbidden {
		t.Fatalf("a viewer's /users: %d", p.code)
	}
	if p := octo.post("/users/roles", url.Values{"login": {"hubot"}, "role": {"editor"}}); p.code != http.StatusSeeOther {
		t.Fatalf("set hubot's role: %d %s", p.code, p.body)
	}
	if p := hubot.get("/pipelines"); !strings.Contains(p.body, `<span class="role">editor</span>`) {
		t.Fatal("hubot's new role did not reach his session")
	}
	ctx := context.Background()
	if _, _, err := env.store.Apply(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "n"}, map[string]any{"apiVersion": "infra.k8smgmt.io/v3",
		"kind": "Namespace", "metadata": map[string]any{"name": "n", "project": "default"}, "spec": map[string]any{}}, "x@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if p := hubot.post("/projects/default/namespaces/n/delete", nil); p.code != http.StatusSeeOther {
		t.Fatalf("an editor's delete: %d", p.code)
	}
	evs, _ := env.store.Events(ctx, 0, 100)
	if last := evs[len(evs)-1]; last.Type != "Delete" || last.User != "hubot@example.com" {
		t.Fatalf("the delete is recorded as %+v, want hubot's verified email", last)
	}
	if _, p := signIn("unverified"); p.code != http.StatusUnauthorized || !strings.Contains(p.body, "no verified primary email") {
		t.Fatalf("a user with no verified email: %d", p.code)
	}
	v := env.visitor(t)
	v.get("/login/github")
	if p := v.get("/login/github/callback?code=x&state=forged"); p.code != http.StatusUnauthorized || !strings.Contains(p.body, "did not start here") {
		t.Fatalf("a forged state: %d", p.code)
	}
}

// TestUsersPageKeys: an admin creates a key (shown once, never again) and
// revokes it on /users.
func TestUsersPageKeys(t *testing.T) {
	ctx := context.Background()
	env := startConsole(t, config.Web{}, nil)
	v := env.visitor(t)
	v.signIn("admin-key")
	p := v.post("/users/keys", url.Values{"email": {"dave@example.com"}, "role": {"editor"}})
	if p.code != http.StatusCreated || !strings.Contains(p.body, `id="new-key"`) || p.hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("create a key: %d", p.code)
	}
	i := strings.Index(p.body, `<code id="new-key">`) + len(`<code id="new-key">`)
	secret := p.body[i : i+strings.Index(p.body[i:], "<")]
	who, err := env.keys.Authenticate(ctx, secret)
	if err != nil || who.Email != "dave@example.com" || who.Role != access.Editor {
		t.Fatalf("the key shown: %+v, %v", who, err)
	}
	if p := v.get("/users"); strings.Contains(p.body, secret) {
		t.Fatal("the key is shown again")
	}
	if p := v.post("/users/keys", url.Values{"email": {"not an email"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "is not an address") {
		t.Fatalf("a bad email: %d", p.code)
	}
	if p := v.post("/users/keys/"+who.KeyID+"/revoke", nil); p.code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.code)
	}
	if _, err := env.keys.Authenticate(ctx, secret); err == nil {
		t.Fatal("the revoked key still works")
	}
}

// TestAppManifestNamesTheConsole: app.yml sends GitHub's sign-in back to
// the console's callback and an installer to a console page.
func TestAppManifestNamesTheConsole(t *testing.T) {
	data, err := os.ReadFile("../../app.yml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		CallbackURLs []string          `yaml:"callback_urls"`
		SetupURL     string            `yaml:"setup_url"`
		Permissions  map[string]string `yaml:"default_permissions"`
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.CallbackURLs) != 1 || !strings.HasSuffix(m.CallbackURLs[0], "/login/github/callback") {
		t.Fatalf("callback_urls %v, want the console's /login/github/callback", m.CallbackURLs)
	}
	if u, err := url.Parse(m.SetupURL); err != nil || u.Path != "/pipelines" {
		t.Fatalf("setup_url %q, want the console's /pipelines", m.SetupURL)
	}
	if m.Permissions["email_addresses"] != "read" {
		t.Fatalf("default_permissions %v: the console needs email_addresses: read", m.Permissions)
	}
}

// TestPipelinePageShowsStagesNotRunByTheBot: a stage of a type the bot
// does not run is kept and shown as such, with the order next gives.
func TestPipelinePageShowsStagesNotRunByTheBot(t *testing.T) {
	ctx := context.Background()
	env := startConsole(t, config.Web{}, nil)
	obj := map[string]any{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": "two", "project": "default"},
		"spec": map[string]any{"stages": []any{
			map[string]any{"name": "sync", "type": "SystemSync", "next": []any{map[string]any{"name": "deploy"}},
				"config": map[string]any{"gitToSystemSync": true, "sourceRepo": map[string]any{"repository": "r", "revision": "main"}}},
			map[string]any{"name": "deploy", "type": "DeployWorkload", "config": map[string]any{"workload": "echo"}}}}}
	if _, _, err := env.store.Apply(ctx, spec.Key{Kind: "Pipeline", Project: "default", Name: "two"}, obj, "admin@example.com", ""); err != nil {
		t.Fatal(err)
	}
	v := env.visitor(t)
	v.signIn("admin-key")
	p := v.get("/pipelines/default/two")
	if p.code != http.StatusOK || !strings.Contains(p.body, "then deploy") || !strings.Contains(p.body, "<td>DeployWorkload</td>\n<td><em>not run by this bot</em>") {
		t.Fatalf("pipeline page %d:\n%s", p.code, p.body)
	}
}
