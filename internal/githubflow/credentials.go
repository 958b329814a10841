package githubflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	ghv57 "github.com/google/go-github/v57/github" // the version ghinstallation's token options are typed in
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/systemsync/systemsync/internal/gitrepo"
)

// credentials hands out installation tokens for Git, only where they
// belong: to the GitHub host (github.web_url's scheme, host and port), for
// a repository an installation of the app covers (found by owner and name
// through GitHub's API), at a URL GitHub itself reports for that
// repository (its clone_url or html_url). Each token is narrowed to that
// one repository. Any other remote gets no credentials at all.
type credentials struct {
	origin        string // scheme://host[:port] of github.web_url
	appID         int64
	key           []byte
	apiURL        string // v3_api_url, without its trailing slash
	transport     http.RoundTripper
	timeout       time.Duration
	installations githubapp.InstallationsService
	log           *slog.Logger

	mu     sync.Mutex
	tokens map[tokenKey]*repoToken
}

// tokenKey names a repository of an installation (owner/name, lower case).
type tokenKey struct {
	installation int64
	repo         string
}

// repoToken is the token source of one repository: ghinstallation's
// transport (which caches the token and refreshes it before it expires)
// and the URLs GitHub reported for the repository with the first token.
type repoToken struct {
	mu   sync.Mutex // serializes the transport's use, so its first answer can be read
	tr   *ghinstallation.Transport
	urls []string
}

func newCredentials(gh githubapp.Config, transport http.RoundTripper, timeout time.Duration, installations githubapp.InstallationsService, log *slog.Logger) (*credentials, error) {
	origin, err := originOf(gh.WebURL)
	if err != nil {
		return nil, fmt.Errorf("github.web_url %q: %w", gh.WebURL, err)
	}
	return &credentials{
		origin: origin, appID: gh.App.IntegrationID, key: []byte(gh.App.PrivateKey),
		apiURL: strings.TrimSuffix(gh.V3APIURL, "/"), transport: transport, timeout: timeout,
		installations: installations, log: log, tokens: map[tokenKey]*repoToken{},
	}, nil
}

// Credentials returns the credentials for the Git remote remoteURL (a
// pipeline.Credentials): an installation token when the remote is a
// repository of an installation of the app on the configured GitHub, a
// zero Auth for any other remote, including a repository on GitHub that no
// installation covers (a public one can still be read).
func (a *App) Credentials(ctx context.Context, remoteURL string) (gitrepo.Auth, error) {
	return a.creds.forRemote(ctx, remoteURL)
}

func (c *credentials) forRemote(ctx context.Context, remoteURL string) (gitrepo.Auth, error) {
	owner, name, ok := c.onGitHub(remoteURL)
	if !ok {
		return gitrepo.Auth{}, nil
	}
	// GitHub's names are case-insensitive: one spelling keeps one cache entry.
	owner, name = strings.ToLower(owner), strings.ToLower(name)
	inst, err := c.installations.GetByRepository(ctx, owner, name) // the API client has the timeout
	if errors.As(err, new(githubapp.InstallationNotFound)) {
		c.log.Debug("no installation covers the remote: no credentials", "remote", gitrepo.RedactURL(remoteURL))
		return gitrepo.Auth{}, nil
	}
	if err != nil {
		return gitrepo.Auth{}, fmt.Errorf("installation of %s/%s: %w", owner, name, err)
	}
	token, urls, err := c.token(ctx, tokenKey{inst.ID, owner + "/" + name}, name)
	if err != nil {
		return gitrepo.Auth{}, err
	}
	for _, u := range urls {
		if sameRepoURL(remoteURL, u) {
			// gitrepo sends the token to this origin and nowhere else.
			return gitrepo.Auth{Token: token, Origin: c.origin}, nil
		}
	}
	c.log.Warn("the remote is on GitHub but is not the URL GitHub reports for the repository: no credentials",
		"remote", gitrepo.RedactURL(remoteURL), "repo", owner+"/"+name)
	return gitrepo.Auth{}, nil
}

// token returns a token for repository name of k's installation, and the
// URLs GitHub reported for the repository.
func (c *credentials) token(ctx context.Context, k tokenKey, name string) (string, []string, error) {
	c.mu.Lock()
	rt := c.tokens[k]
	if rt == nil {
		rt = &repoToken{}
		c.tokens[k] = rt
	}
	c.mu.Unlock()

	rt.mu.Lock()
	defer rt.mu.Unlock()
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if rt.tr == nil {
		tr, err := ghinstallation.New(c.transport, c.appID, k.installation, c.key)
		if err != nil {
			return "", nil, fmt.Errorf("installation %d token source: %w", k.installation, err)
		}
		tr.BaseURL = c.apiURL
		tr.InstallationTokenOptions = &ghv57.InstallationTokenOptions{Repositories: []string{name}}
		token, err := tr.Token(tctx)
		if err != nil {
			return "", nil, fmt.Errorf("token for %s: %w", k.repo, err)
		}
		repos, _ := tr.Repositories()
		var urls []string
		for _, r := range repos {
			if strings.EqualFold(r.GetFullName(), k.repo) {
				urls = append(urls, r.GetCloneURL(), r.GetHTMLURL())
			}
		}
		rt.tr, rt.urls = tr, urls
		return token, urls, nil
	}
	token, err := rt.tr.Token(tctx)
	if err != nil {
		// The repository may have left the installation: look it up afresh next time.
		c.mu.Lock()
		delete(c.tokens, k)
		c.mu.Unlock()
		return "", nil, fmt.Errorf("token for %s: %w", k.repo, err)
	}
	return token, rt.urls, nil
}

// onGitHub returns the owner and name a remote URL on the configured
// GitHub names (its last two path segments); ok is false for any URL on
// another scheme, host or port, or that carries credentials of its own.
func (c *credentials) onGitHub(remoteURL string) (owner, name string, ok bool) {
	u, err := url.Parse(remoteURL)
	if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", false
	}
	if o, err := originOf(remoteURL); err != nil || o != c.origin {
		return "", "", false
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git"), "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", "", false
	}
	return parts[len(parts)-2], parts[len(parts)-1], true
}

// originOf returns an http(s) URL's scheme://host[:port], lower case,
// without the scheme's default port.
func originOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("not an http(s) URL")
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// sameRepoURL reports whether two http(s) URLs name one repository: the
// same origin and the same path, up to case, a trailing "/" and ".git".
func sameRepoURL(a, b string) bool {
	ua, err := url.Parse(a)
	if err != nil {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil {
		return false
	}
	oa, err := originOf(a)
	if err != nil {
		return false
	}
	ob, err := originOf(b)
	if err != nil || oa != ob {
		return false
	}
	path := func(p string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(p, "/"), ".git")) }
	return path(ua.Path) == path(ub.Path) && path(ua.Path) != ""
}
