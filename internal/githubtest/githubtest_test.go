package githubtest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/systemsync/systemsync/internal/gittest"
)

const (
	owner = "acme"
	name  = "specs"
	inst  = int64(4711)
)

// authURL is the clone URL with the token in it, as the bot's tools use it.
func authURL(t *testing.T, cloneURL, tok string) string {
	t.Helper()
	u, err := url.Parse(cloneURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("x-access-token", tok)
	return u.String()
}

// seeded starts a server with acme/specs holding one commit on main and
// returns the server, a client for the installation, a working copy (origin:
// the bare repository's folder) and the commit.
func seeded(t *testing.T) (*Server, *github.Client, *gittest.Work, string) {
	t.Helper()
	srv := New(t)
	srv.AddRepo(t, owner, name, inst)
	// Through the file system: quicker than HTTP, which TestGit covers.
	w := gittest.Clone(t, srv.GitDir(owner, name))
	sha := w.Write(map[string]string{"projects/default.yaml": "kind: Project\n"}).Commit("first")
	w.Push("main")
	return srv, srv.Client(t, inst), w, sha
}

func statusOf(t *testing.T, resp *github.Response, err error) int {
	t.Helper()
	if resp == nil {
		t.Fatalf("no response: %v", err)
	}
	return resp.StatusCode
}

func TestInstallationToken(t *testing.T) {
	t.Parallel()
	srv := New(t)
	srv.AddRepo(t, owner, name, inst)
	tr, err := ghinstallation.New(http.DefaultTransport, srv.AppID(), inst, []byte(srv.PrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = strings.TrimSuffix(srv.APIURL(), "/")
	tok, err := tr.Token(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if !strings.HasPrefix(tok, "ghs_") {
		t.Fatalf("token %q", tok)
	}
	exp, _, err := tr.Expiry()
	if err != nil || exp.Before(time.Now().Add(50*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("expiry %v %v, want in an hour", exp, err)
	}
	reqs := srv.RequestsMatching("POST", fmt.Sprintf("/app/installations/%d/access_tokens", inst))
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Header.Get("Authorization"), "Bearer ") {
		t.Fatalf("token requests %+v", reqs)
	}

	// The token works on the repository.
	c := srv.Client(t, inst)
	repo, _, err := c.Repositories.Get(context.Background(), owner, name)
	if err != nil {
		t.Fatal(err)
	}
	if repo.GetCloneURL() != srv.URL+"/git/acme/specs.git" || repo.GetDefaultBranch() != "main" || !repo.GetPrivate() || repo.GetFullName() != "acme/specs" || repo.GetOwner().GetLogin() != owner {
		t.Fatalf("repository %+v", repo)
	}

	// Unknown installation → 404; a JWT signed with another key → 401.
	tr404, _ := ghinstallation.New(http.DefaultTransport, srv.AppID(), 999, []byte(srv.PrivateKeyPEM()))
	tr404.BaseURL = tr.BaseURL
	var herr *ghinstallation.HTTPError
	if _, err := tr404.Token(context.Background()); !errors.As(err, &herr) || herr.Response.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown installation: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 1024)
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: fmt.Sprint(srv.AppID()), IssuedAt: jwt.NewNumericDate(time.Now().Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(time.Now().Add(5 * time.Minute)),
	}).SignedString(other)
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": srv.AppID(), "iat": time.Now().Add(-20 * time.Minute).Unix(), "exp": time.Now().Add(-10 * time.Minute).Unix(),
	}).SignedString(srv.key)
	numericIss, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": srv.AppID(), "iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
	}).SignedString(srv.key)
	for _, tc := range []struct {
		jwt  string
		want int
	}{{forged, 401}, {expired, 401}, {"not-a-jwt", 401}, {numericIss, 201}} {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%sapp/installations/%d/access_tokens", srv.APIURL(), inst), nil)
		req.Header.Set("Authorization", "Bearer "+tc.jwt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("JWT %.20s…: status %d %v, want %d", tc.jwt, resp.StatusCode, body, tc.want)
		}
		if tc.want == 201 && (body["token"] == nil || body["expires_at"] == nil || body["permissions"] == nil || body["repository_selection"] != "all") {
			t.Errorf("token answer %v", body)
		}
	}

	// App endpoints with the JWT.
	atr, _ := ghinstallation.NewAppsTransport(http.DefaultTransport, srv.AppID(), []byte(srv.PrivateKeyPEM()))
	atr.BaseURL = tr.BaseURL
	app, _ := github.NewClient(&http.Client{Transport: atr}).WithEnterpriseURLs(srv.APIURL(), srv.APIURL())
	got, _, err := app.Apps.GetInstallation(context.Background(), inst)
	if err != nil || got.GetID() != inst || got.GetAccount().GetLogin() != owner || got.GetAppID() != srv.AppID() {
		t.Fatalf("installation %+v %v", got, err)
	}
	got, _, err = app.Apps.FindRepositoryInstallation(context.Background(), owner, name)
	if err != nil || got.GetID() != inst {
		t.Fatalf("repository installation %+v %v", got, err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv := New(t)
	srv.AddRepo(t, owner, name, inst)
	srv.AddRepo(t, "other", "repo", 99)
	ctx := context.Background()

	get := func(path, auth string) (int, string) {
		req, _ := http.NewRequest("GET", srv.APIURL()+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("repos/acme/specs", ""); code != 401 {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, body := get("repos/acme/specs", "token ghs_bogus"); code != 401 || !strings.Contains(body, `"Bad credentials"`) {
		t.Errorf("bogus token: %d %s", code, body)
	}
	tok := srv.Token(t, inst)
	if code, body := get("repos/acme/specs", "Bearer "+tok); code != 200 {
		t.Errorf("Bearer token: %d %s", code, body)
	}
	// A token of another installation does not see the private repository: 404, as GitHub hides it.
	if code, body := get("repos/other/repo", "token "+tok); code != 404 || !strings.Contains(body, `"Not Found"`) {
		t.Errorf("other installation's repo: %d %s", code, body)
	}
	if code, _ := get("repos/acme/nope", "token "+tok); code != 404 {
		t.Errorf("unknown repo: %d", code)
	}
	// Case-insensitive names, as GitHub.
	if code, _ := get("repos/ACME/Specs", "token "+tok); code != 200 {
		t.Errorf("case-insensitive: %d", code)
	}

	// go-github sees the same through the installation client.
	c := srv.Client(t, inst)
	_, resp, err := c.Repositories.Get(ctx, "other", "repo")
	if statusOf(t, resp, err) != 404 {
		t.Errorf("client on other repo: %v", err)
	}

	// A token narrowed to some repositories and permissions (the token request's body).
	srv.AddRepo(t, owner, "second", inst)
	appJWT, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": fmt.Sprint(srv.AppID()), "iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
	}).SignedString(srv.key)
	req0, _ := http.NewRequest("POST", fmt.Sprintf("%sapp/installations/%d/access_tokens", srv.APIURL(), inst),
		strings.NewReader(`{"repositories":["second"],"permissions":{"contents":"read"}}`))
	req0.Header.Set("Authorization", "Bearer "+appJWT)
	resp0, err := http.DefaultClient.Do(req0)
	if err != nil {
		t.Fatal(err)
	}
	var narrow struct {
		Token               string            `json:"token"`
		RepositorySelection string            `json:"repository_selection"`
		Permissions         map[string]string `json:"permissions"`
		Repositories        []struct {
			FullName string `json:"full_name"`
		} `json:"repositories"`
	}
	_ = json.NewDecoder(resp0.Body).Decode(&narrow)
	resp0.Body.Close()
	if resp0.StatusCode != 201 || narrow.RepositorySelection != "selected" || len(narrow.Repositories) != 1 || narrow.Repositories[0].FullName != "acme/second" ||
		narrow.Permissions["contents"] != "read" || narrow.Permissions["checks"] != "" {
		t.Fatalf("narrowed token: %d %+v", resp0.StatusCode, narrow)
	}
	if code, _ := get("repos/acme/second", "token "+narrow.Token); code != 200 {
		t.Errorf("narrowed token on its repository: %d", code)
	}
	if code, _ := get("repos/acme/specs", "token "+narrow.Token); code != 404 {
		t.Errorf("narrowed token on another repository: %d", code)
	}

	// Expired tokens are refused.
	srv.ExpireTokens()
	if code, _ := get("repos/acme/specs", "token "+tok); code != 401 {
		t.Errorf("expired token: %d", code)
	}

	// A token without a permission gets GitHub's 403.
	srv.SetInstallationPermissions(inst, map[string]string{"metadata": "read", "contents": "read"})
	tok = srv.Token(t, inst)
	req, _ := http.NewRequest("POST", srv.APIURL()+"repos/acme/specs/check-runs", strings.NewReader(`{"name":"x","head_sha":"`+strings.Repeat("a", 40)+`"}`))
	req.Header.Set("Authorization", "token "+tok)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 403 || !strings.Contains(string(b), "Resource not accessible by integration") {
		t.Errorf("no checks permission: %d %s", resp2.StatusCode, b)
	}

	// Anything else: 404, recorded.
	if code, _ := get("repos/acme/specs/hooks", "token "+tok); code != 404 {
		t.Errorf("unknown endpoint: %d", code)
	}
	if len(srv.RequestsMatching("GET", "/repos/acme/specs/hooks")) != 1 || len(srv.RequestsMatching("", "/api/v3/repos/acme/specs/hooks")) != 1 {
		t.Errorf("unknown endpoint not recorded")
	}
}

func TestComments(t *testing.T) {
	t.Parallel()
	srv := New(t)
	srv.AddRepo(t, owner, name, inst)
	srv.AddPull(owner, name, Pull{Number: 7, HeadRef: "feature", HeadSHA: strings.Repeat("b", 40), BaseSHA: strings.Repeat("a", 40), User: "alice"})
	c := srv.Client(t, inst)
	ctx := context.Background()

	for i := 1; i <= 35; i++ {
		cm, resp, err := c.Issues.CreateComment(ctx, owner, name, 7, &github.IssueComment{Body: github.String(fmt.Sprintf("comment %d", i))})
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("create %d: %v", i, err)
		}
		if cm.GetUser().GetLogin() != "systemsync[bot]" || cm.GetUser().GetType() != "Bot" || cm.GetID() == 0 || cm.GetNodeID() == "" ||
			cm.GetHTMLURL() == "" || cm.CreatedAt == nil || cm.UpdatedAt == nil {
			t.Fatalf("comment %+v", cm)
		}
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 30}}
	page1, resp, err := c.Issues.ListComments(ctx, owner, name, 7, opts)
	if err != nil || len(page1) != 30 || resp.NextPage != 2 || resp.LastPage != 2 {
		t.Fatalf("page 1: %d comments, next %d last %d, %v", len(page1), resp.NextPage, resp.LastPage, err)
	}
	if !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Fatalf("Link %q", resp.Header.Get("Link"))
	}
	opts.Page = resp.NextPage
	page2, resp, err := c.Issues.ListComments(ctx, owner, name, 7, opts)
	if err != nil || len(page2) != 5 || resp.NextPage != 0 || resp.PrevPage != 1 || page2[4].GetBody() != "comment 35" {
		t.Fatalf("page 2: %d comments, next %d, %v", len(page2), resp.NextPage, err)
	}

	// Edit.
	id := page1[0].GetID()
	edited, resp, err := c.Issues.EditComment(ctx, owner, name, id, &github.IssueComment{Body: github.String("edited")})
	if err != nil || resp.StatusCode != 200 || edited.GetBody() != "edited" {
		t.Fatalf("edit: %v", err)
	}
	if got, _, err := c.Issues.GetComment(ctx, owner, name, id); err != nil || got.GetBody() != "edited" {
		t.Fatalf("get after edit: %v %v", got, err)
	}
	if _, resp, err := c.Issues.EditComment(ctx, owner, name, 123456789, &github.IssueComment{Body: github.String("x")}); statusOf(t, resp, err) != 404 {
		t.Fatalf("edit unknown: %v", err)
	}

	// The 65,536 character limit (characters, not bytes).
	max := strings.Repeat("é", 65536)
	if _, resp, err := c.Issues.CreateComment(ctx, owner, name, 7, &github.IssueComment{Body: &max}); err != nil || resp.StatusCode != 201 {
		t.Fatalf("65536 characters: %v", err)
	}
	tooLong := max + "x"
	_, resp, err = c.Issues.CreateComment(ctx, owner, name, 7, &github.IssueComment{Body: &tooLong})
	var ge *github.ErrorResponse
	if statusOf(t, resp, err) != 422 || !errors.As(err, &ge) || ge.Message != "Validation Failed" || len(ge.Errors) != 1 ||
		ge.Errors[0].Message != "body is too long (maximum is 65536 characters)" || ge.Errors[0].Field != "body" || ge.Errors[0].Resource != "IssueComment" {
		t.Fatalf("too long: %v", err)
	}
	if _, resp, err := c.Issues.EditComment(ctx, owner, name, id, &github.IssueComment{Body: &tooLong}); statusOf(t, resp, err) != 422 {
		t.Fatalf("edit too long: %v", err)
	}

	// Comments on an unknown issue: 404.
	if _, resp, err := c.Issues.CreateComment(ctx, owner, name, 99, &github.IssueComment{Body: github.String("x")}); statusOf(t, resp, err) != 404 {
		t.Fatalf("unknown issue: %v", err)
	}

	got := srv.Comments(owner, name, 7)
	if len(got) != 36 || got[0].GetBody() != "edited" {
		t.Fatalf("recorded %d comments", len(got))
	}
	// A person's comment, for tests of commands.
	human := srv.AddComment(owner, name, 7, "alice", "/systemsync plan")
	if human.GetUser().GetLogin() != "alice" || human.GetUser().GetType() != "User" {
		t.Fatalf("human comment %+v", human)
	}
}

func TestCheckRuns(t *testing.T) {
	t.Parallel()
	srv, c, _, sha := seeded(t)
	ctx := context.Background()
	annotations := func(n, from int) []*github.CheckRunAnnotation {
		var out []*github.CheckRunAnnotation
		for i := 0; i < n; i++ {
			out = append(out, &github.CheckRunAnnotation{
				Path: github.String("projects/default.yaml"), StartLine: github.Int(from + i), EndLine: github.Int(from + i),
				AnnotationLevel: github.String("failure"), Message: github.String(fmt.Sprintf("bad %d", from+i)),
			})
		}
		return out
	}
	run, resp, err := c.Checks.CreateCheckRun(ctx, owner, name, github.CreateCheckRunOptions{
		Name: "systemsync/plan", HeadSHA: sha, Status: github.String("in_progress"),
		Output: &github.CheckRunOutput{Title: github.String("Plan"), Summary: github.String("2 changes"), Annotations: annotations(50, 1)},
	})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v", err)
	}
	if run.GetStatus() != "in_progress" || run.GetHeadSHA() != sha || run.GetName() != "systemsync/plan" || run.GetOutput().GetAnnotationsCount() != 50 || run.GetApp().GetSlug() != AppSlug {
		t.Fatalf("created %+v", run)
	}
	run, resp, err = c.Checks.UpdateCheckRun(ctx, owner, name, run.GetID(), github.UpdateCheckRunOptions{
		Name: "systemsync/plan", Conclusion: github.String("failure"),
		Output: &github.CheckRunOutput{Title: github.String("Plan"), Summary: github.String("2 changes"), Annotations: annotations(20, 51)},
	})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("update: %v", err)
	}
	if run.GetStatus() != "completed" || run.GetConclusion() != "failure" || run.CompletedAt == nil || run.GetOutput().GetAnnotationsCount() != 70 {
		t.Fatalf("updated %+v", run)
	}
	if got := srv.Annotations(run.GetID()); len(got) != 70 || got[69].GetMessage() != "bad 70" {
		t.Fatalf("%d annotations recorded", len(got))
	}
	runs := srv.CheckRuns(owner, name)
	if len(runs) != 1 || len(runs[0].GetOutput().Annotations) != 70 {
		t.Fatalf("CheckRuns %+v", runs)
	}
	listed, _, err := c.Checks.ListCheckRunAnnotations(ctx, owner, name, run.GetID(), &github.ListOptions{PerPage: 100})
	if err != nil || len(listed) != 70 {
		t.Fatalf("list annotations: %d %v", len(listed), err)
	}

	// GitHub's 422s.
	for _, tc := range []struct {
		what string
		opts github.CreateCheckRunOptions
	}{
		{"51 annotations", github.CreateCheckRunOptions{Name: "x", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: annotations(51, 1)}}},
		{"no name", github.CreateCheckRunOptions{HeadSHA: sha}},
		{"no head_sha", github.CreateCheckRunOptions{Name: "x"}},
		{"unknown commit", github.CreateCheckRunOptions{Name: "x", HeadSHA: strings.Repeat("f", 40)}},
		{"completed without conclusion", github.CreateCheckRunOptions{Name: "x", HeadSHA: sha, Status: github.String("completed")}},
		{"bad level", github.CreateCheckRunOptions{Name: "x", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"),
			Annotations: []*github.CheckRunAnnotation{{Path: github.String("a"), StartLine: github.Int(1), EndLine: github.Int(1), AnnotationLevel: github.String("error"), Message: github.String("m")}}}}},
		{"annotation without path", github.CreateCheckRunOptions{Name: "x", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"),
			Annotations: []*github.CheckRunAnnotation{{StartLine: github.Int(1), EndLine: github.Int(1), AnnotationLevel: github.String("notice"), Message: github.String("m")}}}}},
		{"summary too long", github.CreateCheckRunOptions{Name: "x", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String(strings.Repeat("s", 65536))}}},
		{"text too long", github.CreateCheckRunOptions{Name: "x", HeadSHA: sha, Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Text: github.String(strings.Repeat("s", 65536))}}},
	} {
		_, resp, err := c.Checks.CreateCheckRun(ctx, owner, name, tc.opts)
		if statusOf(t, resp, err) != 422 {
			t.Errorf("%s: status %d, want 422", tc.what, resp.StatusCode)
		}
	}
	if _, resp, err := c.Checks.UpdateCheckRun(ctx, owner, name, 424242, github.UpdateCheckRunOptions{Name: "x"}); statusOf(t, resp, err) != 404 {
		t.Errorf("update unknown: %v", err)
	}

	// List by commit and by branch.
	for _, ref := range []string{sha, "main"} {
		res, _, err := c.Checks.ListCheckRunsForRef(ctx, owner, name, ref, nil)
		if err != nil || res.GetTotal() != 1 || len(res.CheckRuns) != 1 || res.CheckRuns[0].GetID() != run.GetID() {
			t.Fatalf("list for %s: %+v %v", ref, res, err)
		}
	}
}

func TestPulls(t *testing.T) {
	t.Parallel()
	srv, c, w, base := seeded(t)
	ctx := context.Background()
	w.Run("checkout", "-q", "-b", "feature")
	head := w.Write(map[string]string{"a.yaml": "a: 1\n"}).Commit("feature")
	w.Push("feature")
	srv.AddPull(owner, name, Pull{Number: 3, HeadRef: "feature", User: "alice", Title: "Add a"})
	srv.AddPull(owner, name, Pull{Number: 4, HeadRef: "old", HeadSHA: strings.Repeat("c", 40), Merged: true, MergeCommitSHA: base})

	pr, _, err := c.PullRequests.Get(ctx, owner, name, 3)
	if err != nil || pr.GetHead().GetSHA() != head || pr.GetBase().GetSHA() != base || pr.GetBase().GetRef() != "main" || pr.GetUser().GetLogin() != "alice" || pr.GetState() != "open" ||
		pr.GetHead().GetRepo().GetFullName() != "acme/specs" || pr.GetBase().GetRepo().GetCloneURL() != srv.URL+"/git/acme/specs.git" {
		t.Fatalf("PR %+v %v", pr, err)
	}
	if _, resp, err := c.PullRequests.Get(ctx, owner, name, 99); statusOf(t, resp, err) != 404 {
		t.Fatalf("unknown PR: %v", err)
	}

	// A commit's PRs: by head SHA, and by merge commit.
	prs, _, err := c.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, head, nil)
	if err != nil || len(prs) != 1 || prs[0].GetNumber() != 3 {
		t.Fatalf("PRs of head: %v %v", prs, err)
	}
	prs, _, err = c.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, base, nil)
	if err != nil || len(prs) != 1 || prs[0].GetNumber() != 4 || !prs[0].GetMerged() {
		t.Fatalf("PRs of merge commit: %v %v", prs, err)
	}

	// The PR follows its branch.
	next := w.Write(map[string]string{"a.yaml": "a: 2\n"}).Commit("more")
	w.Push("feature")
	if pr, _, _ := c.PullRequests.Get(ctx, owner, name, 3); pr.GetHead().GetSHA() != next {
		t.Fatalf("head after push %s, want %s", pr.GetHead().GetSHA(), next)
	}

	// Create a PR; then the duplicate and a missing branch fail as on GitHub.
	w.Run("checkout", "-q", "-b", "console-changes", "main")
	w.Write(map[string]string{"b.yaml": "b: 1\n"}).Commit("console")
	w.Push("console-changes")
	newPR := &github.NewPullRequest{Title: github.String("Console changes"), Head: github.String("console-changes"), Base: github.String("main"), Body: github.String("from the console")}
	created, resp, err := c.PullRequests.Create(ctx, owner, name, newPR)
	if err != nil || resp.StatusCode != 201 || created.GetNumber() != 5 || created.GetUser().GetLogin() != BotLogin || created.GetHead().GetRef() != "console-changes" {
		t.Fatalf("create: %+v %v", created, err)
	}
	_, resp, err = c.PullRequests.Create(ctx, owner, name, newPR)
	var ge *github.ErrorResponse
	if statusOf(t, resp, err) != 422 || !errors.As(err, &ge) || len(ge.Errors) != 1 || ge.Errors[0].Message != "A pull request already exists for acme:console-changes." {
		t.Fatalf("duplicate: %v", err)
	}
	_, resp, err = c.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{Title: github.String("x"), Head: github.String("nope"), Base: github.String("main")})
	if statusOf(t, resp, err) != 422 {
		t.Fatalf("missing head branch: %v", err)
	}
	if got := srv.Pulls(owner, name); len(got) != 3 || got[2].GetNumber() != 5 {
		t.Fatalf("Pulls %v", got)
	}

	// List with filters.
	open, _, err := c.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{Head: "acme:console-changes", Base: "main"})
	if err != nil || len(open) != 1 || open[0].GetNumber() != 5 {
		t.Fatalf("list by head: %v %v", open, err)
	}
	all, _, err := c.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{State: "all"})
	if err != nil || len(all) != 3 {
		t.Fatalf("list all: %v %v", all, err)
	}
}

func TestCollaboratorPermission(t *testing.T) {
	t.Parallel()
	srv := New(t)
	srv.AddRepo(t, owner, name, inst)
	srv.SetPermission(owner, name, "alice", "write")
	srv.SetPermission(owner, name, "bob", "maintain")
	c := srv.Client(t, inst)
	for user, want := range map[string]string{"acme": "admin", "alice": "write", "bob": "write", "mallory": "none"} {
		got, _, err := c.Repositories.GetPermissionLevel(context.Background(), owner, name, user)
		if err != nil || got.GetPermission() != want || got.GetUser().GetLogin() != user {
			t.Errorf("%s: %+v %v, want %s", user, got, err, want)
		}
	}
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestGit(t *testing.T) {
	t.Parallel()
	srv, c, w, sha := seeded(t)
	clone := srv.URL + "/git/acme/specs.git"

	// With the token: clone works and sees the pushed commit.
	again := gittest.Clone(t, authURL(t, clone, srv.Token(t, inst)))
	if got := again.Run("rev-parse", "HEAD"); got != sha {
		t.Fatalf("clone at %s, want %s", got, sha)
	}
	// Without credentials, with a bogus token, or another installation's token: refused.
	srv.AddRepo(t, "other", "repo", 99)
	for _, u := range []string{clone, authURL(t, clone, "ghs_bogus"), authURL(t, clone, srv.Token(t, 99))} {
		if out, err := git(t.TempDir(), "clone", "-q", u, "."); err == nil {
			t.Fatalf("clone of %s worked:\n%s", u, out)
		}
	}
	// The bare repository is on disk for the CLI.
	if out, err := git(srv.GitDir(owner, name), "rev-parse", "refs/heads/main"); err != nil || strings.TrimSpace(out) != sha {
		t.Fatalf("GitDir: %s %v", out, err)
	}

	// Over HTTP, a protected branch refuses pushes with GitHub's message; other branches take them.
	w.Run("remote", "set-url", "origin", authURL(t, clone, srv.Token(t, inst)))
	srv.ProtectBranch(t, owner, name, "main")
	w.Write(map[string]string{"x.yaml": "x: 1\n"}).Commit("direct")
	out, err := git(w.Dir, "push", "origin", "HEAD:refs/heads/main")
	if err == nil || !strings.Contains(out, "protected branch hook declined") || !strings.Contains(out, "GH006") {
		t.Fatalf("push to protected main: %v\n%s", err, out)
	}
	if out, err := git(w.Dir, "push", "-q", "origin", "HEAD:refs/heads/systemsync/console"); err != nil {
		t.Fatalf("push to another branch: %v\n%s", err, out)
	}
	b, _, err := c.Repositories.GetBranch(context.Background(), owner, name, "main", 0)
	if err != nil || !b.GetProtected() || b.GetCommit().GetSHA() != sha {
		t.Fatalf("branch main: %+v %v", b, err)
	}
	b, _, err = c.Repositories.GetBranch(context.Background(), owner, name, "systemsync/console", 0)
	if err != nil || b.GetProtected() || b.GetName() != "systemsync/console" {
		t.Fatalf("branch systemsync/console: %+v %v", b, err)
	}
	if _, resp, err := c.Repositories.GetBranch(context.Background(), owner, name, "nope", 0); resp == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown branch: %v", err)
	}

	// A read-only token cannot push.
	srv.SetInstallationPermissions(inst, map[string]string{"contents": "read", "metadata": "read"})
	w.Run("remote", "set-url", "origin", authURL(t, clone, srv.Token(t, inst)))
	if out, err := git(w.Dir, "push", "-q", "origin", "HEAD:refs/heads/other"); err == nil {
		t.Fatalf("push with a read-only token worked:\n%s", out)
	}
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	srv := New(t)
	clone := srv.AddRepo(t, owner, name, inst)
	body := Payload(t, "pull_request", "opened.payload.json", func(p map[string]any) {
		SetRepo(p, srv, owner, name, inst)
		SetPull(p, srv, owner, name, Pull{Number: 9, HeadRef: "feature", HeadSHA: strings.Repeat("b", 40), BaseSHA: strings.Repeat("a", 40), User: "alice"})
	})
	var ev github.PullRequestEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetAction() != "opened" || ev.GetRepo().GetFullName() != "acme/specs" || ev.GetRepo().GetName() != name || ev.GetRepo().GetOwner().GetLogin() != owner ||
		ev.GetRepo().GetCloneURL() != clone || !strings.HasPrefix(ev.GetRepo().GetHTMLURL(), srv.URL) || !strings.HasPrefix(ev.GetRepo().GetURL(), srv.APIURL()) ||
		ev.GetInstallation().GetID() != inst || ev.GetPullRequest().GetBase().GetRepo().GetFullName() != "acme/specs" ||
		ev.GetPullRequest().GetBase().GetRepo().GetCloneURL() != clone || ev.GetNumber() != 9 || ev.GetPullRequest().GetHead().GetRef() != "feature" ||
		ev.GetPullRequest().GetUser().GetLogin() != "alice" || !strings.HasPrefix(ev.GetPullRequest().GetURL(), srv.APIURL()+"repos/acme/specs/pulls/9") {
		t.Fatalf("adapted payload: %s", body)
	}
	if strings.Contains(string(body), "Codertocat/Hello-World") {
		t.Fatalf("old repository left in payload")
	}
	// A payload without an installation gets one.
	push := Payload(t, "push", "payload.json", func(p map[string]any) { SetRepo(p, srv, owner, name, inst) })
	var pe github.PushEvent
	if err := json.Unmarshal(push, &pe); err != nil || pe.GetInstallation().GetID() != inst || pe.GetRepo().GetFullName() != "acme/specs" {
		t.Fatalf("push payload: %v %s", err, push)
	}

	// Sign is HMAC-SHA256 hex.
	m := hmac.New(sha256.New, []byte(srv.WebhookSecret()))
	m.Write(body)
	if got, want := Sign(srv.WebhookSecret(), body), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("Sign %s, want %s", got, want)
	}

	// Deliver sends GitHub's headers; go-github validates the signature.
	var got *http.Request
	var gotBody []byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		var err error
		gotBody, err = github.ValidatePayload(r, []byte(srv.WebhookSecret()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, "queued")
	}))
	defer hook.Close()
	code, resp := srv.Deliver(t, hook.URL+"/api/github/hook", "pull_request", "d-1", body)
	if code != 202 || resp != "queued" {
		t.Fatalf("deliver: %d %q", code, resp)
	}
	if got.Method != "POST" || got.URL.Path != "/api/github/hook" || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get("X-GitHub-Event") != "pull_request" || got.Header.Get("X-GitHub-Delivery") != "d-1" ||
		got.Header.Get("X-Hub-Signature-256") != Sign(srv.WebhookSecret(), body) || string(gotBody) != string(body) {
		t.Fatalf("delivered %v %v", got.Method, got.Header)
	}
	if github.WebHookType(got) != "pull_request" || github.DeliveryID(got) != "d-1" {
		t.Fatalf("go-github reads event %q delivery %q", github.WebHookType(got), github.DeliveryID(got))
	}
}

// The bot's own client stack: go-githubapp's caching client creator configured
// with the server's API URL, app id and key.
func TestGoGitHubApp(t *testing.T) {
	t.Parallel()
	srv := New(t)
	srv.AddRepo(t, owner, name, inst)
	srv.AddPull(owner, name, Pull{Number: 1, HeadRef: "f", HeadSHA: strings.Repeat("b", 40)})
	cfg := githubapp.Config{WebURL: srv.WebURL(), V3APIURL: srv.APIURL()}
	cfg.App.IntegrationID = srv.AppID()
	cfg.App.PrivateKey = srv.PrivateKeyPEM()
	cfg.App.WebhookSecret = srv.WebhookSecret()
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appClient, err := cc.NewAppClient()
	if err != nil {
		t.Fatal(err)
	}
	found, err := githubapp.NewInstallationsService(appClient).GetByRepository(ctx, owner, name)
	if err != nil || found.ID != inst {
		t.Fatalf("installation by repository: %+v %v", found, err)
	}
	c, err := cc.NewInstallationClient(inst)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second answer may come from the cache
		if _, _, err := c.Issues.CreateComment(ctx, owner, name, 1, &github.IssueComment{Body: github.String("hello")}); err != nil {
			t.Fatal(err)
		}
		list, _, err := c.Issues.ListComments(ctx, owner, name, 1, nil)
		if err != nil || len(list) != i+1 {
			t.Fatalf("comments: %d %v", len(list), err)
		}
	}
}

// SetRepo leaves nothing of the old repository in any of the real payloads.
func TestSetRepoOnEveryPayload(t *testing.T) {
	t.Parallel()
	srv := New(t)
	clone := srv.AddRepo(t, owner, name, inst)
	files, err := filepath.Glob(filepath.Join(PayloadDir(), "*", "*.json"))
	if err != nil || len(files) < 50 {
		t.Fatalf("payloads: %d files, %v", len(files), err)
	}
	for _, f := range files {
		event, file := filepath.Base(filepath.Dir(f)), filepath.Base(f)
		var oldFull string
		body := Payload(t, event, file, func(p map[string]any) {
			if r, ok := p["repository"].(map[string]any); ok {
				oldFull, _ = r["full_name"].(string)
			}
			SetRepo(p, srv, owner, name, inst)
		})
		var p struct {
			Repository *struct {
				FullName string `json:"full_name"`
				CloneURL string `json:"clone_url"`
			} `json:"repository"`
			Installation struct{ ID int64 } `json:"installation"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s/%s: %v", event, file, err)
		}
		if p.Installation.ID != inst {
			t.Errorf("%s/%s: installation %d", event, file, p.Installation.ID)
		}
		if oldFull == "" {
			continue
		}
		if p.Repository.FullName != "acme/specs" || p.Repository.CloneURL != clone {
			t.Errorf("%s/%s: repository %+v", event, file, p.Repository)
		}
		if strings.Contains(string(body), oldFull) {
			t.Errorf("%s/%s: %s left in the payload", event, file, oldFull)
		}
	}
}
