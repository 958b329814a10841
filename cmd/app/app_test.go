package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/store/storetest"
)

// syncBuffer is a bytes.Buffer safe to write from the server and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRE = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// startInProcess runs `app` (serve) with env until the returned stop is called.
func startInProcess(t *testing.T, env []string) (base string, stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, stdout, stderr, env) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("app exited with %d before listening: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("app did not print its address: %s %s", stdout.String(), stderr.String())
	}
	var once sync.Once
	code := 0
	stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	return base, stdout, stderr, stop
}

func do(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func namespaceYAML(name string) string {
	return "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: " + name + "\n  project: default\nspec:\n  placement: {}\n"
}

func TestLocalModeServesWithAGeneratedKey(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, stdout, stderr, stop := startInProcess(t, env)

	keyPath := filepath.Join(dir, "admin.key")
	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("admin key not generated: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("admin key mode %v, want 0600", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(keyPath)
	key := strings.TrimSpace(string(raw))
	if !strings.Contains(stdout.String(), keyPath) {
		t.Fatalf("start-up output does not say where the key is:\n%s", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), key) {
		t.Fatal("the admin key was printed or logged")
	}

	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := do(t, "GET", base+p, "", ""); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	if code, body := do(t, "GET", base+"/apis/system.k8smgmt.io/v3/projects/default", key, ""); code != 200 || !strings.Contains(body, `"default"`) {
		t.Fatalf("default project: %d %s", code, body)
	}
	if code, _ := do(t, "GET", base+"/apis/system.k8smgmt.io/v3/projects/default", "wrong", ""); code != 401 {
		t.Fatalf("wrong key: %d", code)
	}
	if code, body := do(t, "POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", key, namespaceYAML("team-a")); code != 201 {
		t.Fatalf("apply: %d %s", code, body)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d after shutdown: %s", code, stderr.String())
	}

	// A restart keeps the key, the project and the data.
	base, _, _, _ = startInProcess(t, env)
	if code, body := do(t, "GET", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces/team-a", key, ""); code != 200 {
		t.Fatalf("after restart: %d %s", code, body)
	}
}

func TestKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=env-key-123",
		"SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, stdout, _, _ := startInProcess(t, env)
	if _, err := os.Stat(filepath.Join(dir, "admin.key")); err == nil {
		t.Fatal("a key file was generated although SYSTEMSYNC_API_KEY is set")
	}
	if strings.Contains(stdout.String(), "env-key-123") {
		t.Fatal("the key from the environment was printed")
	}
	if code, body := do(t, "GET", base+"/apis/system.k8smgmt.io/v3/projects", "env-key-123", ""); code != 200 {
		t.Fatalf("list with env key: %d %s", code, body)
	}
}

func TestBadConfigurationExits2(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve"}, &out, &errb, []string{"SYSTEMSYNC_LOG_LEVEL=loud"})
	if code != 2 || !strings.Contains(errb.String(), "SYSTEMSYNC_LOG_LEVEL") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestSIGTERMLosesNoAcknowledgedWrite runs the real binary, applies
// resources from 8 clients, sends SIGTERM in the middle, and checks after a
// restart that every apply that was answered 201 is there.
func TestSIGTERMLosesNoAcknowledgedWrite(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	env := append(os.Environ(), "SYSTEMSYNC_DATA_DIR="+dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0",
		"SYSTEMSYNC_API_KEY=term-key", "SYSTEMSYNC_DATABASE_URL="+storetest.URL(t))
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(bin)
		cmd.Env = env
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
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
	cmd, base := start()

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("ns-%d-%d", w, i)
				req, _ := http.NewRequest("POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", strings.NewReader(namespaceYAML(name)))
				req.Header.Set("X-API-KEY", "term-key")
				resp, err := client.Do(req)
				if err != nil {
					return // the server has gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("binary exited badly after SIGTERM: %v", err)
	}
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d applies acknowledged before SIGTERM; the test proves nothing", len(acked))
	}

	cmd, base = start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for _, name := range acked {
		if code, body := do(t, "GET", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces/"+name, "term-key", ""); code != 200 {
			t.Fatalf("acknowledged %s lost after SIGTERM: %d %s", name, code, body)
		}
	}
	t.Logf("%d acknowledged applies all survived SIGTERM", len(acked))
}
