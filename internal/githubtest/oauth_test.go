package githubtest_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"golang.org/x/oauth2"

	"github.com/systemsync/systemsync/internal/githubtest"
)

// TestOAuthWebFlow signs a user in through the stand-in with the clients
// the bot uses (golang.org/x/oauth2, go-github): authorize redirects back
// with the state and a code, the code is good once, and the user's token
// reads /user and /user/emails; an installation token may not.
func TestOAuthWebFlow(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.New(t)
	callback := "https://console.example.com/login/github/callback"
	gh.SetOAuthCallbackURL(callback)
	gh.AddOAuthUser(githubtest.OAuthUser{Login: "octocat", Name: "The Octocat", Emails: []githubtest.OAuthEmail{
		{Email: "old@example.com", Verified: true}, {Email: "octocat@example.com", Primary: true, Verified: true}}})
	cfg := &oauth2.Config{ClientID: gh.OAuthClientID(), ClientSecret: gh.OAuthClientSecret(), RedirectURL: callback,
		Endpoint: oauth2.Endpoint{AuthURL: gh.WebURL() + "login/oauth/authorize", TokenURL: gh.WebURL() + "login/oauth/access_token"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := func(u string) *http.Response {
		t.Helper()
		resp, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	if resp := authorize(cfg.AuthCodeURL("s1")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("authorize with nobody signed in: %d, want 401", resp.StatusCode)
	}
	gh.SignInAs("octocat")
	resp := authorize(cfg.AuthCodeURL("s1"))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), callback+"?") || loc.Query().Get("state") != "s1" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d to %s", resp.StatusCode, loc)
	}
	code := loc.Query().Get("code")
	tok, err := cfg.Exchange(ctx, code)
	if err != nil || !strings.HasPrefix(tok.AccessToken, "ghu_") {
		t.Fatalf("exchange: %+v, %v", tok, err)
	}
	if _, err := cfg.Exchange(ctx, code); err == nil || !strings.Contains(err.Error(), "bad_verification_code") {
		t.Fatalf("second exchange of one code: %v, want bad_verification_code", err)
	}
	bad := *cfg
	bad.ClientSecret = "wrong"
	if _, err := bad.Exchange(ctx, "x"); err == nil || !strings.Contains(err.Error(), "incorrect_client_credentials") {
		t.Fatalf("exchange with a wrong secret: %v", err)
	}

	client, err := github.NewClient(cfg.Client(ctx, tok)).WithEnterpriseURLs(gh.APIURL(), gh.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	user, _, err := client.Users.Get(ctx, "")
	if err != nil || user.GetLogin() != "octocat" || user.GetName() != "The Octocat" {
		t.Fatalf("GET /user: %+v, %v", user, err)
	}
	emails, _, err := client.Users.ListEmails(ctx, nil)
	if err != nil || len(emails) != 2 || emails[1].GetEmail() != "octocat@example.com" || !emails[1].GetPrimary() || !emails[1].GetVerified() {
		t.Fatalf("GET /user/emails: %+v, %v", emails, err)
	}

	other := *cfg
	other.RedirectURL = "https://evil.example.com/cb"
	resp = authorize(other.AuthCodeURL("s2"))
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(loc.String(), callback+"?") || loc.Query().Get("error") != "redirect_uri_mismatch" || loc.Query().Get("code") != "" {
		t.Fatalf("authorize to another redirect_uri: %d to %s", resp.StatusCode, loc)
	}

	gh.AddRepo(t, "acme", "specs", 7)
	inst := gh.Token(t, 7)
	for auth, want := range map[string]int{"": 401, "token nonsense": 401, "token " + inst: 403} {
		req, _ := http.NewRequest("GET", gh.APIURL()+"user", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /user with %q: %d, want %d", auth, resp.StatusCode, want)
		}
	}
}

// TestUsersByLoginAndRenames: GET /users/{username} answers any caller
// with the account's ID, 404 for no account; a renamed account keeps its
// ID and its access, and its old login, registered again, is another.
func TestUsersByLoginAndRenames(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.New(t)
	gh.AddRepo(t, "acme", "specs", 5)
	gh.AddOAuthUser(githubtest.OAuthUser{Login: "alice"})
	gh.SetPermission("acme", "specs", "alice", "write")
	client := gh.Client(t, 5)
	u, _, err := client.Users.Get(ctx, "alice")
	if err != nil || u.GetLogin() != "alice" || u.GetID() == 0 {
		t.Fatalf("GET /users/alice: %+v, %v", u, err)
	}
	if _, res, err := client.Users.Get(ctx, "nobody-here"); err == nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /users/nobody-here: %v", err)
	}
	gh.RenameUser("alice", "alice2")
	gh.AddOAuthUser(githubtest.OAuthUser{Login: "alice"})
	renamed, _, err := client.Users.Get(ctx, "alice2")
	if err != nil || renamed.GetID() != u.GetID() {
		t.Fatalf("the renamed account: %+v, %v (ID was %d)", renamed, err, u.GetID())
	}
	again, _, err := client.Users.Get(ctx, "alice")
	if err != nil || again.GetID() == u.GetID() {
		t.Fatalf("the old login registered again: %+v, %v", again, err)
	}
	for login, want := range map[string]string{"alice2": "write", "alice": "none"} {
		p, _, err := client.Repositories.GetPermissionLevel(ctx, "acme", "specs", login)
		if err != nil || p.GetPermission() != want {
			t.Errorf("permission of %s: %v %v, want %s", login, p.GetPermission(), err, want)
		}
	}
}
