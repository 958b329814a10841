package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLocalModeDefaults(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.DataDir != "./var" {
		t.Fatalf("defaults: listen %q data_dir %q", cfg.Listen, cfg.DataDir)
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:///") || !strings.HasSuffix(cfg.DatabaseURL, "/var/systemsync.db") {
		t.Fatalf("default database URL %q, want sqlite:///…/var/systemsync.db", cfg.DatabaseURL)
	}
	if cfg.GitHubConfigured() {
		t.Fatal("local mode reports a GitHub app")
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(path, []byte(`listen: 0.0.0.0:9000
data_dir: /srv/ss
shutdown_timeout: 5s
github:
  v3_api_url: https://ghe.example.com/api/v3/
  app:
    integration_id: 12
    webhook_secret: from-file
    private_key: key
`), 0o600)
	cfg, err := Load(path, []string{
		"SYSTEMSYNC_LISTEN=127.0.0.1:7000",
		"SYSTEMSYNC_GITHUB_APP_WEBHOOK_SECRET=from-env",
		"SYSTEMSYNC_GITHUB_APP_INTEGRATION_ID=42",
		"SYSTEMSYNC_DATABASE_URL=postgres://u@h/db",
		"OTHER=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7000" || cfg.DataDir != "/srv/ss" || cfg.ShutdownTimeout != 5*time.Second {
		t.Fatalf("got listen %q data_dir %q timeout %v", cfg.Listen, cfg.DataDir, cfg.ShutdownTimeout)
	}
	if cfg.Github.App.WebhookSecret != "from-env" || cfg.Github.App.IntegrationID != 42 || cfg.Github.V3APIURL != "https://ghe.example.com/api/v3/" {
		t.Fatalf("github section %+v", cfg.Github)
	}
	if cfg.DatabaseURL != "postgres://u@h/db" {
		t.Fatalf("database URL %q", cfg.DatabaseURL)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(path, []byte("listen: x\nlisten_addr: y\n"), 0o600)
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "listen_addr") {
		t.Fatalf("unknown key error = %v, want line 2 and the key", err)
	}
	if _, err := Load("", []string{"SYSTEMSYNC_GITHUB_APP_INTEGRATION_ID=abc"}); err == nil || !strings.Contains(err.Error(), "SYSTEMSYNC_GITHUB_APP_INTEGRATION_ID") {
		t.Fatalf("bad int error = %v", err)
	}
	if _, err := Load("", []string{"SYSTEMSYNC_GITHUB_APP_INTEGRATION_ID=5"}); err == nil || !strings.Contains(err.Error(), "SYSTEMSYNC_GITHUB_APP_WEBHOOK_SECRET") {
		t.Fatalf("missing secret error = %v", err)
	}
}

func TestControllerSection(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Controller.URL != "" || cfg.Controller.Follow != FollowAuto || cfg.Controller.ListInterval != 2*time.Second {
		t.Fatalf("local mode controller section %+v, want the embedded one, auto, 2s", cfg.Controller)
	}
	path := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(path, []byte("controller:\n  url: https://console.example.com\n  follow: list\n"), 0o600)
	cfg, err = Load(path, []string{"SYSTEMSYNC_CONTROLLER_API_KEY=k", "SYSTEMSYNC_CONTROLLER_LIST_INTERVAL=1m",
		"SYSTEMSYNC_GITHUB_APP_INTEGRATION_ID=5", "SYSTEMSYNC_GITHUB_APP_WEBHOOK_SECRET=s", "SYSTEMSYNC_GITHUB_APP_PRIVATE_KEY=p"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Controller != (Controller{URL: "https://console.example.com", APIKey: "k", Follow: FollowList, ListInterval: time.Minute}) {
		t.Fatalf("controller section %+v", cfg.Controller)
	}
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), "SYSTEMSYNC_CONTROLLER_API_KEY") {
		t.Fatalf("url without key: %v", err)
	}
	if _, err := Load("", []string{"SYSTEMSYNC_CONTROLLER_FOLLOW=sometimes"}); err == nil || !strings.Contains(err.Error(), "SYSTEMSYNC_CONTROLLER_FOLLOW") {
		t.Fatalf("bad follow: %v", err)
	}
}

func TestWebSection(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Web.URL != "" || cfg.Web.DefaultRole != "viewer" || cfg.Web.SessionLifetime != 12*time.Hour || cfg.Web.Admins != nil {
		t.Fatalf("local mode web section %+v, want no URL, viewer, 12h, no admins", cfg.Web)
	}
	path := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(path, []byte("web:\n  url: https://sync.example.com\n  admins: [octocat]\n  default_role: editor\n"), 0o600)
	cfg, err = Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Web.URL != "https://sync.example.com" || !reflect.DeepEqual(cfg.Web.Admins, []string{"octocat"}) || cfg.Web.DefaultRole != "editor" {
		t.Fatalf("web section from the file: %+v", cfg.Web)
	}
	cfg, err = Load(path, []string{"SYSTEMSYNC_WEB_ADMINS=alice, bob@example.com,", "SYSTEMSYNC_WEB_SESSION_LIFETIME=1h"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Web.Admins, []string{"alice", "bob@example.com"}) || cfg.Web.SessionLifetime != time.Hour {
		t.Fatalf("web section from the environment: %+v", cfg.Web)
	}
	for env, key := range map[string]string{
		"SYSTEMSYNC_WEB_DEFAULT_ROLE=owner":   "SYSTEMSYNC_WEB_DEFAULT_ROLE",
		"SYSTEMSYNC_WEB_URL=sync.example.com": "SYSTEMSYNC_WEB_URL",
		"SYSTEMSYNC_WEB_SESSION_LIFETIME=0s":  "SYSTEMSYNC_WEB_SESSION_LIFETIME",
	} {
		if _, err := Load("", []string{env}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want an error naming %s", env, err, key)
		}
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	local, err := Load("../../config/local.yml", nil)
	if err != nil {
		t.Fatalf("config/local.yml: %v", err)
	}
	defaults, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", local) != fmt.Sprintf("%+v", defaults) { // nil and empty lists alike
		t.Fatalf("config/local.yml is not local mode as run with no file:\n%+v\n%+v", local, defaults)
	}
	gh, err := Load("../../config/github.example.yml", nil)
	if err != nil {
		t.Fatalf("config/github.example.yml: %v", err)
	}
	if !gh.GitHubConfigured() || gh.Controller.Follow != FollowAuto {
		t.Fatalf("config/github.example.yml: %+v", gh)
	}
}

func TestOperableKeys(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogFormat != LogText || cfg.ReadTimeout != time.Minute || cfg.WriteTimeout != time.Minute ||
		cfg.IdleTimeout != 2*time.Minute || cfg.Metrics.Listen != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = Load("", []string{"SYSTEMSYNC_LOG_FORMAT=json", "SYSTEMSYNC_READ_TIMEOUT=5s", "SYSTEMSYNC_WRITE_TIMEOUT=7s",
		"SYSTEMSYNC_IDLE_TIMEOUT=0s", "SYSTEMSYNC_METRICS_LISTEN=127.0.0.1:9090"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogFormat != LogJSON || cfg.ReadTimeout != 5*time.Second || cfg.WriteTimeout != 7*time.Second ||
		cfg.IdleTimeout != 0 || cfg.Metrics.Listen != "127.0.0.1:9090" {
		t.Fatalf("from the environment: %+v", cfg)
	}
	for env, key := range map[string]string{"SYSTEMSYNC_LOG_FORMAT=logfmt": "SYSTEMSYNC_LOG_FORMAT", "SYSTEMSYNC_WRITE_TIMEOUT=-1s": "SYSTEMSYNC_WRITE_TIMEOUT"} {
		if _, err := Load("", []string{env}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v", env, err)
		}
	}
}

func TestRemotesAllow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(path, []byte("remotes:\n  allow:\n  - https://git.example.org/team\n"), 0o600)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Remotes.Allow, ",") != "https://git.example.org/team" {
		t.Fatalf("remotes.allow from the file: %q", cfg.Remotes.Allow)
	}
	gh := []string{"SYSTEMSYNC_GITHUB_APP_INTEGRATION_ID=5", "SYSTEMSYNC_GITHUB_APP_WEBHOOK_SECRET=s", "SYSTEMSYNC_GITHUB_APP_PRIVATE_KEY=k"}
	cfg, err = Load(path, append(gh, "SYSTEMSYNC_REMOTES_ALLOW= https://a.example.org/x ,,file:///srv/git"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Remotes.Allow, ",") != "https://a.example.org/x,file:///srv/git" {
		t.Fatalf("remotes.allow from the environment: %q", cfg.Remotes.Allow)
	}
	// Outside local mode: GitHub (the default web URL) and the list, nothing else.
	p, err := cfg.RemotePolicy()
	if err != nil {
		t.Fatal(err)
	}
	for remote, ok := range map[string]bool{
		"https://github.com/acme/specs.git":      true,
		"https://a.example.org/x/specs.git":      true,
		"file:///srv/git/specs.git":              true,
		"/srv/git/specs.git":                     true,
		"https://git.example.org/team/x.git":     false, // the file's entry, replaced by the environment's
		"file:///var/lib/other.git":              false,
		"http://127.0.0.1:8080/acme/specs.git":   false,
		"https://github.com.evil.com/acme/x.git": false,
	} {
		if err := p.Check(remote); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", remote, err, ok)
		}
	}
	// Local mode allows every remote, but a malformed entry is an error there too.
	local, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := local.RemotePolicy(); err != nil || p.Check("file:///var/lib/other.git") != nil {
		t.Fatalf("local mode's policy: %v", err)
	}
	if _, err := Load("", []string{"SYSTEMSYNC_REMOTES_ALLOW=https://bob:pw@git.example.org/"}); err == nil ||
		!strings.Contains(err.Error(), "remotes.allow[0]") || !strings.Contains(err.Error(), "SYSTEMSYNC_REMOTES_ALLOW") || strings.Contains(err.Error(), "pw") {
		t.Fatalf("an entry with credentials: %v", err)
	}
}
