package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/spec"
)

// gitHubSignIn signs login in to the stand-in and through the console's
// "Sign in with GitHub"; it returns the visitor and the callback's answer.
func gitHubSignIn(t *testing.T, env *consoleEnv, login string) (*visitor, page) {
	t.Helper()
	v := env.visitor(t)
	v.get("/login")
	env.gh.SignInAs(login)
	p := v.get("/login/github")
	for i := 0; i < 5 && p.code/100 == 3 && !strings.HasPrefix(p.loc, "/"); i++ {
		p = v.get(p.loc)
	}
	return v, p
}

func oauthUser(gh *githubtest.Server, login string) {
	gh.AddOAuthUser(githubtest.OAuthUser{Login: login, Emails: []githubtest.OAuthEmail{{Email: login + "@example.com", Primary: true, Verified: true}}})
}

// Not every GitHub account signs in: one that reads no repository of the
// app's installations and was given no role is refused, and sees nothing
// (the review found any account signing in as a viewer and reading what
// the system holds). Reading a private repository of an installation
// gives web.default_role; an admin can give anyone a role before they
// sign in, or none, which ends their session. People are their GitHub
// account: a role stays with it when it is renamed, and does not go to
// whoever registers the old login.
func TestGitHubSignInNeedsAccessOrARole(t *testing.T) {
	gh := githubtest.New(t)
	env := startConsole(t, config.Defaults().Web, gh)
	gh.SetOAuthCallbackURL(env.url + "/login/github/callback")
	gh.AddRepo(t, "acme", "specs", 77)
	for _, login := range []string{"random-stranger", "reader", "triager", "invitee"} {
		oauthUser(gh, login)
	}
	gh.SetPermission("acme", "specs", "reader", "read")
	gh.SetPermission("acme", "specs", "triager", "triage")
	ctx := context.Background()
	if _, _, err := env.store.Apply(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "team-a"}, map[string]any{"apiVersion": "infra.k8smgmt.io/v3",
		"kind": "Namespace", "metadata": map[string]any{"name": "team-a", "project": "default"}, "spec": map[string]any{}}, "admin@example.com", ""); err != nil {
		t.Fatal(err)
	}

	stranger, p := gitHubSignIn(t, env, "random-stranger")
	if p.code != http.StatusForbidden || !strings.Contains(p.body, "no access to the repositories of this app") {
		t.Fatalf("a stranger's sign-in: %d\n%s", p.code, p.body)
	}
	if p := stranger.get("/projects/default/namespaces/team-a"); p.code != http.StatusSeeOther || p.loc != "/login" {
		t.Fatalf("a refused stranger reads a resource: %d to %s", p.code, p.loc)
	}
	for _, login := range []string{"reader", "triager"} {
		v, p := gitHubSignIn(t, env, login)
		if p.code != http.StatusSeeOther || p.loc != "/pipelines" {
			t.Fatalf("%s's sign-in: %d\n%s", login, p.code, p.body)
		}
		if p := v.get("/pipelines"); !strings.Contains(p.body, `<span class="role">viewer</span>`) {
			t.Fatalf("%s is not a viewer (web.default_role)", login)
		}
	}

	admin := env.visitor(t)
	admin.signIn("admin-key")
	if p := admin.get("/users"); strings.Contains(p.body, "random-stranger") {
		t.Error("a refused sign-in is listed on /users")
	}
	// A role for someone who never signed in and reads nothing: GitHub
	// tells the account's ID.
	if p := admin.post("/users/roles", url.Values{"login": {"invitee"}, "role": {"editor"}}); p.code != http.StatusSeeOther {
		t.Fatalf("give invitee a role: %d\n%s", p.code, p.body)
	}
	if p := admin.post("/users/roles", url.Values{"login": {"no-such-account"}, "role": {"editor"}}); p.code != http.StatusNotFound {
		t.Fatalf("a role for a login GitHub does not know: %d", p.code)
	}
	if p := admin.post("/users/roles", url.Values{"login": {"../app/installations"}, "role": {"editor"}}); p.code != http.StatusBadRequest {
		t.Fatalf("a role for a login that is a path: %d", p.code)
	}
	invitee, p := gitHubSignIn(t, env, "invitee")
	if p.code != http.StatusSeeOther {
		t.Fatalf("invitee's sign-in: %d\n%s", p.code, p.body)
	}
	if p := invitee.get("/pipelines"); !strings.Contains(p.body, `<span class="role">editor</span>`) {
		t.Fatal("invitee is not the editor an admin made them")
	}

	// none: the session ends at once, and sign-in is refused.
	reader, _ := gitHubSignIn(t, env, "reader")
	if p := reader.get("/pipelines"); p.code != http.StatusOK {
		t.Fatalf("reader's session: %d", p.code)
	}
	if p := admin.post("/users/roles", url.Values{"login": {"reader"}, "role": {"none"}}); p.code != http.StatusSeeOther {
		t.Fatalf("set reader to none: %d\n%s", p.code, p.body)
	}
	if p := reader.get("/pipelines"); p.code != http.StatusSeeOther || p.loc != "/login" {
		t.Fatalf("reader's session after none: %d to %s", p.code, p.loc)
	}
	if _, p := gitHubSignIn(t, env, "reader"); p.code != http.StatusForbidden || !strings.Contains(p.body, "turned off") {
		t.Fatalf("reader's sign-in after none: %d\n%s", p.code, p.body)
	}

	// invitee renames the account; someone registers the old login.
	gh.RenameUser("invitee", "invitee-renamed")
	oauthUser(gh, "invitee")
	renamed, p := gitHubSignIn(t, env, "invitee-renamed")
	if p.code != http.StatusSeeOther {
		t.Fatalf("the renamed account's sign-in: %d\n%s", p.code, p.body)
	}
	if p := renamed.get("/pipelines"); !strings.Contains(p.body, `<span class="role">editor</span>`) {
		t.Fatal("the role did not stay with the renamed account")
	}
	if _, p := gitHubSignIn(t, env, "invitee"); p.code != http.StatusForbidden {
		t.Fatalf("the new owner of the old login signs in: %d", p.code)
	}
	if p := admin.get("/users"); !strings.Contains(p.body, "invitee-renamed") {
		t.Error("/users does not show the account's new login")
	}
}

// web.default_role none: only web.admins and the people an admin gave a
// role sign in, whatever they read on GitHub.
func TestDefaultRoleNoneAdmitsOnlyGivenRoles(t *testing.T) {
	gh := githubtest.New(t)
	env := startConsole(t, config.Web{DefaultRole: "none", Admins: []string{"boss"}}, gh)
	gh.SetOAuthCallbackURL(env.url + "/login/github/callback")
	gh.AddRepo(t, "acme", "specs", 77)
	oauthUser(gh, "reader")
	oauthUser(gh, "boss")
	gh.SetPermission("acme", "specs", "reader", "write")
	if _, p := gitHubSignIn(t, env, "reader"); p.code != http.StatusForbidden {
		t.Fatalf("a reader with default_role none: %d", p.code)
	}
	if _, p := gitHubSignIn(t, env, "boss"); p.code != http.StatusSeeOther {
		t.Fatalf("web.admins with default_role none: %d", p.code)
	}
}
