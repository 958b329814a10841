// Command screenshots takes the console's screenshots for the README: it
// starts a local-mode server in a temporary folder, seeds it as a user
// would (namespaces, a push, a run), and photographs the main pages with
// chromium (chromedp).
//
//	go run ./cmd/screenshots -out docs/screenshots
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/web/browsertest"
)

func main() {
	out := flag.String("out", "docs/screenshots", "folder to write the PNG files into")
	flag.Parse()
	if err := run(context.Background(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	var logTo io.Writer = io.Discard
	if os.Getenv("SCREENSHOTS_LOG") != "" {
		logTo = os.Stderr
	}
	browserPath, err := browsertest.Find()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "systemsync-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(tmp, "var")
	cfg.DatabaseURL = "sqlite://" + filepath.Join(tmp, "var", "systemsync.db")
	cfg.PollInterval = time.Hour // the Run button applies the push, below
	cfg.CommitWindow = 200 * time.Millisecond
	cfg.Controller.ListInterval = 200 * time.Millisecond
	sctx, stopServer := context.WithCancel(ctx)
	s, err := server.New(sctx, cfg, slog.New(slog.NewTextHandler(logTo, nil)))
	if err != nil {
		stopServer()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	defer func() { stopServer(); <-done }()

	// The first poll of the demo repository has synced it (a first sync
	// takes Git's side): then seed namespaces made in the system by a
	// person, and a push to Git.
	if err := waitFor(func() bool {
		pos, err := s.DB.Position(ctx, "poll:default/"+server.DemoPipeline+"/system-sync-stage")
		return err == nil && pos != ""
	}); err != nil {
		return fmt.Errorf("the demo repository was never polled: %w", err)
	}
	if _, _, err := s.Keys.Create(ctx, "alice@example.com", access.Editor); err != nil {
		return err
	}
	for i, team := range []string{"payments", "search", "checkout"} {
		obj := map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
			"metadata": map[string]any{"name": team, "project": "default", "labels": map[string]any{"team": team}},
			"spec": map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": "prod"}}},
				"resourceQuotas": map[string]any{"cpuLimits": fmt.Sprintf("%d000m", 2*(i+1)), "memoryLimits": "8000Mi", "pods": "50"}}}
		if _, _, err := s.Store.Apply(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: team}, obj, "alice@example.com", ""); err != nil {
			return err
		}
	}
	bare := server.DemoRepoPath(cfg.DataDir)
	if err := waitFor(func() bool {
		return strings.Contains(git(bare, "ls-tree", "-r", "--name-only", "main"), "checkout.yaml")
	}); err != nil {
		return fmt.Errorf("the namespaces never reached Git: %w", err)
	}
	work := filepath.Join(tmp, "work")
	if _, err := gitErr(tmp, "clone", "-q", bare, work); err != nil {
		return err
	}
	nsFile := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: analytics\n  project: default\nspec:\n  placement:\n    labels:\n    - key: env\n      value: staging\n"
	if err := os.WriteFile(filepath.Join(work, "projects/default/namespaces/analytics.yaml"), []byte(nsFile), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=Carol", "-c", "user.email=carol@example.com", "commit", "-q", "-m", "Add namespace analytics"}, {"push", "-q", "origin", "HEAD:main"}} {
		if _, err := gitErr(work, args...); err != nil {
			return err
		}
	}
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, "admin.key"))
	if err != nil {
		return err
	}

	tab, stopBrowser, err := browsertest.Start(ctx, browserPath, filepath.Join(tmp, "chromium"), 1280, 800)
	if err != nil {
		return err
	}
	defer stopBrowser()
	b := &shooter{ctx: tab, base: s.BaseURL, out: out}
	b.shot("login", "/login")
	b.do(chromedp.SetValue(chromedp.ID("api_key"), strings.TrimSpace(string(key))))
	b.click(`form[action="/login"] button[type=submit]`)
	b.open("/pipelines/default/system-sync")
	b.click("#run") // applies the push; opens the run
	b.do(chromedp.Poll[chromedp.Void](`document.getElementById("status") && document.getElementById("status").textContent === "Success"`))
	b.save("run")
	b.shot("pipelines", "/pipelines")
	b.shot("pipeline", "/pipelines/default/system-sync")
	b.shot("stage-form", "/pipelines/default/system-sync/edit")
	b.shot("triggers", "/pipelines/default/system-sync/triggers")
	b.shot("resources", "/projects/default/namespaces")
	b.shot("resource", "/projects/default/namespaces/payments")
	b.open("/projects/default/namespaces/payments/edit")
	yaml, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("yaml")))
	if err != nil {
		return err
	}
	b.do(chromedp.SetValue(chromedp.ID("yaml"), strings.Replace(yaml, "cpuLimits: 2000m", "cpuLimits: 4000m", 1)))
	b.click("#review")
	b.save("edit-review")
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.shot("phone-pipeline", "/pipelines/default/system-sync")
	if b.err != nil {
		return b.err
	}
	fmt.Println("screenshots written to", out)
	return nil
}

// shooter drives one tab; the first error sticks.
type shooter struct {
	ctx       context.Context
	base, out string
	err       error
}

func (b *shooter) do(steps ...chromedp.Action[chromedp.Void]) {
	if b.err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	b.err = chromedp.Do(ctx, steps...)
}

func (b *shooter) open(path string) { b.do(chromedp.Navigate(b.base + path)) }

func (b *shooter) click(sel string) {
	if b.err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	_, b.err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
}

func (b *shooter) shot(name, path string) {
	b.open(path)
	b.save(name)
}

func (b *shooter) save(name string) {
	if b.err != nil {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.err = fmt.Errorf("screenshot %s: %w", name, err)
		return
	}
	b.err = os.WriteFile(filepath.Join(b.out, name+".png"), png, 0o644)
}

func git(dir string, args ...string) string {
	out, _ := gitErr(dir, args...)
	return out
}

func gitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func waitFor(cond func() bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("timed out")
}
