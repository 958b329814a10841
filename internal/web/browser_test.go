package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	bot "github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
	"github.com/systemsync/systemsync/internal/web/browsertest"
)

// local is a local-mode server (its demo repository, pipeline and keys)
// running for a test.
type local struct {
	*bot.Server
	bare     string // the demo repository
	adminKey string
}

func startLocal(t *testing.T) *local {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = storetest.URL(t)
	// Pushes are applied by the Run button alone: the test decides when.
	cfg.PollInterval = time.Hour
	cfg.CommitWindow = 200 * time.Millisecond
	cfg.Controller.ListInterval = 200 * time.Millisecond
	s, err := bot.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	// The first poll has synced the demo repository (a first sync takes
	// Git's side): what the test makes in the system from now on is new.
	eventually(t, "the first poll of the demo repository", func() bool {
		pos, err := s.DB.Position(ctx, "poll:default/"+bot.DemoPipeline+"/system-sync-stage")
		return err == nil && pos != ""
	})
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &local{Server: s, bare: bot.DemoRepoPath(cfg.DataDir), adminKey: strings.TrimSpace(string(key))}
}

// gitShow returns what git prints for args in the demo repository, "" on error.
func (l *local) git(args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = l.bare
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// version is the namespace's resourceVersion in the system.
func (l *local) version(t *testing.T, name string) int64 {
	t.Helper()
	st, err := l.Store.Get(context.Background(), spec.Key{Kind: "Namespace", Project: "default", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return st.ResourceVersion
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// person is a browser profile of its own (cookies and all) in the test's browser.
type person struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (l *local) person(t *testing.T, browser context.Context) *person {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return &person{t: t, ctx: ctx, base: l.BaseURL}
}

func (p *person) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// open navigates to path and returns the HTTP status of the page.
func (p *person) open(path string) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.base+path))
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.Status
}

// submit clicks sel, which sends a form, and returns the status of the
// page it leads to (after redirects).
func (p *person) submit(sel string) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

func (p *person) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func eval[T any](p *person, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (p *person) location() string {
	p.t.Helper()
	loc, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, p.base)
}

// signIn signs in on /login with an API key.
func (p *person) signIn(key, email string) {
	p.t.Helper()
	if code := p.open("/login"); code != http.StatusOK {
		p.t.Fatalf("GET /login: %d", code)
	}
	p.do(chromedp.SetValue(chromedp.ID("api_key"), key))
	if code := p.submit(`form[action="/login"] button[type=submit]`); code != http.StatusOK {
		p.t.Fatalf("sign-in: %d at %s", code, p.location())
	}
	if got := p.text("#signed-in-as"); !strings.Contains(got, email) {
		p.t.Fatalf("signed in as %q, want %s", got, email)
	}
}

// TestConsoleInABrowser drives the console in chromium against a
// local-mode server, as a platform team would: sign in with a key, edit a
// Namespace's quota and find the commit authored by that user, make a
// pipeline with the System Sync form, press Run and watch the run, read
// its Output and Event Payload, and be refused what a viewer may not do or
// what another origin asks.
func TestConsoleInABrowser(t *testing.T) {
	browserPath := browsertest.Require(t)
	ctx := context.Background()
	l := startLocal(t)
	browser, stop, err := browsertest.Start(ctx, browserPath, t.TempDir(), 1280, 900)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	_, aliceKey, err := l.Keys.Create(ctx, "alice@example.com", access.Editor)
	if err != nil {
		t.Fatal(err)
	}
	_, bobKey, err := l.Keys.Create(ctx, "bob@example.com", access.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	ns := map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": "team-a", "project": "default"},
		"spec": map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": "dev"}}},
			"resourceQuotas": map[string]any{"cpuLimits": "4000m", "memoryLimits": "8000Mi"}}}
	if _, _, err := l.Store.Apply(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "team-a"}, ns, "admin@localhost", ""); err != nil {
		t.Fatal(err)
	}
	file := "projects/default/namespaces/team-a.yaml"
	eventually(t, "team-a committed to the demo repository", func() bool {
		return strings.Contains(l.git("show", "main:"+file), "cpuLimits: 4000m")
	})

	t.Run("edit a quota, without JavaScript, and find the commit by its user", func(t *testing.T) {
		alice := l.person(t, browser)
		alice.signIn(aliceKey, "alice@example.com")
		// The form works with scripts off: it is plain HTML.
		alice.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
		if code := alice.open("/projects/default/namespaces/team-a/edit"); code != http.StatusOK {
			t.Fatalf("edit page: %d", code)
		}
		yaml := alice.value("#yaml")
		if !strings.Contains(yaml, "cpuLimits: 4000m") {
			t.Fatalf("the form holds:\n%s", yaml)
		}
		alice.do(chromedp.SetValue(chromedp.ID("yaml"), strings.Replace(yaml, "cpuLimits: 4000m", "cpuLimits: 8000m", 1)))
		if code := alice.submit("#review"); code != http.StatusOK {
			t.Fatalf("review: %d", code)
		}
		if diff := alice.text("#diff"); !strings.Contains(diff, "-     cpuLimits: 4000m") || !strings.Contains(diff, "+     cpuLimits: 8000m") {
			t.Fatalf("the review shows:\n%s", diff)
		}
		if code := alice.submit("#save"); code != http.StatusOK || alice.location() != "/projects/default/namespaces/team-a" {
			t.Fatalf("save: %d at %s", code, alice.location())
		}
		if flash := alice.text(".flash"); !strings.Contains(flash, "updated") {
			t.Fatalf("after save: %q", flash)
		}
		eventually(t, "alice's change committed", func() bool {
			return l.git("log", "-1", "--format=%ae", "main", "--", file) == "alice@example.com"
		})
		if got := l.git("show", "main:"+file); !strings.Contains(got, "cpuLimits: 8000m") || !strings.Contains(got, "memoryLimits: 8000Mi") {
			t.Fatalf("the committed file:\n%s", got)
		}
	})

	admin := l.person(t, browser)
	admin.signIn(l.adminKey, "admin@localhost")

	t.Run("make a pipeline with the System Sync form", func(t *testing.T) {
		if code := admin.open("/pipelines/new"); code != http.StatusOK {
			t.Fatalf("new pipeline form: %d", code)
		}
		admin.do(
			chromedp.SetValue(chromedp.ID("name"), "team-sync"),
			chromedp.SetValue(chromedp.ID("stage_name"), "teams"),
			chromedp.SetValue(chromedp.ID("source_repository"), "demo"),
			chromedp.SetValue(chromedp.ID("source_revision"), "main"),
			chromedp.SetValue(chromedp.ID("source_path"), "teams"),
			chromedp.Click(chromedp.ID("active")), // inactive: it must not sync the demo repository meanwhile
			chromedp.Click(chromedp.ID("include_chosen")),
			chromedp.Click(chromedp.ID("include-Namespace")),
		)
		if code := admin.submit("#save-triggers"); code != http.StatusOK || admin.location() != "/pipelines/default/team-sync/triggers" {
			t.Fatalf("Save and Go To Triggers: %d at %s (%s)", code, admin.location(), admin.text("main"))
		}
		st, err := l.Store.Get(ctx, spec.Key{Kind: "Pipeline", Project: "default", Name: "team-sync"})
		if err != nil {
			t.Fatal(err)
		}
		stage := st.Object["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)
		cfg := stage["config"].(map[string]any)
		src := cfg["sourceRepo"].(map[string]any)
		if stage["name"] != "teams" || stage["type"] != "SystemSync" || src["repository"] != "demo" || src["revision"] != "main" ||
			src["path"].(map[string]any)["name"] != "teams" || fmt.Sprint(cfg["includedResources"]) != "[map[name:Namespace]]" ||
			cfg["gitToSystemSync"] != true || cfg["systemToGitSync"] != true || st.Object["spec"].(map[string]any)["active"] != false {
			t.Fatalf("stored pipeline %v", st.Object)
		}
		eventually(t, "the pipeline committed to Git like any resource", func() bool {
			return strings.Contains(l.git("show", "main:projects/default/pipelines/team-sync.yaml"), "name: teams")
		})
	})

	t.Run("press Run and watch the run, its Output and Event Payload", func(t *testing.T) {
		work := t.TempDir()
		gittest.Git(t, work, "clone", "-q", l.bare, ".")
		gittest.Git(t, work, "config", "user.email", "carol@example.com")
		if err := os.WriteFile(filepath.Join(work, "projects/default/namespaces/from-git.yaml"),
			[]byte("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: from-git\n  project: default\nspec: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Git(t, work, "add", "-A")
		gittest.Git(t, work, "commit", "-q", "-m", "from git")
		gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")
		if code := admin.open("/pipelines/default/system-sync"); code != http.StatusOK {
			t.Fatalf("pipeline page: %d", code)
		}
		if code := admin.submit("#run"); code != http.StatusOK || !strings.HasPrefix(admin.location(), "/runs/") {
			t.Fatalf("Run: %d at %s", code, admin.location())
		}
		admin.waitText("#status", pipeline.StatusSuccess)
		// live.js shows the status, then reloads the page for its rows.
		admin.waitText("#output-rows", "Namespace default/from-git")
		if got := admin.text("#trigger"); got != pipeline.TriggerManual {
			t.Fatalf("trigger %q", got)
		}
		if rows := eval[int](admin, `document.querySelectorAll("#output-rows tbody tr").length`); rows == 0 {
			t.Fatalf("no Output rows: %s", admin.text("main"))
		}
		if got := admin.text("#output-rows"); !strings.Contains(got, "Namespace default/from-git") || !strings.Contains(got, "projects/default/namespaces/from-git.yaml") {
			t.Fatalf("Output:\n%s", got)
		}
		if got := admin.text("#payload-user"); got != "admin@localhost" {
			t.Fatalf("Event Payload user %q", got)
		}
		if got := admin.text("#payload"); !strings.Contains(got, `"manual": true`) {
			t.Fatalf("Event Payload:\n%s", got)
		}
	})

	t.Run("a run page follows its run live", func(t *testing.T) {
		id, err := l.Runner.Runs.Start(ctx, "default/system-sync", pipeline.TriggerManual, "", []byte(`{"manual":true,"user":"admin@localhost"}`))
		if err != nil {
			t.Fatal(err)
		}
		admin.open(fmt.Sprintf("/runs/%d", id))
		admin.waitText("#status", pipeline.StatusInProgress)
		eventually(t, "the page to listen for updates", func() bool {
			return eval[bool](admin, `typeof EventSource === "function" && document.getElementById("run-facts").dataset.events !== undefined`)
		})
		rows := []pipeline.Row{{Kind: "Namespace", Project: "default", Name: "live", Path: "projects/default/namespaces/live.yaml", Action: "create", Outcome: "applied"}}
		if err := l.Runner.Runs.Finish(ctx, id, pipeline.StatusOf(rows), "", "", rows); err != nil {
			t.Fatal(err)
		}
		admin.waitText("#status", pipeline.StatusSuccess)
		admin.waitText("#output-rows", "Namespace default/live")
	})

	t.Run("a viewer sees no Save and gets 403 posting anyway", func(t *testing.T) {
		bob := l.person(t, browser)
		bob.signIn(bobKey, "bob@example.com")
		bob.open("/projects/default/namespaces/team-a")
		if eval[bool](bob, `document.getElementById("edit") !== null || document.querySelector("a[href$='/delete']") !== null`) {
			t.Fatal("a viewer is offered Edit or Delete")
		}
		bob.open("/pipelines/default/system-sync")
		if eval[bool](bob, `document.getElementById("run") !== null`) {
			t.Fatal("a viewer is offered Run")
		}
		if code := bob.open("/projects/default/namespaces/team-a/edit"); code != http.StatusForbidden {
			t.Fatalf("a viewer's GET of the edit form: %d, want 403", code)
		}
		before := l.version(t, "team-a")
		status := eval[int](bob, `fetch("/projects/default/namespaces/team-a", {method: "POST",
			body: new URLSearchParams({yaml: "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: team-a\n  project: default\nspec: {}\n", action: "save"})}).then(r => r.status)`)
		if status != http.StatusForbidden {
			t.Fatalf("a viewer's POST of the form: %d, want 403", status)
		}
		run := eval[int](bob, `fetch("/pipelines/default/system-sync/run", {method: "POST"}).then(r => r.status)`)
		if run != http.StatusForbidden {
			t.Fatalf("a viewer's POST of Run: %d, want 403", run)
		}
		if after := l.version(t, "team-a"); after != before {
			t.Fatalf("team-a changed from version %d to %d", before, after)
		}
	})

	t.Run("a cross-origin POST gets 403", func(t *testing.T) {
		runsBefore, err := l.Runner.Runs.List(ctx, "default/system-sync", 100)
		if err != nil {
			t.Fatal(err)
		}
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/pipelines/default/system-sync/run"></form>
<script>document.getElementById("f").submit()</script>`, l.BaseURL)
		}))
		defer evil.Close()
		nav, cancel := context.WithTimeout(admin.ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(nav, chromedp.Navigate(evil.URL)); err != nil {
			t.Fatal(err)
		}
		admin.waitText("#error-message", "cross-origin request refused")
		if loc := admin.location(); loc != "/pipelines/default/system-sync/run" {
			t.Fatalf("the forged form ended at %s", loc)
		}
		runsAfter, err := l.Runner.Runs.List(ctx, "default/system-sync", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(runsAfter) != len(runsBefore) {
			t.Fatalf("the forged POST started a run: %d runs, were %d", len(runsAfter), len(runsBefore))
		}
	})

	t.Run("pages fit a phone and label every control", func(t *testing.T) {
		admin.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer admin.do(chromedp.EmulateViewport(1280, 900))
		for _, path := range []string{"/pipelines", "/pipelines/default/system-sync", "/projects/default/namespaces",
			"/projects/default/namespaces/team-a", "/projects/default/namespaces/team-a/edit", "/pipelines/new",
			"/pipelines/default/system-sync/edit", "/pipelines/default/system-sync/triggers", "/users", "/runs/1"} {
			if code := admin.open(path); code != http.StatusOK {
				t.Fatalf("%s: %d", path, code)
			}
			if wide := eval[bool](admin, `document.documentElement.scrollWidth > window.innerWidth + 1`); wide {
				t.Errorf("%s is wider than a phone: %v px in %v", path,
					eval[int](admin, `document.documentElement.scrollWidth`), eval[int](admin, `window.innerWidth`))
			}
			if unlabelled := eval[[]string](admin, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
				.filter(e => !e.labels || e.labels.length === 0).map(e => e.outerHTML)`); len(unlabelled) > 0 {
				t.Errorf("%s has controls without a label: %v", path, unlabelled)
			}
		}
	})
}

// waitText waits until sel's text holds want (the page may reload meanwhile).
func (p *person) waitText(sel, want string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			if strings.Contains(s, want) {
				return
			}
			last = s
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s never held %q (last %q)", sel, want, last)
}

func (p *person) value(sel string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}
