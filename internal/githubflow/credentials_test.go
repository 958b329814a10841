package githubflow_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/systemsync/systemsync/internal/githubflow"
	"github.com/systemsync/systemsync/internal/githubtest"
)

const inst = int64(4242)

// newApp is the app configured for the GitHub stand-in gh.
func newApp(t *testing.T, gh *githubtest.Server) *githubflow.App {
	t.Helper()
	var cfg githubapp.Config
	cfg.WebURL, cfg.V3APIURL = gh.WebURL(), gh.APIURL()
	cfg.App.IntegrationID, cfg.App.PrivateKey, cfg.App.WebhookSecret = gh.AppID(), gh.PrivateKeyPEM(), gh.WebhookSecret()
	app, err := githubflow.New(githubflow.Config{GitHub: cfg, Version: "test"}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// lsRemote runs git ls-remote on url with token as the password, as a
// person's git would, and reports whether the server let it read.
func lsRemote(t *testing.T, url, token string) bool {
	t.Helper()
	authURL := strings.Replace(url, "http://", "http://x-access-token:"+token+"@", 1)
	cmd := exec.Command("git", "ls-remote", authURL)
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
	return cmd.Run() == nil
}

func TestTokenOnlyForTheRepositoryItIsFor(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.New(t)
	specs := gh.AddRepo(t, "acme", "specs", inst)
	other := gh.AddRepo(t, "acme", "other", inst) // the same installation
	app := newApp(t, gh)

	auth, err := app.Credentials(ctx, specs)
	if err != nil || auth.Token == "" {
		t.Fatalf("credentials for %s: %+v %v", specs, auth, err)
	}
	if !lsRemote(t, specs, auth.Token) {
		t.Fatal("the token does not read its repository")
	}
	if lsRemote(t, other, auth.Token) {
		t.Fatal("the token for acme/specs reads acme/other: it is not narrowed to its repository")
	}
	// The token request asked for that one repository.
	var asked []string
	for _, r := range gh.RequestsMatching("POST", "/app/installations/") {
		var body struct{ Repositories []string }
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("token request %s: %v", r.Path, err)
		}
		asked = append(asked, strings.Join(body.Repositories, ","))
	}
	if strings.Join(asked, ";") != "specs" {
		t.Fatalf("token requests for %q, want one for specs", asked)
	}

	// The web address works as well as the clone URL, from the cache: no new
	// installation lookup, no new token.
	before := len(gh.Requests())
	web, err := app.Credentials(ctx, gh.WebURL()+"ACME/specs")
	if err != nil || web.Token != auth.Token {
		t.Fatalf("credentials for the web URL: %+v %v", web, err)
	}
	if n := len(gh.Requests()) - before; n != 0 {
		t.Fatalf("%d GitHub requests for cached credentials", n)
	}
}

func TestNoCredentialsForAnyOtherRemote(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.New(t)
	specs := gh.AddRepo(t, "acme", "specs", inst)
	app := newApp(t, gh)
	elsewhere := githubtest.New(t) // another host, on another port
	host := strings.TrimPrefix(gh.URL, "http://")

	for name, remote := range map[string]string{
		"another host, the same path":                 elsewhere.URL + "/git/acme/specs.git",
		"another scheme":                              "https://" + host + "/git/acme/specs.git",
		"GitHub, another path to the names":           gh.URL + "/evil/git/acme/specs.git",
		"GitHub, a repository no installation covers": gh.URL + "/git/acme/nope.git",
		"credentials in the URL":                      "http://bob:secret@" + host + "/git/acme/specs.git",
		"a local path":                                "/srv/git/acme/specs.git",
		"file://":                                     "file:///srv/git/acme/specs.git",
		"ssh":                                         "git@" + strings.Split(host, ":")[0] + ":acme/specs.git",
		"no repository":                               gh.URL + "/acme",
	} {
		auth, err := app.Credentials(ctx, remote)
		if err != nil || auth.Token != "" {
			t.Errorf("%s (%s): %+v %v, want no credentials and no error", name, remote, auth, err)
		}
	}
	if n := len(elsewhere.Requests()); n != 0 {
		t.Fatalf("the other host received %d requests", n)
	}
	// The repository itself still gets its token.
	if auth, err := app.Credentials(ctx, specs); err != nil || auth.Token == "" {
		t.Fatalf("credentials for %s: %+v %v", specs, auth, err)
	}
}
