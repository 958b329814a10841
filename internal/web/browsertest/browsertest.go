// Package browsertest starts a real browser, Debian's chromium, for the
// console's browser tests and the program that takes its screenshots.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvBrowser is the variable that makes the browser tests required: "1"
// (find chromium), or the path of the browser. Set, the tests fail when
// no browser is found; unset, they run when one is found.
const EnvBrowser = "SYSTEMSYNC_TEST_BROWSER"

// candidates are where the browser is looked for, in order.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"}

// Find returns the browser to drive: the path $SYSTEMSYNC_TEST_BROWSER
// names, or the first of chromium, chromium-browser, google-chrome found.
func Find() (string, error) {
	if v := os.Getenv(EnvBrowser); v != "" && v != "1" {
		if _, err := os.Stat(v); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBrowser, v, err)
		}
		return v, nil
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium found (apt-get install chromium)")
}

// Require returns the browser for a test. With SYSTEMSYNC_TEST_BROWSER set,
// a missing browser fails the test; unset, the test is skipped (go test
// ./... on a machine without chromium), saying so.
func Require(t testing.TB) string {
	t.Helper()
	p, err := Find()
	if err == nil {
		return p
	}
	if os.Getenv(EnvBrowser) != "" {
		t.Fatalf("%s is set: %v", EnvBrowser, err)
	}
	t.Skipf("browser tests need chromium: %v (set %s=1 to make this a failure)", err, EnvBrowser)
	return ""
}

// Start runs the browser at path headless, in a fresh profile under dir,
// with a window of width×height, and returns the context of its first
// tab; cancel ends the browser. It is started as this closed machine
// needs: no sandbox (root), no GPU, no QUIC, no first-run, background
// networking, component updates or sync, so that it opens no connection
// of its own.
func Start(ctx context.Context, path, dir string, width, height int) (context.Context, context.CancelFunc, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(actx)
	cancel := func() { cancelTab(); cancelAlloc() }
	if err := chromedp.Do(tab); err != nil { // starts the browser
		cancel()
		return nil, nil, fmt.Errorf("start %s: %w", path, err)
	}
	return tab, cancel, nil
}
