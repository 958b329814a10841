package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

var ldflagsRE = regexp.MustCompile(`-ldflags="([^"]*)"`)

// buildApp builds the binary with the Dockerfile's own -ldflags, its
// ${VERSION} set to version.
func buildApp(t *testing.T, version string) string {
	t.Helper()
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := ldflagsRE.FindSubmatch(dockerfile)
	if m == nil || !bytes.Contains(m[1], []byte("${VERSION}")) {
		t.Fatalf("the Dockerfile has no -ldflags=\"…${VERSION}…\" line: %q", m)
	}
	flags := strings.ReplaceAll(string(m[1]), "${VERSION}", version)
	bin := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("go", "build", "-ldflags="+flags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build with -ldflags=%q: %v\n%s", flags, err, out)
	}
	return bin
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb, nil); code != 0 || out.String() != "devel\n" {
			t.Errorf("app %s: exit %d, stdout %q, stderr %q; want 0 and devel", args[0], code, out.String(), errb.String())
		}
	}
	bin := buildApp(t, "1.4.2-rc.1")
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil || string(out) != "1.4.2-rc.1\n" {
			t.Errorf("built binary %s: %q, %v; want 1.4.2-rc.1", arg, out, err)
		}
	}
}

// TestJSONLogs: with log_format json every line the server writes to
// stderr is a JSON object with time, level and msg.
func TestJSONLogs(t *testing.T) {
	env := []string{"SYSTEMSYNC_DATA_DIR=" + t.TempDir(), "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=json-key",
		"SYSTEMSYNC_LOG_FORMAT=json", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, _, stderr, stop := startInProcess(t, env)
	if code, body := do(t, "POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", "json-key", namespaceYAML("logged")); code != 201 {
		t.Fatalf("apply: %d %s", code, body)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) < 3 { // serving, shutting down, stopped at least
		t.Fatalf("only %d log lines: %q", len(lines), stderr.String())
	}
	msgs := map[string]bool{}
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k].(string); !ok {
				t.Fatalf("line %d has no %s: %s", i+1, k, line)
			}
		}
		msgs[rec["msg"].(string)] = true
	}
	if !msgs["serving"] || !msgs["stopped"] {
		t.Fatalf("the server's start and stop are not among the JSON lines: %v", msgs)
	}
}

// holdingProxy stands between the bot and a remote controller and, while
// holding, keeps every write (POST, DELETE) waiting; let go, the writes it
// held answer 503 without reaching the controller, so that work done after
// a crash is done by the process that restarted, not a dead one's request.
type holdingProxy struct {
	*httptest.Server
	mu      sync.Mutex
	holding bool
	release chan struct{}
	held    chan string // the path of each write held
}

func newHoldingProxy(t *testing.T, target string) *holdingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &holdingProxy{holding: true, release: make(chan struct{}), held: make(chan string, 100)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		hold, release := p.holding && r.Method != http.MethodGet, p.release
		p.mu.Unlock()
		if hold {
			p.held <- r.URL.Path
			<-release
			http.Error(w, "the bot that sent this is gone", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *holdingProxy) letGo() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.holding {
		p.holding = false
		close(p.release)
	}
}

// startBinary runs bin with env and returns it with the address it printed.
func startBinary(t *testing.T, bin string, env []string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, out)
			return cmd, m[1]
		}
	}
	t.Fatal("binary did not print its address")
	return nil, ""
}

// botRuns lists the runs of default/system-sync through the bot's API, newest first.
func botRuns(t *testing.T, base, key string) []pipeline.Run {
	t.Helper()
	code, body := do(t, "GET", base+"/api/pipelines/default/system-sync/runs", key, "")
	if code != 200 {
		t.Fatalf("list runs: %d %s", code, body)
	}
	var list struct{ Items []pipeline.Run }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// TestSIGKILLMidRun kills the real binary with SIGKILL while a run is
// applying a pushed commit (its writes to the controller held), restarts
// it, and checks that the run cut short is Failed "interrupted by a
// restart" and that the commit is applied all the same, by a new run.
func TestSIGKILLMidRun(t *testing.T) {
	ctx := context.Background()
	remote := controllertest.Start(t)
	proxy := newHoldingProxy(t, remote.URL)
	gitSrv := gittest.Serve(t)
	repoURL := gitSrv.NewBare(t, "specs")
	work := gittest.Clone(t, repoURL)
	work.Write(map[string]string{"README.md": "specs\n", "projects/default/namespaces/team-a.yaml": namespaceYAML("team-a")}).Commit("Add namespace team-a")
	work.Push("main")
	admin := controllerapi.New(remote.URL, controllertest.AdminKey)
	for _, obj := range controllertest.SyncSpecs(repoURL, false) {
		if _, err := admin.Apply(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	bin := buildApp(t, "kill-test")
	env := append(os.Environ(), "SYSTEMSYNC_DATA_DIR="+t.TempDir(), "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=kill-key",
		"SYSTEMSYNC_DATABASE_URL="+storetest.URL(t), "SYSTEMSYNC_POLL_INTERVAL=200ms",
		"SYSTEMSYNC_CONTROLLER_URL="+proxy.URL, "SYSTEMSYNC_CONTROLLER_API_KEY="+controllertest.AdminKey,
		"SYSTEMSYNC_BOT_EMAIL="+controllertest.AdminEmail)
	cmd, base := startBinary(t, bin, env)
	select {
	case path := <-proxy.held:
		if !strings.HasSuffix(path, "/namespaces") {
			t.Fatalf("the first write held is to %s, want the namespace's apply", path)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the bot did not apply the pushed commit within 30 s")
	}
	runs := botRuns(t, base, "kill-key")
	if len(runs) != 1 || runs[0].Status != pipeline.StatusInProgress {
		t.Fatalf("runs while the apply is held: %+v", runs)
	}
	cut := runs[0].ID

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the killed binary exited 0")
	}
	proxy.letGo()
	if _, err := remote.Store.Get(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "team-a"}); err == nil {
		t.Fatal("team-a reached the controller before the restart: the test proves nothing")
	}

	_, base = startBinary(t, bin, env)
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs = botRuns(t, base, "kill-key")
		var old, done *pipeline.Run
		for i := range runs {
			switch {
			case runs[i].ID == cut:
				old = &runs[i]
			case runs[i].Status == pipeline.StatusSuccess:
				done = &runs[i]
			}
		}
		if old != nil && old.Status != pipeline.StatusInProgress && done != nil {
			if old.Status != pipeline.StatusFailed || old.Message != pipeline.InterruptedMessage || old.EndedAt == nil {
				t.Fatalf("the run cut short: %s %q ended %v, want Failed %q", old.Status, old.Message, old.EndedAt, pipeline.InterruptedMessage)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the restart the runs are %+v", runs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := remote.Store.Get(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: "team-a"}); err != nil {
		t.Fatalf("the pushed namespace is not in the controller after the restart: %v", err)
	}
}
