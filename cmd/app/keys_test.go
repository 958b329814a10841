package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

const projectsURL = "/apis/system.k8smgmt.io/v3/projects"

// TestRotatingTheAdminKeyRevokesTheOldOne is reproduction 3 of issue 10:
// a restart with a new SYSTEMSYNC_API_KEY left the old key valid.
func TestRotatingTheAdminKeyRevokesTheOldOne(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, _, _, stop := startInProcess(t, append(env, "SYSTEMSYNC_API_KEY=k1-admin-key"))
	if code, body := do(t, "GET", base+projectsURL, "k1-admin-key", ""); code != 200 {
		t.Fatalf("k1 before the rotation: %d %s", code, body)
	}
	stop()

	base, _, stderr, stop := startInProcess(t, append(env, "SYSTEMSYNC_API_KEY=k2-admin-key"))
	if code, body := do(t, "GET", base+projectsURL, "k1-admin-key", ""); code != 401 || !strings.Contains(body, "revoked API key") {
		t.Fatalf("k1 after the rotation: %d %s, want 401", code, body)
	}
	if code, body := do(t, "POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", "k2-admin-key", namespaceYAML("after-rotation")); code != 201 {
		t.Fatalf("k2 applies: %d %s", code, body)
	}
	if !strings.Contains(stderr.String(), "the key before it is revoked") || strings.Contains(stderr.String(), "k1-admin-key") {
		t.Fatalf("the log does not say the old key was revoked, or tells it:\n%s", stderr.String())
	}
	stop()

	// A revoked key never comes back: configured again, the server refuses to start.
	var out, errb bytes.Buffer
	if code := run(context.Background(), nil, &out, &errb, append(env, "SYSTEMSYNC_API_KEY=k1-admin-key")); code != 1 || !strings.Contains(errb.String(), "is a revoked key: configure a new one") {
		t.Fatalf("start with the revoked key: exit %d, %s", code, errb.String())
	}
}

func TestReplacingAdminKeyFileRevokesTheOldKey(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, _, _, stop := startInProcess(t, env)
	path := filepath.Join(dir, "admin.key")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.TrimSpace(string(raw))
	if code, body := do(t, "GET", base+projectsURL, old, ""); code != 200 {
		t.Fatalf("generated key: %d %s", code, body)
	}
	stop()
	fresh, err := controller.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(fresh+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, _, _ = startInProcess(t, env)
	if code, body := do(t, "GET", base+projectsURL, old, ""); code != 401 {
		t.Fatalf("the replaced key: %d %s, want 401", code, body)
	}
	if code, body := do(t, "GET", base+projectsURL, fresh, ""); code != 200 {
		t.Fatalf("the key now in admin.key: %d %s", code, body)
	}
}

// TestUpgradeRevokesKeysRotatedAwayBeforeRoles: a database from before
// roles holds every admin key ever configured; the first start on it keeps
// the configured one and the bot's, and revokes the others.
func TestUpgradeRevokesKeysRotatedAwayBeforeRoles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := storetest.URL(t)
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"old-admin-key", "current-admin-key"} {
		sum := sha256.Sum256([]byte(k))
		if _, err := db.Exec(ctx, `INSERT INTO api_keys (key_hash, user_email, created_at) VALUES (?, ?, ?)`,
			hex.EncodeToString(sum[:]), "admin@localhost", time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	base, _, _, _ := startInProcess(t, []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0",
		"SYSTEMSYNC_DATABASE_URL=" + url, "SYSTEMSYNC_API_KEY=current-admin-key"})
	if code, body := do(t, "GET", base+projectsURL, "current-admin-key", ""); code != 200 {
		t.Fatalf("the configured key: %d %s", code, body)
	}
	if code, body := do(t, "GET", base+projectsURL, "old-admin-key", ""); code != 401 {
		t.Fatalf("a key rotated away before the upgrade: %d %s, want 401", code, body)
	}
}

// app runs one `app` command line in this process with env.
func app(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, env)
	return code, out.String(), errb.String()
}

// TestKeysCommandWithTheServerRunning: `app keys` on the database a
// running server uses (its SQLite file, or PostgreSQL with
// SYSTEMSYNC_TEST_DATABASE_URL): the keys it makes work at once, with
// their roles (the Run button included), and the key it revokes is
// refused by the server within controller.RevocationDelay.
func TestKeysCommandWithTheServerRunning(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=the-admin-key",
		"SYSTEMSYNC_POLL_INTERVAL=200ms", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, srvOut, srvErr, _ := startInProcess(t, env)

	code, viewer, errs := app(t, env, "keys", "create", "--email", "vera@example.com")
	if code != 0 || !regexp.MustCompile(`^ss_[0-9a-f]{48}\n$`).MatchString(viewer) {
		t.Fatalf("keys create: exit %d, stdout %q (want the key alone), stderr %s", code, viewer, errs)
	}
	viewer = strings.TrimSpace(viewer)
	if !strings.Contains(errs, "role viewer") {
		t.Fatalf("keys create without --role does not say it made a viewer: %s", errs)
	}
	code, editor, errs := app(t, env, "keys", "create", "--email", "ed@example.com", "--role", "editor")
	if code != 0 {
		t.Fatalf("keys create --role editor: %d %s", code, errs)
	}
	editor = strings.TrimSpace(editor)
	if code, _, errs := app(t, env, "keys", "create", "--email", "x@example.com", "--role", "owner"); code != 2 || !strings.Contains(errs, "want admin, editor or viewer") {
		t.Fatalf("keys create --role owner: %d %s", code, errs)
	}

	code, list, errs := app(t, env, "keys", "list")
	if code != 0 {
		t.Fatalf("keys list: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("keys list (want a header, the admin's, the bot's, vera's and ed's):\n%s", list)
	}
	var veraID string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 6 || f[4] != "-" {
			t.Fatalf("keys list line %q: want ID EMAIL ROLE CREATED - SLOT", l)
		}
		if f[1] == "vera@example.com" {
			veraID = f[0]
			if f[2] != "viewer" {
				t.Fatalf("vera's role: %q", l)
			}
		}
	}
	for _, secret := range []string{viewer, editor, "the-admin-key"} {
		if strings.Contains(list, secret) {
			t.Fatal("keys list tells a key")
		}
	}
	if veraID == "" {
		t.Fatalf("vera's key is not listed:\n%s", list)
	}

	// The viewer reads, and cannot press Run; the editor can.
	for _, p := range []string{projectsURL, "/apis/gitops.k8smgmt.io/v3/projects/default/pipelines/system-sync", "/api/pipelines/default/system-sync/runs"} {
		if code, body := do(t, "GET", base+p, viewer, ""); code != 200 {
			t.Fatalf("viewer GET %s: %d %s", p, code, body)
		}
	}
	if code, body := do(t, "POST", base+"/api/pipelines/default/system-sync/run", viewer, ""); code != 403 || !strings.Contains(body, "role viewer may not run pipelines") {
		t.Fatalf("viewer presses Run: %d %s", code, body)
	}
	if code, body := do(t, "POST", base+"/apis/infra.k8smgmt.io/v3/projects/default/namespaces", viewer, namespaceYAML("by-viewer")); code != 403 {
		t.Fatalf("viewer applies: %d %s", code, body)
	}
	code, body := do(t, "POST", base+"/api/pipelines/default/system-sync/run", editor, "")
	var started struct{ Runs []int64 }
	if code != 202 || json.Unmarshal([]byte(body), &started) != nil || len(started.Runs) == 0 {
		t.Fatalf("editor presses Run: %d %s", code, body)
	}
	code, body = do(t, "GET", base+"/api/pipelines/default/system-sync/runs", viewer, "")
	var runs struct {
		Items []struct {
			ID      int64
			Trigger string
			Status  string
		}
	}
	if code != 200 || json.Unmarshal([]byte(body), &runs) != nil {
		t.Fatalf("runs: %d %s", code, body)
	}
	var manual []int64
	for _, r := range runs.Items {
		if r.Trigger == "Manually Triggered" {
			manual = append(manual, r.ID)
			if r.Status != "Success" {
				t.Fatalf("the editor's run %d: %s", r.ID, r.Status)
			}
		}
	}
	if len(manual) != len(started.Runs) {
		t.Fatalf("manual runs %v, want the editor's %v alone", manual, started.Runs)
	}

	// Revoked by the CLI, refused by the running server within the bound.
	if code, body := do(t, "GET", base+projectsURL, viewer, ""); code != 200 {
		t.Fatalf("viewer before the revocation: %d %s", code, body)
	}
	code, out, errs := app(t, env, "keys", "revoke", veraID)
	if code != 0 || !strings.Contains(out, "revoked API key "+veraID) {
		t.Fatalf("keys revoke: %d %s %s", code, out, errs)
	}
	revoked := time.Now()
	for {
		code, body := do(t, "GET", base+projectsURL, viewer, "")
		if code == 401 {
			break
		}
		if code != 200 || time.Since(revoked) > controller.RevocationDelay+time.Second {
			t.Fatalf("the server still answers the revoked key %v after its revocation: %d %s", time.Since(revoked), code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the server refused the revoked key %v after the CLI revoked it", time.Since(revoked).Round(time.Millisecond))
	if code, body := do(t, "GET", base+projectsURL, editor, ""); code != 200 {
		t.Fatalf("the editor after vera's revocation: %d %s", code, body)
	}
	code, list, _ = app(t, env, "keys", "list")
	if code != 0 || !regexp.MustCompile(veraID+`\s+vera@example.com\s+viewer\s+\S+\s+\d{4}-`).MatchString(list) {
		t.Fatalf("keys list after the revocation:\n%s", list)
	}
	if code, _, errs := app(t, env, "keys", "revoke", "nosuchkey"); code != 1 || !strings.Contains(errs, `no API key "nosuchkey"`) {
		t.Fatalf("keys revoke nosuchkey: %d %s", code, errs)
	}
	for _, secret := range []string{viewer, editor} {
		if strings.Contains(srvOut.String()+srvErr.String(), secret) {
			t.Fatal("the server printed or logged a key")
		}
	}
}

func TestKeysCommandUsage(t *testing.T) {
	env := []string{"SYSTEMSYNC_DATA_DIR=" + t.TempDir(), "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	for _, args := range [][]string{{"keys"}, {"keys", "rotate"}, {"keys", "create"}, {"keys", "revoke"}, {"keys", "list", "extra"}} {
		if code, out, errs := app(t, env, args...); code != 2 || out != "" || !strings.Contains(errs, "app keys create --email E") {
			t.Errorf("%v: exit %d, stdout %q, stderr %s", args, code, out, errs)
		}
	}
	if code, out, _ := app(t, env, "help"); code != 0 || !strings.Contains(out, "app keys create --email E [--role admin|editor|viewer]") {
		t.Errorf("help: %d %s", code, out)
	}
}
