// Package githubtest is a stand-in for GitHub for tests of the System Sync
// bot: an httptest.Server that answers the REST endpoints the bot calls the
// way GitHub documents them (status codes, JSON shapes as go-github decodes
// them, App JWT and installation-token authentication, validation errors),
// records every request, and serves real, private Git repositories over
// HTTP with git http-backend.
//
// The REST API lives under APIURL() (srv.URL + "/api/v3/", as on GitHub
// Enterprise: go-githubapp's v3_api_url); Git repositories at
// srv.URL + "/git/<owner>/<name>.git". Endpoints:
//
//	JWT:   GET /app, GET /app/installations[/{id}], POST /app/installations/{id}/access_tokens,
//	       GET /repos/{o}/{r}/installation, GET /orgs/{o}/installation, GET /users/{u}/installation
//	token: GET /installation/repositories, GET /repos/{o}/{r},
//	       GET|POST /repos/{o}/{r}/issues/{n}/comments, GET|PATCH|DELETE /repos/{o}/{r}/issues/comments/{id},
//	       POST /repos/{o}/{r}/check-runs, GET|PATCH /repos/{o}/{r}/check-runs/{id},
//	       GET /repos/{o}/{r}/check-runs/{id}/annotations, GET /repos/{o}/{r}/commits/{ref}/check-runs,
//	       GET /repos/{o}/{r}/commits/{sha}/pulls, GET|POST /repos/{o}/{r}/pulls, GET|PATCH /repos/{o}/{r}/pulls/{n},
//	       GET /repos/{o}/{r}/collaborators/{user}[/permission], GET /repos/{o}/{r}/branches/{b}[/protection]
//	user token: GET /user, GET /user/emails
//	any or none: GET /users/{username}
//	web:   GET /login/oauth/authorize, POST /login/oauth/access_token (see oauth.go)
//
// Anything else answers 404 {"message":"Not Found"} and is recorded like
// every request (see Requests and RequestsMatching).
//
// Behaviour worth knowing, as on GitHub:
//   - No Authorization header: 401 "Requires authentication"; an unknown or
//     expired token: 401 "Bad credentials"; a valid token whose installation
//     does not cover the (private) repository: 404, as for an unknown one.
//   - An installation has the permissions of the app's manifest (app.yml):
//     contents, pull_requests, checks and issues write, metadata read;
//     SetInstallationPermissions changes them. A request the token's
//     permissions do not allow: 403 "Resource not accessible by integration".
//   - Owner and repository names match case-insensitively; answers spell them
//     as AddRepo did.
//   - Issue comments need their issue or pull request (AddPull, AddIssue, or
//     a pull request the bot created): 404 otherwise.
//   - Check runs need head_sha to be a commit of the repository (or the head
//     of a registered pull request): 422 "No commit found for SHA" otherwise.
//   - Open pull requests whose head is a branch of the same repository follow
//     the branch (head.sha is its tip), unless AddPull got an explicit HeadSHA.
//   - Lists paginate with page/per_page (30 by default, 100 at most) and a
//     Link header.
package githubtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/gittest"
)

// The app's identity as GitHub reports it.
const (
	AppSlug  = "systemsync"
	AppName  = "System Sync"
	BotLogin = AppSlug + "[bot]" // the user of comments and pull requests made with an installation token
)

// defaultPermissions are the app manifest's (app.yml) default_permissions.
var defaultPermissions = map[string]string{
	"contents":      "write",
	"pull_requests": "write",
	"checks":        "write",
	"issues":        "write",
	"metadata":      "read",
}

// Server is the GitHub stand-in. Its state accessors return copies and are
// safe for concurrent use.
type Server struct {
	*httptest.Server

	appID         int64
	key           *rsa.PrivateKey
	keyPEM        string
	webhookSecret string
	gitRoot       string
	git           http.Handler
	created       time.Time

	mu            sync.Mutex
	nextID        int64
	repos         map[string]*repo // by lower-case "owner/name"
	installations map[int64]*installation
	tokens        map[string]*token
	userIDs       map[string]int64 // by lower-case login
	issues        map[string]map[int]*issue
	pulls         map[string][]*pull
	comments      []*comment
	checkRuns     []*checkRun
	suites        map[string]int64 // "repoKey@sha" → check suite id
	requests      []Request
	oauth         oauthState
}

type repo struct {
	id             int64
	owner, name    string
	installationID int64
	dir            string
	perms          map[string]string // lower-case login → admin/maintain/write/triage/read/none
	protected      map[string]bool
	created        time.Time
}

func (r *repo) fullName() string { return r.owner + "/" + r.name }
func (r *repo) key() string      { return repoKey(r.owner, r.name) }

type installation struct {
	id      int64
	account string
	perms   map[string]string
	created time.Time
}

type token struct {
	value          string
	installationID int64
	expires        time.Time
	repos          map[string]bool // repo keys; nil: every repo of the installation
	perms          map[string]string
}

type issue struct {
	number int
	title  string
	user   string
}

type pull struct {
	id                 int64
	number             int
	title, body, user  string
	state              string
	draft              bool
	merged             bool
	mergeCommitSHA     string
	headRef, headSHA   string
	headRepo           string // full name; "" = same repository
	baseRef, baseSHA   string
	followHead         bool
	created, updated   time.Time
	closedAt, mergedAt *time.Time
}

type comment struct {
	id      int64
	repoKey string
	number  int
	body    string
	user    string
	created time.Time
	updated time.Time
}

type checkRun struct {
	id                     int64
	repoKey                string
	name, headSHA          string
	detailsURL, externalID string
	status, conclusion     string
	startedAt, completedAt *time.Time
	hasOutput              bool
	title, summary, text   string
	annotations            []*github.CheckRunAnnotation
	actions                []*github.CheckRunAction
	suiteID                int64
	created                time.Time
}

// Request is one request the server received.
type Request struct {
	Method   string
	Path     string // the URL path as received, e.g. "/api/v3/repos/o/r/check-runs" or "/git/o/r.git/info/refs"
	RawQuery string
	Header   http.Header
	Body     []byte
}

// New starts the stand-in; it stops at the test's end.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("githubtest: generate key: %v", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	n, err := rand.Int(rand.Reader, big.NewInt(900000))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		appID:         100000 + n.Int64(),
		key:           key,
		keyPEM:        string(keyPEM),
		webhookSecret: randomHex(20),
		gitRoot:       t.TempDir(),
		created:       now(),
		nextID:        1000,
		repos:         map[string]*repo{},
		installations: map[int64]*installation{},
		tokens:        map[string]*token{},
		userIDs:       map[string]int64{},
		issues:        map[string]map[int]*issue{},
		pulls:         map[string][]*pull{},
		suites:        map[string]int64{},
		oauth:         newOAuthState(),
	}
	s.git = gittest.Handler(t, s.gitRoot)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Server.Close)
	return s
}

// AppID is the app's integration id.
func (s *Server) AppID() int64 { return s.appID }

// PrivateKeyPEM is the app's RSA private key (PKCS#1 PEM), for the bot's configuration.
func (s *Server) PrivateKeyPEM() string { return s.keyPEM }

// WebhookSecret is the app's webhook secret.
func (s *Server) WebhookSecret() string { return s.webhookSecret }

// APIURL is the REST API's base, ending in "/" (go-githubapp's v3_api_url).
func (s *Server) APIURL() string { return s.URL + "/api/v3/" }

// WebURL is the web base, ending in "/" (go-githubapp's web_url). Pages are
// not served: only their addresses appear in answers.
func (s *Server) WebURL() string { return s.URL + "/" }

// AddRepo creates a private bare repository owner/name (default branch main)
// covered by installation installationID (created when new, on owner's
// account), served at the returned clone URL. Fetch and push need basic
// auth with an installation token covering the repository as password
// (username x-access-token, by convention).
func (s *Server) AddRepo(t testing.TB, owner, name string, installationID int64) string {
	t.Helper()
	if owner == "" || name == "" || strings.ContainsAny(owner+name, "/\\ ") || strings.HasPrefix(name, ".") {
		t.Fatalf("githubtest: bad repository name %q/%q", owner, name)
	}
	dir := filepath.Join(s.gitRoot, owner, name+".git")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, s.gitRoot, "init", "--bare", "-q", "-b", "main", dir)
	gittest.Git(t, dir, "config", "core.hooksPath", filepath.Join(dir, "hooks"))

	s.mu.Lock()
	defer s.mu.Unlock()
	k := repoKey(owner, name)
	if _, ok := s.repos[k]; ok {
		t.Fatalf("githubtest: repository %s/%s added twice", owner, name)
	}
	s.repos[k] = &repo{
		id: s.newID(), owner: owner, name: name, installationID: installationID, dir: dir,
		perms: map[string]string{}, protected: map[string]bool{}, created: now(),
	}
	if _, ok := s.installations[installationID]; !ok {
		s.installations[installationID] = &installation{id: installationID, account: owner, perms: copyMap(defaultPermissions), created: now()}
	}
	s.userID(owner)
	return s.cloneURL(owner, name)
}

// GitDir is the bare repository's folder on disk, for the git CLI.
func (s *Server) GitDir(owner, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[repoKey(owner, name)]; r != nil {
		return r.dir
	}
	return filepath.Join(s.gitRoot, owner, name+".git")
}

// SetInstallationPermissions replaces an installation's permissions
// (e.g. {"contents": "read", "metadata": "read"}); tokens issued afterwards
// carry them.
func (s *Server) SetInstallationPermissions(installationID int64, perms map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[installationID]
	if inst == nil {
		inst = &installation{id: installationID, created: now()}
		s.installations[installationID] = inst
	}
	inst.perms = copyMap(perms)
}

// Token issues an installation token for installationID directly (as
// POST /app/installations/{id}/access_tokens would), for tests that drive
// the git CLI or an API client by hand.
func (s *Server) Token(t testing.TB, installationID int64) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[installationID]
	if inst == nil {
		t.Fatalf("githubtest: no installation %d (AddRepo creates it)", installationID)
	}
	return s.issueToken(inst, nil, nil).value
}

// ExpireTokens makes every token issued so far expired, as if an hour had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tok := range s.tokens {
		tok.expires = now().Add(-time.Second)
	}
}

// Pull is a pull request as a test registers it with AddPull.
type Pull struct {
	Number           int
	HeadSHA          string // "" = the tip of HeadRef in the repository (and the PR follows the branch)
	HeadRef          string
	BaseRef          string // "" = main
	BaseSHA          string // "" = the tip of BaseRef in the repository
	Merged           bool   // a merged PR is closed
	MergeCommitSHA   string
	User             string // "" = octocat
	HeadRepoFullName string // "" = same repo; another = a fork
	Title            string
	// Extensions.
	Body   string
	Closed bool // closed without merging
	Draft  bool
}

// AddPull registers a pull request as GitHub would report it. When the head
// commit exists in the repository, refs/pull/<n>/head points at it, as on GitHub.
func (s *Server) AddPull(owner, repoName string, p Pull) {
	s.mu.Lock()
	r := s.repos[repoKey(owner, repoName)]
	s.mu.Unlock()
	if r == nil {
		panic(fmt.Sprintf("githubtest: AddPull on unknown repository %s/%s", owner, repoName))
	}
	if p.BaseRef == "" {
		p.BaseRef = "main"
	}
	if p.User == "" {
		p.User = "octocat"
	}
	follow := false
	if p.HeadSHA == "" && p.HeadRepoFullName == "" && p.HeadRef != "" {
		p.HeadSHA, _ = revParse(r.dir, "refs/heads/"+p.HeadRef)
		follow = !p.Merged && !p.Closed
	}
	if p.BaseSHA == "" {
		p.BaseSHA, _ = revParse(r.dir, "refs/heads/"+p.BaseRef)
	}
	if p.HeadSHA != "" && commitExists(r.dir, p.HeadSHA) && p.Number > 0 {
		_, _ = runGit(r.dir, "update-ref", fmt.Sprintf("refs/pull/%d/head", p.Number), p.HeadSHA)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	k := r.key()
	if p.Number <= 0 {
		p.Number = s.nextNumber(k)
	}
	if p.Title == "" {
		p.Title = fmt.Sprintf("Pull request #%d", p.Number)
	}
	t := now()
	pr := &pull{
		id: s.newID(), number: p.Number, title: p.Title, body: p.Body, user: p.User, state: "open",
		draft: p.Draft, merged: p.Merged, mergeCommitSHA: p.MergeCommitSHA,
		headRef: p.HeadRef, headSHA: p.HeadSHA, headRepo: p.HeadRepoFullName,
		baseRef: p.BaseRef, baseSHA: p.BaseSHA, followHead: follow, created: t, updated: t,
	}
	if strings.EqualFold(pr.headRepo, r.fullName()) {
		pr.headRepo = ""
	}
	if p.Merged || p.Closed {
		pr.state = "closed"
		pr.closedAt = &t
		if p.Merged {
			pr.mergedAt = &t
		}
	}
	// Replace a PR with the same number.
	list := s.pulls[k]
	for i, old := range list {
		if old.number == pr.number {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	s.pulls[k] = append(list, pr)
	s.addIssueLocked(k, pr.number, pr.title, pr.user)
	s.userID(pr.user)
}

// AddIssue registers a plain issue (comments need their issue to exist).
func (s *Server) AddIssue(owner, repoName string, number int, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := repoKey(owner, repoName)
	if s.repos[k] == nil {
		panic(fmt.Sprintf("githubtest: AddIssue on unknown repository %s/%s", owner, repoName))
	}
	s.addIssueLocked(k, number, title, "octocat")
}

func (s *Server) addIssueLocked(k string, number int, title, user string) {
	if s.issues[k] == nil {
		s.issues[k] = map[int]*issue{}
	}
	s.issues[k][number] = &issue{number: number, title: title, user: user}
}

// AddComment records a comment by user (e.g. a person's "/systemsync plan")
// on issue or pull request number, as if made on GitHub, and returns it.
func (s *Server) AddComment(owner, repoName string, number int, user, body string) *github.IssueComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := repoKey(owner, repoName)
	r := s.repos[k]
	if r == nil {
		panic(fmt.Sprintf("githubtest: AddComment on unknown repository %s/%s", owner, repoName))
	}
	if s.issues[k][number] == nil {
		s.addIssueLocked(k, number, fmt.Sprintf("Issue #%d", number), "octocat")
	}
	t := now()
	c := &comment{id: s.newID(), repoKey: k, number: number, body: body, user: user, created: t, updated: t}
	s.comments = append(s.comments, c)
	s.userID(user)
	return s.commentJSON(r, c)
}

// SetPermission sets a user's permission on a repository: "admin",
// "maintain", "write", "triage", "read" or "none". Unknown users have
// "none", the repository's owner "admin".
func (s *Server) SetPermission(owner, repoName, user, permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoKey(owner, repoName)]
	if r == nil {
		panic(fmt.Sprintf("githubtest: SetPermission on unknown repository %s/%s", owner, repoName))
	}
	switch permission {
	case "admin", "maintain", "write", "triage", "read", "none":
	default:
		panic(fmt.Sprintf("githubtest: unknown permission %q", permission))
	}
	r.perms[strings.ToLower(user)] = permission
	s.userID(user)
}

// ProtectBranch makes the git server refuse pushes to branch, as GitHub's
// protected branches do (a pre-receive hook that prints GitHub's GH006
// error and "protected branch hook declined"), and the REST API report the
// branch as protected.
func (s *Server) ProtectBranch(t testing.TB, owner, repoName, branch string) {
	t.Helper()
	s.mu.Lock()
	r := s.repos[repoKey(owner, repoName)]
	if r == nil {
		s.mu.Unlock()
		t.Fatalf("githubtest: ProtectBranch on unknown repository %s/%s", owner, repoName)
	}
	r.protected[branch] = true
	var refs []string
	for b := range r.protected {
		refs = append(refs, "refs/heads/"+b)
	}
	s.mu.Unlock()
	sort.Strings(refs)

	list := filepath.Join(r.dir, "protected-branches")
	if err := os.WriteFile(list, []byte(strings.Join(refs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hook := `#!/bin/sh
status=0
while read old new ref; do
	if grep -qxF "$ref" ` + shellQuote(list) + `; then
		echo "error: GH006: Protected branch update failed for $ref." >&2
		echo "error: Changes must be made through a pull request." >&2
		echo "error: protected branch hook declined" >&2
		status=1
	fi
done
exit $status
`
	if err := os.WriteFile(filepath.Join(r.dir, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Comments are the comments on issue or pull request number, oldest first.
func (s *Server) Comments(owner, repoName string, number int) []*github.IssueComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := repoKey(owner, repoName)
	r := s.repos[k]
	var out []*github.IssueComment
	for _, c := range s.comments {
		if c.repoKey == k && c.number == number {
			out = append(out, s.commentJSON(r, c))
		}
	}
	return out
}

// CheckRuns are the repository's check runs in creation order, each with
// every annotation it received across create and update requests in
// Output.Annotations (GitHub's answers leave them out).
func (s *Server) CheckRuns(owner, repoName string) []*github.CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := repoKey(owner, repoName)
	r := s.repos[k]
	var out []*github.CheckRun
	for _, cr := range s.checkRuns {
		if cr.repoKey == k {
			j := s.checkRunJSON(r, cr)
			if j.Output == nil {
				j.Output = &github.CheckRunOutput{}
			}
			j.Output.Annotations = copyAnnotations(cr.annotations)
			out = append(out, j)
		}
	}
	return out
}

// Annotations are every annotation check run checkRunID received.
func (s *Server) Annotations(checkRunID int64) []*github.CheckRunAnnotation {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cr := range s.checkRuns {
		if cr.id == checkRunID {
			return copyAnnotations(cr.annotations)
		}
	}
	return nil
}

// Pulls are the repository's pull requests (registered or created by the
// bot) in number order.
func (s *Server) Pulls(owner, repoName string) []*github.PullRequest {
	s.mu.Lock()
	r := s.repos[repoKey(owner, repoName)]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	tips := branchTips(r.dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*github.PullRequest
	for _, p := range s.sortedPulls(r.key()) {
		out = append(out, s.pullJSON(r, p, tips))
	}
	return out
}

// Requests are every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = copyRequest(r)
	}
	return out
}

// RequestsMatching are the requests with method (any when "") whose path
// starts with pathPrefix. A prefix that does not start with "/api/v3/" or
// "/git/" is also tried under "/api/v3", so "/repos/o/r/check-runs" works.
func (s *Server) RequestsMatching(method, pathPrefix string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if method != "" && !strings.EqualFold(r.Method, method) {
			continue
		}
		if strings.HasPrefix(r.Path, pathPrefix) || strings.HasPrefix(r.Path, apiPrefix+pathPrefix) {
			out = append(out, r)
		}
	}
	return out
}

// serveHTTP records the request and routes it.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body,
	})
	s.mu.Unlock()

	switch {
	case strings.HasPrefix(r.URL.Path, apiPrefix+"/"):
		s.serveAPI(w, r, body)
	case strings.HasPrefix(r.URL.Path, "/git/"):
		s.serveGit(w, r)
	case strings.HasPrefix(r.URL.Path, "/login/oauth/"):
		s.serveOAuth(w, r)
	default:
		writeJSON(w, http.StatusNotFound, notFoundBody)
	}
}

// --- helpers ---

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) userID(login string) int64 {
	k := strings.ToLower(login)
	if id, ok := s.userIDs[k]; ok {
		return id
	}
	id := s.newID()
	s.userIDs[k] = id
	return id
}

func (s *Server) nextNumber(k string) int {
	n := 0
	for num := range s.issues[k] {
		if num > n {
			n = num
		}
	}
	for _, p := range s.pulls[k] {
		if p.number > n {
			n = p.number
		}
	}
	return n + 1
}

func (s *Server) sortedPulls(k string) []*pull {
	list := append([]*pull(nil), s.pulls[k]...)
	sort.Slice(list, func(i, j int) bool { return list[i].number < list[j].number })
	return list
}

func (s *Server) cloneURL(owner, name string) string {
	return s.URL + "/git/" + owner + "/" + name + ".git"
}

func repoKey(owner, name string) string { return strings.ToLower(owner + "/" + name) }

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyRequest(r Request) Request {
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	return r
}

func copyAnnotations(in []*github.CheckRunAnnotation) []*github.CheckRunAnnotation {
	out := make([]*github.CheckRunAnnotation, 0, len(in))
	for _, a := range in {
		var c github.CheckRunAnnotation
		b, _ := json.Marshal(a)
		_ = json.Unmarshal(b, &c)
		out = append(out, &c)
	}
	return out
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runGit runs git in dir for the server's own use (not tied to a test).
func runGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// revParse resolves rev to a commit SHA in the bare repository dir.
func revParse(dir, rev string) (string, bool) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", false
	}
	out, err := runGit(dir, "rev-parse", "--verify", "-q", rev+"^{commit}")
	if err != nil || out == "" {
		return "", false
	}
	return out, true
}

func commitExists(dir, sha string) bool {
	_, ok := revParse(dir, sha)
	return ok
}

// branchTips maps branch names to their tips.
func branchTips(dir string) map[string]string {
	out, err := runGit(dir, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/")
	tips := map[string]string{}
	if err != nil {
		return tips
	}
	for _, line := range strings.Split(out, "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			tips[name] = sha
		}
	}
	return tips
}

// Client is a go-github client for installationID, authenticated as the bot
// is: ghinstallation's transport with the app's id and key, so every request
// goes through the token endpoint first.
func (s *Server) Client(t testing.TB, installationID int64) *github.Client {
	t.Helper()
	tr, err := ghinstallation.New(http.DefaultTransport, s.appID, installationID, []byte(s.keyPEM))
	if err != nil {
		t.Fatalf("githubtest: ghinstallation: %v", err)
	}
	tr.BaseURL = strings.TrimSuffix(s.APIURL(), "/")
	c, err := github.NewClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}).WithEnterpriseURLs(s.APIURL(), s.APIURL())
	if err != nil {
		t.Fatalf("githubtest: client: %v", err)
	}
	return c
}
