package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/spec"
)

// End-to-end tests of where installation tokens go (issue 10, reproduction
// 1): only to GitHub, for the repository they were made for.

// otherHost is a host that is not GitHub, on 127.0.0.1 and a port of its
// own: it records every request and answers as a Git host asking for
// credentials.
type otherHost struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newOtherHost(t *testing.T) *otherHost {
	t.Helper()
	h := &otherHost{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.reqs = append(h.reqs, r.Clone(context.Background()))
		h.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token.", http.StatusUnauthorized)
	}))
	t.Cleanup(h.Close)
	return h
}

// requests are every request the host received.
func (h *otherHost) requests() []*http.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*http.Request(nil), h.reqs...)
}

// authorized are the requests that carried an Authorization header, as "METHOD path".
func (h *otherHost) authorized() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.reqs {
		if r.Header.Get("Authorization") != "" {
			out = append(out, r.Method+" "+r.URL.Path)
		}
	}
	return out
}

// followerReady waits until the bot's follower has its place in the event
// log, so that the next console change is one it exports.
func followerReady(t *testing.T, b *bot) {
	t.Helper()
	eventually(t, "the follower's position in the event log", func() bool {
		pos, err := b.s.DB.Position(context.Background(), "follow:events")
		return err == nil && pos != ""
	})
}

// exportPipeline adds Repository other (endpoint) and a Pipeline whose one
// stage writes the system to Git: to its source, or to dest when set.
func exportPipeline(t *testing.T, b *bot, name, endpoint string, dest map[string]any) {
	t.Helper()
	ctx := context.Background()
	cfg := map[string]any{
		"gitToSystemSync": false, "systemToGitSync": true, "sourceAsDestination": dest == nil,
		"sourceRepo": map[string]any{"repository": "other", "revision": "main", "path": map[string]any{"name": folder}},
	}
	if dest != nil {
		cfg["destinationRepo"] = dest
	}
	for _, obj := range []map[string]any{
		{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository", "metadata": map[string]any{"name": "other", "project": "default"},
			"spec": map[string]any{"type": "Git", "endpoint": endpoint}},
		{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline", "metadata": map[string]any{"name": name, "project": "default"},
			"spec": map[string]any{"stages": []any{map[string]any{"name": "sync", "type": "SystemSync", "config": cfg}}}},
	} {
		if _, err := b.sys.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInstallationTokenNeverGoesToAnotherHost(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	other := newOtherHost(t)
	// The installed repository's path, on another host.
	exportPipeline(t, b, "leak", other.URL+"/git/"+owner+"/"+repoName+".git", nil)
	followerReady(t, b)

	if _, err := consoleUser(t, b, "mallory@example.com").Apply(ctx, namespaceObj("leaked", "prod")); err != nil {
		t.Fatal(err)
	}
	// The export to the other host fails (it is refused, or it asks for
	// credentials the bot does not have): its changes are kept for a retry.
	eventually(t, "the export to the other host kept for a retry", func() bool {
		v, err := b.s.DB.Position(ctx, "follow:pending:default/leak/sync")
		return err == nil && strings.Contains(v, "leaked")
	})
	if got := other.authorized(); len(got) > 0 {
		t.Fatalf("the other host received credentials: %v", got)
	}
}

func TestArtifactsAreReadWithTheSourcesOwnCredentials(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	other := newOtherHost(t)
	// Git → the system from another host's repository; the system → GitHub's.
	exportPipeline(t, b, "mirror", other.URL+"/git/"+owner+"/"+repoName+".git",
		map[string]any{"repository": "specs", "revision": "main", "path": map[string]any{"name": "mirror"}})
	b.work.Write(map[string]string{"README.md": "specs\n"})
	b.work.Commit("init")
	b.work.Push("main")
	followerReady(t, b)

	// A console change to a resource whose spec references an artifact
	// (file://), which the export copies from the source.
	raw, err := os.ReadFile("../../testdata/rafay-specs/override/syncrepo-ingress-nginx-lb-ip-override.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, probs := spec.Parse("override.yaml", []byte(strings.ReplaceAll(string(raw), "project: shared-infra-team", "project: default")))
	if len(probs) > 0 || len(rs) != 1 {
		t.Fatalf("override spec: %v", probs)
	}
	if _, err := consoleUser(t, b, "carol@example.com").Apply(ctx, rs[0].Object); err != nil {
		t.Fatal(err)
	}
	gitDir := b.gh.GitDir(owner, repoName)
	eventually(t, "the override committed to GitHub", func() bool {
		files := gittest.Git(t, gitDir, "ls-tree", "-r", "--name-only", "main")
		return strings.Contains(files, "mirror/projects/default/overrides/ingress-nginx-lb-ip.yaml")
	})
	if got := other.authorized(); len(got) > 0 {
		t.Fatalf("the source's host received the destination's credentials: %v", got)
	}
}

func TestGitHubRequestsNameTheBotAndItsVersion(t *testing.T) {
	b := startBot(t)
	b.gh.AddPull(owner, repoName, githubtest.Pull{Number: 3, HeadRef: "main"})
	if code, resp := cmdComment(t, b, 3, "carol", "/systemsync help"); code != http.StatusAccepted {
		t.Fatalf("issue_comment delivery: %d %s", code, resp)
	}
	eventually(t, "the help comment", func() bool { return len(cmdBotComments(b, 3)) == 1 })
	reqs := b.gh.RequestsMatching("", "/api/v3/")
	tokens := 0
	for _, r := range reqs {
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "systemsync/"+botVersion) {
			t.Errorf("%s %s with User-Agent %q", r.Method, r.Path, ua)
		}
		if strings.HasSuffix(r.Path, "/access_tokens") {
			tokens++
		}
	}
	if tokens == 0 {
		t.Fatalf("no token request among %d API requests", len(reqs))
	}
}
