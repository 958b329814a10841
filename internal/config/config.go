// Package config loads the server configuration: one YAML file, every key
// of which can also be set by an environment variable named
// SYSTEMSYNC_<SECTION>_<KEY> (SYSTEMSYNC_LISTEN, SYSTEMSYNC_GITHUB_APP_WEBHOOK_SECRET, …).
// The environment wins over the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"go.yaml.in/yaml/v3"

	"github.com/systemsync/systemsync/internal/expr"
	"github.com/systemsync/systemsync/internal/gitrepo"
)

// EnvPrefix starts every environment variable the server reads.
const EnvPrefix = "SYSTEMSYNC_"

// Config is the whole server configuration.
type Config struct {
	// Listen is the address:port the server listens on.
	Listen string `yaml:"listen"`
	// DataDir holds the SQLite database, cached clones, the generated admin
	// key and, in local mode, the demo repository.
	DataDir string `yaml:"data_dir"`
	// DatabaseURL is sqlite:///path or postgres://…; empty means SQLite in DataDir.
	DatabaseURL string `yaml:"database_url"`
	// APIKey is the embedded controller's admin key; empty means one is
	// generated into DataDir/admin.key on first start.
	APIKey string `yaml:"api_key"`
	// AdminEmail is the user the admin key acts as in the event log.
	AdminEmail string `yaml:"admin_email"`
	// BotEmail is the bot's own user: the event log records its applies
	// under it (so they are not exported back) and it commits as it.
	BotEmail string `yaml:"bot_email"`
	// CommitWindow is how long system changes are gathered into one commit.
	CommitWindow time.Duration `yaml:"commit_window"`
	// ShutdownTimeout bounds how long in-flight requests may finish on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text (slog's key=value lines) or json (one JSON object
	// a line, with time, level and msg).
	LogFormat string `yaml:"log_format"`
	// ReadTimeout bounds reading a whole request, body included (a 25 MiB
	// webhook must arrive within it); WriteTimeout bounds handling it and
	// writing the answer (the events long-poll gets its wait on top, the
	// Run button as long as a job); IdleTimeout bounds an idle keep-alive
	// connection. 0 turns one off.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	// Metrics is where GET /metrics is served.
	Metrics Metrics `yaml:"metrics"`
	// PollInterval is how often plain Git remotes (no webhooks) are
	// fetched; 0 means 2s in local mode and 30s otherwise.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Controller names the controller pipelines sync with: the embedded one
	// unless controller.url is set.
	Controller Controller `yaml:"controller"`
	// Github is go-githubapp's section: v3_api_url, web_url, app.integration_id,
	// app.webhook_secret, app.private_key, and oauth.client_id and
	// oauth.client_secret for the console's "Sign in with GitHub". Unset in
	// local mode.
	Github githubapp.Config `yaml:"github"`
	// Version is the running binary's version, set by the program (never
	// from the file or the environment); GitHub API requests carry it in
	// their user agent, systemsync/<Version>. Empty is "devel".
	Version string `yaml:"-"`
	// CronTick is how often Cron triggers are looked at, set by the
	// program (never from the file or the environment): 0 is once a
	// minute, on the minute, the granularity of cron expressions. Tests
	// tick faster: each tick runs the triggers that match its minute.
	CronTick time.Duration `yaml:"-"`
	// Web is the console's section.
	Web Web `yaml:"web"`
	// Remotes is the trust boundary for Git remotes outside local mode.
	Remotes Remotes `yaml:"remotes"`
	// Organization is the organization's name: organization.name in
	// pipeline expressions ("default" when unset).
	Organization string `yaml:"organization"`
	// Variables are the pipeline variables of the organization and of
	// each project, the two broadest of the five scopes (then the
	// pipeline's, the trigger's and the stage's). File only.
	Variables Variables `yaml:"variables"`
}

// Variables is the variables section: the organization's variables and
// each project's, {name, type, value} as pipelines write them (value a
// CEL expression, see internal/expr). It is written either as the
// organization's list alone or as a mapping:
//
//	variables:
//	  organization:
//	  - {name: region, type: String, value: '"eu-west-1"'}
//	  projects:
//	    demo:
//	    - {name: region, type: String, value: '"us-east-1"'}
//
// A Secret-typed variable may hold its value here (never in Git); a run
// shows its name only.
type Variables struct {
	Organization []expr.Variable            `yaml:"organization"`
	Projects     map[string][]expr.Variable `yaml:"projects"`
}

// UnmarshalYAML reads the section in either of its forms.
func (v *Variables) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		v.Projects = nil
		return n.Decode(&v.Organization)
	}
	type plain Variables
	var p plain
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "organization" && k != "projects" {
				return fmt.Errorf("line %d: variables.%s: unknown key: want organization (a list) and projects (a list per project)", n.Content[i].Line, k)
			}
		}
	}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*v = Variables(p)
	return nil
}

// check compiles every variable: a bad one is an error naming it.
func (v Variables) check() []error {
	var errs []error
	one := func(field string, x expr.Variable) {
		if x.Name == "" {
			errs = append(errs, fmt.Errorf("%s: a variable needs a name", field))
			return
		}
		if _, err := expr.Value(x); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", field, x.Name, err))
		}
	}
	for i, x := range v.Organization {
		one(fmt.Sprintf("variables.organization[%d]", i), x)
	}
	for _, p := range slices.Sorted(maps.Keys(v.Projects)) {
		for i, x := range v.Projects[p] {
			one(fmt.Sprintf("variables.projects.%s[%d]", p, i), x)
		}
	}
	return errs
}

// Remotes is the remotes section. Outside local mode the bot fetches from
// and pushes to only the configured GitHub (github.web_url's scheme, host
// and port) and the remotes Allow matches; in local mode every remote is
// allowed. gitrepo.Policy says exactly how entries match.
type Remotes struct {
	// Allow is a list of URL prefixes (http, https or file) of other
	// remotes the bot may reach: same scheme, host and port, and a path
	// that is the prefix's or continues it after a "/". The environment
	// variable SYSTEMSYNC_REMOTES_ALLOW holds it comma-separated.
	Allow []string `yaml:"allow"`
}

// Web is the web console's section.
type Web struct {
	// URL is where people reach the bot (https://systemsync.example.com):
	// the base of the OAuth callback and of the webhook URL the console
	// shows; its scheme https makes session cookies Secure. Empty: the
	// address the server listens on.
	URL string `yaml:"url"`
	// Admins are GitHub logins or emails that are admins in the console
	// whatever /users says (SYSTEMSYNC_WEB_ADMINS: comma-separated).
	Admins []string `yaml:"admins"`
	// DefaultRole is the role of everyone else signed in with GitHub until
	// an admin gives another: viewer (the default), editor or admin. Only
	// people GitHub says read a private repository an installation of the
	// app covers get it; none gives it to nobody (only web.admins and the
	// people an admin gave a role on /users sign in).
	DefaultRole string `yaml:"default_role"`
	// SessionLifetime is how long a sign-in lasts (12h by default).
	SessionLifetime time.Duration `yaml:"session_lifetime"`
}

// Controller is the controller section.
type Controller struct {
	// URL is a remote Rafay-compatible controller (scheme://host[:port]);
	// empty means the embedded controller.
	URL string `yaml:"url"`
	// APIKey is the key the bot uses there (sent as X-API-KEY); required with URL.
	APIKey string `yaml:"api_key"`
	// Follow is how the bot learns of changes made in the system: auto
	// (the event log when the controller serves one, else list), events
	// (long-poll GET /apis/system.k8smgmt.io/v3/events) or list (list
	// every resource each ListInterval and compare).
	Follow string `yaml:"follow"`
	// ListInterval is how often follow=list lists the system; 0 means 2s
	// in local mode and 30s otherwise.
	ListInterval time.Duration `yaml:"list_interval"`
}

// Metrics is the metrics section.
type Metrics struct {
	// Listen, when set (address:port), serves /metrics there alone, and the
	// main listener does not serve it; empty serves it on the main listener.
	Listen string `yaml:"listen"`
}

// Log formats (Config.LogFormat).
const (
	LogText = "text"
	LogJSON = "json"
)

// Ways to follow the controller (Controller.Follow).
const (
	FollowAuto   = "auto"
	FollowEvents = "events"
	FollowList   = "list"
)

// Defaults returns the configuration of local mode.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "./var",
		AdminEmail:      "admin@localhost",
		BotEmail:        "systemsync-bot@localhost",
		CommitWindow:    2 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		LogLevel:        "info",
		LogFormat:       LogText,
		ReadTimeout:     60 * time.Second,
		WriteTimeout:    60 * time.Second,
		IdleTimeout:     120 * time.Second,
		Controller:      Controller{Follow: FollowAuto},
		Web:             Web{DefaultRole: "viewer", SessionLifetime: 12 * time.Hour},
		Organization:    "default",
	}
}

// Load reads the file at path (none when path is empty), then the
// environment, over the defaults, and checks the result. Unknown keys in the
// file are errors naming their line.
func Load(path string, environ []string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) /* an empty file */ {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	if err := fromEnv(reflect.ValueOf(&cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"), env); err != nil {
		return Config{}, err
	}
	if cfg.DatabaseURL == "" {
		abs, err := filepath.Abs(filepath.Join(cfg.DataDir, "systemsync.db"))
		if err != nil {
			return Config{}, fmt.Errorf("data_dir: %w", err)
		}
		cfg.DatabaseURL = "sqlite://" + abs
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 30 * time.Second
		if cfg.LocalMode() {
			cfg.PollInterval = 2 * time.Second
		}
	}
	if cfg.Controller.ListInterval == 0 {
		cfg.Controller.ListInterval = 30 * time.Second
		if cfg.LocalMode() {
			cfg.Controller.ListInterval = 2 * time.Second
		}
	}
	if err := cfg.check(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LocalMode reports whether the bot runs without a GitHub App: the
// embedded controller and a demo repository polled for pushes.
func (c Config) LocalMode() bool { return !c.GitHubConfigured() }

// GitHubConfigured reports whether the github section names an app.
func (c Config) GitHubConfigured() bool { return c.Github.App.IntegrationID != 0 }

// DefaultGitHubWebURL is github.web_url when a GitHub App is configured
// without one.
const DefaultGitHubWebURL = "https://github.com/"

// RemotePolicy is the trust boundary the configuration sets for Git
// remotes: in local mode every remote is allowed; otherwise the configured
// GitHub (github.web_url, DefaultGitHubWebURL when empty) and the prefixes
// of remotes.allow. A malformed remotes.allow entry is an error naming it,
// in local mode too.
func (c Config) RemotePolicy() (*gitrepo.Policy, error) {
	web := c.Github.WebURL
	if web == "" && c.GitHubConfigured() {
		web = DefaultGitHubWebURL
	}
	p, err := gitrepo.NewPolicy(web, c.Remotes.Allow)
	if err != nil {
		return nil, err
	}
	if c.LocalMode() {
		return gitrepo.AllowAll(), nil
	}
	return p, nil
}

func (c Config) check() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen (SYSTEMSYNC_LISTEN) is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir (SYSTEMSYNC_DATA_DIR) is empty"))
	}
	if c.GitHubConfigured() {
		if c.Github.App.WebhookSecret == "" {
			errs = append(errs, errors.New("github.app.webhook_secret (SYSTEMSYNC_GITHUB_APP_WEBHOOK_SECRET) is required with github.app.integration_id"))
		}
		if c.Github.App.PrivateKey == "" {
			errs = append(errs, errors.New("github.app.private_key (SYSTEMSYNC_GITHUB_APP_PRIVATE_KEY) is required with github.app.integration_id"))
		}
	}
	if c.Controller.URL != "" && c.Controller.APIKey == "" {
		errs = append(errs, errors.New("controller.api_key (SYSTEMSYNC_CONTROLLER_API_KEY) is required with controller.url"))
	}
	switch c.Controller.Follow {
	case FollowAuto, FollowEvents, FollowList:
	default:
		errs = append(errs, fmt.Errorf("controller.follow (SYSTEMSYNC_CONTROLLER_FOLLOW) is %q: want auto, events or list", c.Controller.Follow))
	}
	if _, err := c.RemotePolicy(); err != nil {
		errs = append(errs, fmt.Errorf("%w (SYSTEMSYNC_REMOTES_ALLOW, comma-separated)", err))
	}
	switch c.Web.DefaultRole {
	case "viewer", "editor", "admin", "none":
	default:
		errs = append(errs, fmt.Errorf("web.default_role (SYSTEMSYNC_WEB_DEFAULT_ROLE) is %q: want viewer, editor, admin or none", c.Web.DefaultRole))
	}
	if c.Web.SessionLifetime <= 0 {
		errs = append(errs, fmt.Errorf("web.session_lifetime (SYSTEMSYNC_WEB_SESSION_LIFETIME) is %v: want a duration above 0, such as 12h", c.Web.SessionLifetime))
	}
	if c.Web.URL != "" {
		if u, err := url.Parse(c.Web.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("web.url (SYSTEMSYNC_WEB_URL) is %q: want http(s)://host[:port]", c.Web.URL))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level (SYSTEMSYNC_LOG_LEVEL) is %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case LogText, LogJSON:
	default:
		errs = append(errs, fmt.Errorf("log_format (SYSTEMSYNC_LOG_FORMAT) is %q: want text or json", c.LogFormat))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"read_timeout", c.ReadTimeout}, {"write_timeout", c.WriteTimeout}, {"idle_timeout", c.IdleTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s (SYSTEMSYNC_%s) is %v: want a duration ≥ 0", d.key, strings.ToUpper(d.key), d.v))
		}
	}
	errs = append(errs, c.Variables.check()...)
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return nil
}

// fromEnv sets each field from the variable named by its yaml path.
func fromEnv(v reflect.Value, prefix string, env map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := fromEnv(fv, name, env); err != nil {
				return err
			}
			continue
		}
		raw, ok := env[name]
		if !ok {
			continue
		}
		switch {
		case f.Type == reflect.TypeOf(time.Duration(0)):
			d, err := time.ParseDuration(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 30s", name, raw)
			}
			fv.SetInt(int64(d))
		case f.Type.Kind() == reflect.String:
			fv.SetString(raw)
		case f.Type == reflect.TypeOf([]string(nil)):
			var list []string
			for _, item := range strings.Split(raw, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			fv.Set(reflect.ValueOf(list))
		case f.Type.Kind() == reflect.Int64, f.Type.Kind() == reflect.Int:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a whole number", name, raw)
			}
			fv.SetInt(n)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			var list []string
			for _, item := range strings.Split(raw, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			fv.Set(reflect.ValueOf(list))
		case f.Type.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", name, raw)
			}
			fv.SetBool(b)
		default:
			return fmt.Errorf("%s: cannot be set from the environment", name)
		}
	}
	return nil
}
