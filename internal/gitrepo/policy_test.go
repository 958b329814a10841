package gitrepo

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestPolicyMatchesPrefixesBySchemeHostPortAndPathSegment(t *testing.T) {
	t.Parallel()
	p, err := NewPolicy("https://ghe.example.com/", []string{
		"https://git.example.org/team",
		"http://10.1.2.3:8080/",
		"https://[fd00::1]/git/",
		"http://localhost:3000",
		"http://169.254.169.254/latest",
		"file:///srv/git",
	})
	if err != nil {
		t.Fatal(err)
	}
	for remote, ok := range map[string]bool{
		// The configured GitHub: its scheme, host and port, any path.
		"https://ghe.example.com/acme/specs.git":     true,
		"https://GHE.example.com:443/acme/specs.git": true,
		"http://ghe.example.com/acme/specs.git":      false,
		"https://ghe.example.com:8443/acme/x.git":    false,
		"https://api.ghe.example.com/acme/x.git":     false,
		// A prefix: its path or below it, at a segment boundary.
		"https://git.example.org/team":                   true,
		"https://git.example.org/team/x.git":             true,
		"https://git.example.org:443/team/x.git":         true,
		"https://git.example.org/teamX/x.git":            false,
		"https://git.example.org.evil.com/team/x.git":    false,
		"https://evil.com/git.example.org/team/x.git":    false,
		"http://git.example.org/team/x.git":              false,
		"https://git.example.org:444/team/x.git":         false,
		"https://git.example.org/team/../admin/x.git":    false,
		"https://git.example.org/team/%2e%2e/admin.git":  false,
		"https://git.example.org/team%2Fx.git":           false,
		"https://git.example.org/other/x.git":            false,
		"https://sub.git.example.org/team/x.git":         false,
		"https://git.example.org/team/./x.git":           false,
		"https://git.example.org/team/x.git?service=foo": true,
		// Addresses: only as written in an entry.
		"http://10.1.2.3:8080/x.git":       true,
		"http://10.1.2.3/x.git":            false,
		"http://10.1.2.4:8080/x.git":       false,
		"https://[fd00::1]/git/x.git":      true,
		"https://[fd00:0::1]/git/x.git":    true,
		"https://[fd00::2]/git/x.git":      false,
		"http://localhost:3000/x.git":      true,
		"http://127.0.0.1:3000/x.git":      false,
		"http://169.254.169.254/latest/x":  true,
		"http://169.254.169.254/other":     false,
		"http://[::ffff:10.1.2.3]:8080/x":  false,
		"http://192.168.1.1/x.git":         false,
		"http://127.0.0.1/x.git":           false,
		"file:///srv/git/x.git":            true,
		"file://localhost/srv/git/x.git":   true,
		"/srv/git/x.git":                   true,
		"/srv/gitx/x.git":                  false,
		"file:///srv/git/../etc/x.git":     false,
		"file:///var/lib/x.git":            false,
		"relative/x.git":                   false,
		"ssh://git.example.org/team/x.git": false,
	} {
		err := p.Check(remote)
		if (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", remote, err, ok)
		}
		if err != nil && (!errors.Is(err, ErrRemoteNotAllowed) || !strings.HasSuffix(err.Error(), " is not allowed: add it to remotes.allow")) {
			t.Errorf("%s: refused with %q", remote, err)
		}
	}
	if err := AllowAll().Check("file:///anything.git"); err != nil {
		t.Fatalf("local mode refused a file remote: %v", err)
	}
	if err := (&Policy{}).Check("https://github.com/a/b.git"); err == nil {
		t.Fatal("the empty policy allowed a remote")
	}
	for _, bad := range []string{"git.example.org/team", "https://u:p@git.example.org/", "https://git.example.org/?x=1", "ftp://x/", "http:///x", "file://host/x", "file:///a/../b"} {
		if _, err := NewPolicy("", []string{bad}); err == nil {
			t.Errorf("entry %q accepted", bad)
		}
	}
}

// request is one request a recording server received.
type request struct{ method, path, auth string }

// recorder is an HTTP server that records every request, then hands it to
// next (nil: 404).
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []request
	next http.Handler
}

func newRecorder(t *testing.T, next http.Handler) *recorder {
	rec := &recorder{next: next}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, request{r.Method, r.URL.Path, r.Header.Get("Authorization")})
		rec.mu.Unlock()
		if rec.next == nil {
			http.NotFound(w, r)
			return
		}
		rec.next.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.seen...)
}

// redirector answers every request with a redirect to the same path on target.
func redirector(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusFound)
	})
}

func managerWith(t *testing.T, p *Policy) *Manager {
	m := NewManager(t.TempDir(), testLogger(t), p)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func mustRepo(t *testing.T, m *Manager, url string) *Repo {
	t.Helper()
	r, err := m.Repo(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustPolicy(t *testing.T, github string, allow ...string) *Policy {
	t.Helper()
	p, err := NewPolicy(github, allow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantRefused checks that err is the boundary's refusal of url, in its exact words.
func wantRefused(t *testing.T, what string, err error, url string) {
	t.Helper()
	want := "remote " + url + " is not allowed: add it to remotes.allow"
	if !errors.Is(err, ErrRemoteNotAllowed) || err.Error() != want {
		t.Fatalf("%s: %v, want %q", what, err, want)
	}
}

// Outside local mode, a remote that is neither on GitHub nor in
// remotes.allow is refused before a single request: fetch and push, over
// HTTP (loopback, another port than GitHub's), file:// and a local path.
// Local mode, or naming the remote, allows each of them.
func TestRefusedRemotesAreNeverContacted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _, _, first := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	rec := newRecorder(t, srv.Config.Handler)
	github := newRecorder(t, nil)
	bare := filepath.Join(srv.Root, "specs.git")
	remotes := []string{rec.URL + "/specs.git", "file://" + bare, bare}
	strict := managerWith(t, mustPolicy(t, github.URL+"/"))
	for _, remote := range remotes {
		r := mustRepo(t, strict, remote)
		_, err := r.Fetch(ctx, Auth{}, "main")
		wantRefused(t, "fetch "+remote, err, remote)
		err = r.Push(ctx, Auth{}, first, "main", false)
		wantRefused(t, "push "+remote, err, remote)
		if err := strict.Check(remote); !errors.Is(err, ErrRemoteNotAllowed) {
			t.Fatalf("Check(%s): %v", remote, err)
		}
	}
	if got := rec.requests(); len(got) != 0 {
		t.Fatalf("the refused host received %v", got)
	}
	if got := github.requests(); len(got) != 0 {
		t.Fatalf("GitHub received %v", got)
	}

	// Named in remotes.allow (the host by its address, the folder), or in
	// local mode: fetched.
	named := managerWith(t, mustPolicy(t, github.URL+"/", rec.URL+"/", "file://"+srv.Root))
	for _, m := range []*Manager{named, managerWith(t, AllowAll())} {
		for _, remote := range remotes {
			if got, err := mustRepo(t, m, remote).Fetch(ctx, Auth{}, "main"); err != nil || got != first {
				t.Fatalf("fetch %s: %s, %v", remote, got, err)
			}
		}
	}
	if len(rec.requests()) == 0 {
		t.Fatal("the allowed fetches never reached the host")
	}
}

// A host name is checked at the address it is dialled at: an entry naming
// a host that resolves to loopback is refused when dialled (the server
// sees nothing), while "localhost" named as such, the GitHub host (at any
// address) and local mode reach it.
func TestDNSCannotMoveARemoteToLoopback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _, _, first := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	rec := newRecorder(t, srv.Config.Handler)
	port := rec.URL[strings.LastIndex(rec.URL, ":")+1:]
	loopback := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	named := "http://git.internal.test:" + port
	p := mustPolicy(t, "https://github.com/", named+"/")
	p.lookup = loopback
	_, err := mustRepo(t, managerWith(t, p), named+"/specs.git").Fetch(ctx, Auth{}, "main")
	wantRefused(t, "fetch through a name resolving to loopback", err, named+"/specs.git")
	if got := rec.requests(); len(got) != 0 {
		t.Fatalf("the loopback host received %v", got)
	}
	// The same name as the configured GitHub is trusted at any address.
	gh := mustPolicy(t, named+"/")
	gh.lookup = loopback
	// "localhost" itself, and local mode.
	local := mustPolicy(t, "https://github.com/", "http://localhost:"+port+"/")
	all := AllowAll()
	all.lookup = loopback
	for _, c := range []struct {
		remote string
		p      *Policy
	}{{named + "/specs.git", gh}, {"http://localhost:" + port + "/specs.git", local}, {named + "/specs.git", all}} {
		if got, err := mustRepo(t, managerWith(t, c.p), c.remote).Fetch(ctx, Auth{}, "main"); err != nil || got != first {
			t.Fatalf("fetch %s: %s, %v", c.remote, got, err)
		}
	}
}

// A redirect is checked like the remote itself: from an allowed remote to
// a refused one, the fetch fails with the refusal and the target sees
// nothing; to an allowed one, it follows, without the token, which only
// its own origin receives.
func TestRedirectsAreCheckedAndNeverCarryTheToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "ghs_redirectedToken"
	srv, _, _, first := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	target := newRecorder(t, srv.Config.Handler)
	from := newRecorder(t, redirector(target.URL))

	m := managerWith(t, mustPolicy(t, from.URL+"/"))
	_, err := mustRepo(t, m, from.URL+"/specs.git").Fetch(ctx, Auth{Token: token}, "main")
	wantRefused(t, "fetch redirected to a refused host", err, target.URL+"/specs.git")
	if got := target.requests(); len(got) != 0 {
		t.Fatalf("the refused redirect target received %v", got)
	}
	if got := from.requests(); len(got) != 1 || !strings.HasPrefix(got[0].auth, "Basic ") {
		t.Fatalf("GitHub received %v, want one request with the token", got)
	}

	m = managerWith(t, mustPolicy(t, from.URL+"/", target.URL+"/"))
	got, err := mustRepo(t, m, from.URL+"/specs.git").Fetch(ctx, Auth{Token: token}, "main")
	if err != nil || got != first {
		t.Fatalf("fetch redirected to an allowed host: %s, %v", got, err)
	}
	seen := target.requests()
	if len(seen) < 2 {
		t.Fatalf("the redirect target received %v, want the fetch", seen)
	}
	for _, r := range seen {
		if r.auth != "" {
			t.Fatalf("the redirect target received credentials: %+v", r)
		}
	}
}

// A token goes only to the origin it was issued for: a fetch or push of a
// remote elsewhere (here the same address, another port) fails before a
// request, and a token without an origin is GitHub's.
func TestTokenIsSentOnlyToItsOrigin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "ghs_boundToken"
	srv, _, _, first := seeded(t, map[string]string{"a.yaml": "a: 1\n"})
	github := newRecorder(t, srv.Config.Handler)
	other := newRecorder(t, srv.Config.Handler)
	m := managerWith(t, mustPolicy(t, github.URL+"/", other.URL+"/"))
	r := mustRepo(t, m, other.URL+"/specs.git")
	for _, auth := range []Auth{{Token: token}, {Token: token, Origin: github.URL + "/acme"}} {
		_, err := r.Fetch(ctx, auth, "main")
		if !errors.Is(err, ErrCredentialsOrigin) || strings.Contains(err.Error(), token) {
			t.Fatalf("fetch with %s's token from another port: %v", auth.Origin, err)
		}
		if err := r.Push(ctx, auth, first, "main", false); !errors.Is(err, ErrCredentialsOrigin) {
			t.Fatalf("push with GitHub's token to another port: %v", err)
		}
	}
	if got := other.requests(); len(got) != 0 {
		t.Fatalf("the other host received %v", got)
	}
	// Without a token the same remote is fetched; with the token, GitHub
	// (the token's origin) receives it.
	if _, err := r.Fetch(ctx, Auth{}, "main"); err != nil {
		t.Fatal(err)
	}
	for _, req := range other.requests() {
		if req.auth != "" {
			t.Fatalf("the other host received credentials: %+v", req)
		}
	}
	if _, err := mustRepo(t, m, github.URL+"/specs.git").Fetch(ctx, Auth{Token: token}, "main"); err != nil {
		t.Fatal(err)
	}
	seen := github.requests()
	if len(seen) == 0 || seen[0].auth != "Basic "+basic("x-access-token", token) {
		t.Fatalf("GitHub received %v, want the token", seen)
	}
	// A token with no origin and no GitHub configured is refused.
	local := managerWith(t, AllowAll())
	if _, err := mustRepo(t, local, github.URL+"/specs.git").Fetch(ctx, Auth{Token: token}, "main"); !errors.Is(err, ErrCredentialsOrigin) {
		t.Fatalf("a token without an origin in local mode: %v", err)
	}
}

func basic(user, pass string) string {
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// go-git's HTTP client is process-wide: a request that does not come from
// a Manager's fetch or push is refused, not sent with no policy.
func TestRequestsOutsideAManagerAreRefused(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	req, _ := http.NewRequest(http.MethodGet, rec.URL+"/x.git/info/refs", nil)
	if _, err := (dispatch{}).RoundTrip(req); err == nil {
		t.Fatal("a request without a boundary was sent")
	}
	if got := rec.requests(); len(got) != 0 {
		t.Fatalf("received %v", got)
	}
	u, _ := url.Parse(rec.URL + "/a/b.git/info/refs?service=git-upload-pack")
	if got := repoURL(u); got != rec.URL+"/a/b.git" {
		t.Fatalf("repoURL %s", got)
	}
}
