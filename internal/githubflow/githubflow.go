// Package githubflow is the bot as a GitHub App: the webhook endpoint, one
// handler per GitHub event (push.go, pull_request.go, issue_comment.go,
// check_run.go, installation.go), the durable job each delivery the bot
// acts on becomes, what that job does on GitHub, and the installation
// tokens Git uses for repositories on GitHub.
//
// A delivery is checked (size, X-Hub-Signature-256, headers), then its
// event's handler decodes the payload once and decides whether the bot
// acts on it. A delivery it ignores answers 200 and stores nothing; one it
// acts on is stored as a River job holding only the fields the work reads
// (202 once stored). When the job runs, the same handler does the work:
// plan a pull request (sticky comment and systemsync/plan check run),
// apply a push to a pipeline's branch (systemsync/apply and a comment on
// the merged pull request), answer a /systemsync command, record an
// installation.
package githubflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/version"
)

// Route is where GitHub delivers webhooks (go-githubapp's default).
const Route = githubapp.DefaultWebhookRoute

// MaxPayloadBytes is GitHub's cap on a webhook payload; larger bodies get 413.
const MaxPayloadBytes = 25 << 20

// Check run names.
const (
	CheckPlan  = "systemsync/plan"
	CheckApply = "systemsync/apply"
)

// DefaultTimeout bounds each GitHub API request (and each token request)
// when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Config configures the app.
type Config struct {
	// GitHub is go-githubapp's section: web_url, v3_api_url, app.integration_id,
	// app.private_key, app.webhook_secret. An empty web_url is
	// https://github.com, an empty v3_api_url https://api.github.com/.
	GitHub githubapp.Config
	// Version is the bot's version: GitHub API requests carry the user
	// agent systemsync/<Version> (version.String() when empty).
	Version string
	// Metrics counts webhooks and GitHub API calls; nil counts nothing.
	Metrics *metrics.Metrics
	// Timeout bounds each GitHub API request; 0 means DefaultTimeout.
	Timeout time.Duration
	// RunURL returns where a person can read run id; nil leaves links out.
	RunURL func(id int64) string
}

// App is the bot on GitHub. Its methods are safe for concurrent use.
type App struct {
	runner  *pipeline.Runner
	db      *store.DB
	log     *slog.Logger
	runURL  func(id int64) string
	clients githubapp.ClientCreator
	creds   *credentials
	metrics *metrics.Metrics
	// events maps each X-GitHub-Event to its handler; built once by New.
	events map[string]eventHandler
	// internal maps the bot's own job events (never delivered by GitHub) to their handlers.
	internal map[string]eventHandler
}

// New returns the app for cfg, whose jobs run stages with runner and record
// installations in db.
func New(cfg Config, runner *pipeline.Runner, db *store.DB, log *slog.Logger) (*App, error) {
	gh := cfg.GitHub
	if gh.WebURL == "" {
		gh.WebURL = "https://github.com"
	}
	if gh.V3APIURL == "" {
		gh.V3APIURL = "https://api.github.com/"
	}
	v := cfg.Version
	if v == "" {
		v = version.String()
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	userAgent := "systemsync/" + v
	base := &apiTransport{next: cfg.Metrics.GitHubTransport(http.DefaultTransport), userAgent: userAgent}
	clients, err := githubapp.NewDefaultCachingClientCreator(gh,
		githubapp.WithClientUserAgent(userAgent),
		githubapp.WithClientTimeout(timeout),
		githubapp.WithTransport(base))
	if err != nil {
		return nil, fmt.Errorf("GitHub App clients: %w", err)
	}
	appClient, err := clients.NewAppClient()
	if err != nil {
		return nil, fmt.Errorf("GitHub App client: %w", err)
	}
	creds, err := newCredentials(gh, base, timeout,
		githubapp.NewCachingInstallationsService(githubapp.NewInstallationsService(appClient), 10*time.Minute, 20*time.Minute), log)
	if err != nil {
		return nil, err
	}
	a := &App{runner: runner, db: db, log: log, runURL: cfg.RunURL, clients: clients, creds: creds, metrics: cfg.Metrics}
	a.events = a.registry()
	a.internal = map[string]eventHandler{replanEvent: replanHandler{a}}
	return a, nil
}

// registry maps each event the bot handles to its handler.
func (a *App) registry() map[string]eventHandler {
	events := map[string]eventHandler{}
	for _, h := range []eventHandler{pushHandler{a}, pullRequestHandler{a}, issueCommentHandler{a}, checkRunHandler{a}, installationHandler{a}} {
		for _, ev := range h.Handles() {
			events[ev] = h
		}
	}
	return events
}

// apiTransport is the transport of every request to GitHub's API: API
// clients' and token requests alike. It gives requests that have none the
// bot's user agent.
type apiTransport struct {
	next      http.RoundTripper
	userAgent string
}

func (t *apiTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("User-Agent") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("User-Agent", t.userAgent)
	}
	return t.next.RoundTrip(r)
}

// OnGitHub reports whether remoteURL is on the configured GitHub (the
// scheme, host and port of github.web_url): such repositories send
// webhooks and are not polled.
func (a *App) OnGitHub(remoteURL string) bool {
	_, _, ok := a.creds.onGitHub(remoteURL)
	return ok
}

// OpenPullRequest opens a pull request from branch (a review or conflict
// branch) to repo's revision (a pipeline.ReviewOpener). A repository that
// is not one of an installation of the app has no pull requests: the
// branch is left for people to merge, as with plain Git.
func (a *App) OpenPullRequest(ctx context.Context, repo pipeline.RepoRef, branch, title, body string) error {
	owner, name, ok := a.creds.onGitHub(repo.URL)
	if !ok {
		return nil
	}
	inst, err := a.creds.installations.GetByRepository(ctx, strings.ToLower(owner), strings.ToLower(name))
	if errors.As(err, new(githubapp.InstallationNotFound)) {
		a.log.Info("review branch left without a pull request: the app is not installed on the repository", "repo", owner+"/"+name, "branch", branch)
		return nil
	}
	if err != nil {
		return fmt.Errorf("installation of %s/%s: %w", owner, name, err)
	}
	gh, err := a.clients.NewInstallationClient(inst.ID)
	if err != nil {
		return fmt.Errorf("installation client: %w", err)
	}
	_, _, err = gh.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{
		Title: github.String(title), Head: github.String(branch), Base: github.String(repo.Revision), Body: github.String(body),
	})
	if err != nil {
		return fmt.Errorf("open pull request from %s: %w", branch, err)
	}
	return nil
}

// repository is a repository as webhook payloads carry it: the fields the
// bot reads, in GitHub's names.
type repository struct {
	Name     string `json:"name"`
	FullName string `json:"full_name"`
	Owner    struct {
		Login string `json:"login,omitempty"`
		Name  string `json:"name,omitempty"` // push payloads' owner may have only a name
	} `json:"owner"`
	CloneURL string `json:"clone_url,omitempty"`
	HTMLURL  string `json:"html_url,omitempty"`
	SSHURL   string `json:"ssh_url,omitempty"`
	GitURL   string `json:"git_url,omitempty"`
}

// ownerName returns the repository's owner and name.
func (r repository) ownerName() (string, string) {
	owner := r.Owner.Login
	if owner == "" {
		owner = r.Owner.Name
	}
	if owner == "" {
		owner, _, _ = strings.Cut(r.FullName, "/")
	}
	return owner, r.Name
}

// urls are the URLs the repository is known by, for matching pipelines.
func (r repository) urls() []string {
	return []string{r.CloneURL, r.HTMLURL, r.SSHURL, r.GitURL}
}

// installation is the installation a delivery comes from.
type installation struct {
	ID int64 `json:"id"`
}

// account is a GitHub user or organization.
type account struct {
	Login string `json:"login"`
}

// errNoInstallation refuses a delivery that names no installation: GitHub
// sends one with every delivery to an app.
var errNoInstallation = errors.New("installation.id is missing: not a delivery to a GitHub App")

// stagesFor returns the git → system stages of the repository known by urls, at branch.
func (a *App) stagesFor(ctx context.Context, log *slog.Logger, urls []string, branch string) ([]pipeline.Stage, error) {
	stages, problems, err := a.runner.LoadStages(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		log.Warn("pipeline skipped", "err", p)
	}
	return pipeline.MatchPush(stages, urls, branch), nil
}

// installationClient returns the API client of installation id.
func (a *App) installationClient(id int64) (*github.Client, error) {
	gh, err := a.clients.NewInstallationClient(id)
	if err != nil {
		return nil, fmt.Errorf("installation %d client: %w", id, err)
	}
	return gh, nil
}
