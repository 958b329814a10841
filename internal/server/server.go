// Package server wires the bot together: database, embedded controller,
// Git cache, pipeline runner, the job queue (Cron triggers' ticks, and
// with a GitHub App its webhook endpoint's deliveries), the poller for
// plain Git remotes, and the HTTP routes. cmd/app runs it; end-to-end
// tests run it the same way.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/githubflow"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
	"github.com/systemsync/systemsync/internal/web"
)

// DefaultProject is the project every new controller has.
const DefaultProject = "default"

// Server is a configured bot, listening but not yet serving.
type Server struct {
	Config config.Config
	Log    *slog.Logger
	// BaseURL is where the server listens, http://host:port.
	BaseURL string
	// AdminKeySource says where the admin key came from (a file path, or the environment).
	AdminKeySource string

	DB       *store.DB
	Store    *controller.Store
	Keys     *controller.Keys
	Runner   *pipeline.Runner
	Queue    *jobs.Queue // GitHub deliveries (GitHub mode) and Cron ticks
	Poller   *pipeline.Poller
	Cron     *pipeline.Cron
	Follower *pipeline.Follower
	// Metrics holds the server's Prometheus series (its own registry).
	Metrics *metrics.Metrics
	Console *web.Console

	ln        net.Listener
	metricsLn net.Listener // metrics.listen's, when set
	handler   http.Handler
	api       *controller.API
	git       *gitrepo.Manager
	proc      *store.Process
}

// heartbeat is how often the process renews its lease in the processes
// table; a replica's runs are failed as interrupted LeaseBeats heartbeats
// after its last one (at once when its data dir's lock is found free).
const heartbeat = 5 * time.Second

// manualRunTimeout is how long the Run button's request may take: as long
// as a webhook's job (jobs.Options.JobTimeout's default).
const manualRunTimeout = 30 * time.Minute

// New opens everything the configuration names and binds the listener.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{Config: cfg, Log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if s.DB, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if err := s.DB.Migrate(ctx); err != nil {
		return nil, err
	}
	// Recorded before anything can start a run: the runs this process
	// starts are its own, and no other process fails them while it lives.
	if s.proc, err = s.DB.StartProcess(ctx, cfg.DataDir, heartbeat); err != nil {
		return nil, err
	}
	s.Metrics = metrics.New()
	s.Keys = controller.NewKeys(s.DB)
	source, err := adminKey(ctx, cfg, s.Keys, log)
	if err != nil {
		return nil, err
	}
	s.AdminKeySource = source
	botKey, err := fileKey(ctx, filepath.Join(cfg.DataDir, "bot.key"), controller.SlotBot, cfg.BotEmail, s.Keys, log)
	if err != nil {
		return nil, err
	}
	// Keys from before roles were the admin's and the bot's: those not
	// claimed again just now were rotated away, and stay so.
	stale, err := s.Keys.RevokeSlot(ctx, controller.SlotLegacy)
	if err != nil {
		return nil, err
	}
	for _, k := range stale {
		log.Info("API key from before roles revoked: it is neither the admin's nor the bot's key now", "id", k.ID, "email", k.Email)
	}
	s.Store = controller.NewStore(s.DB)
	if err := ensureProject(ctx, s.Store, DefaultProject, cfg.AdminEmail); err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	s.BaseURL = "http://" + s.ln.Addr().String()

	// The bot reaches its embedded controller over HTTP, as it would a remote one.
	system := controllerapi.New(s.BaseURL, botKey)
	if cfg.Controller.URL != "" {
		system = controllerapi.New(cfg.Controller.URL, cfg.Controller.APIKey)
	}
	follow, err := followMode(ctx, cfg.Controller, system)
	if err != nil {
		return nil, err
	}
	remotes, err := cfg.RemotePolicy()
	if err != nil {
		return nil, err
	}
	s.git = gitrepo.NewManager(filepath.Join(cfg.DataDir, "git"), log, remotes)
	runs := pipeline.NewRuns(s.DB)
	runs.Owner, runs.Metrics = s.proc.ID, s.Metrics
	exprs, err := pipeline.NewExpressions(cfg.Organization, cfg.Variables.Organization, cfg.Variables.Projects)
	if err != nil {
		return nil, err
	}
	bot := pipeline.Identity{Name: "System Sync", Email: cfg.BotEmail}
	s.Runner = &pipeline.Runner{DB: s.DB, Git: s.git, Loader: reconcile.NewLoader(), System: system, Runs: runs, Log: log, Metrics: s.Metrics,
		Bot: bot, Expressions: exprs}
	if cfg.Controller.URL == "" {
		// The embedded controller's sealers seal and unseal, in this
		// process: their private keys never leave it.
		s.Runner.Loader.Keys = s.Store.Sealers()
	}
	if follow == pipeline.FollowEvents {
		s.Runner.Snapshot = reconcile.NewSnapshot() // it follows the event log
	}
	s.Poller = &pipeline.Poller{Runner: s.Runner, Interval: cfg.PollInterval, Log: log}
	s.Follower = &pipeline.Follower{Runner: s.Runner, Mode: follow, ListInterval: cfg.Controller.ListInterval,
		Window: cfg.CommitWindow, Log: log}
	if cfg.Controller.URL != "" {
		log.Info("pipelines sync with a remote controller", "controller", cfg.Controller.URL, "follow", follow)
	}
	syncNow := func(ctx context.Context, project, name string) ([]int64, error) {
		return s.Runner.SyncNow(ctx, project, name)
	}

	mux := http.NewServeMux()
	s.api = controller.NewAPI(s.Store, s.Keys, log)
	mux.Handle("/apis/", s.api)
	runAPI := web.NewAPI(runs, s.Keys, syncNow, log)
	runAPI.SetResolve(s.Runner.Resolve)
	runAPI.Register(mux)
	if s.Console, err = web.NewConsole(web.Options{
		DB: s.DB, Store: s.Store, Keys: s.Keys, Runs: runs, Sync: syncNow, Resolve: s.Runner.Resolve,
		Stages: func(ctx context.Context) ([]pipeline.Stage, error) {
			stages, _, err := s.Runner.LoadStages(ctx)
			return stages, err
		},
		Web: cfg.Web, BaseURL: s.BaseURL, LocalMode: cfg.LocalMode(), AdminKeyFile: s.AdminKeySource, PollInterval: cfg.PollInterval,
		GitHubWebURL: cfg.Github.WebURL, GitHubAPIURL: cfg.Github.V3APIURL,
		OAuthClientID: cfg.Github.OAuth.ClientID, OAuthClientSecret: cfg.Github.OAuth.ClientSecret, Log: log,
	}); err != nil {
		return nil, err
	}
	s.Console.Register(mux) // every path not routed above: pages, with sessions and the cross-origin check
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := s.DB.PingContext(pctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database unreachable")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if cfg.Metrics.Listen == "" {
		mux.Handle("GET /metrics", s.Metrics.Handler())
	} else if s.metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s (metrics.listen): %w", cfg.Metrics.Listen, err)
	}

	// One job queue in every mode: the Cron triggers' ticks (River's
	// periodic job, once across replicas) and, with a GitHub App, the
	// webhooks' deliveries.
	var gh *githubflow.App
	var deliveries jobs.Handler // none outside GitHub mode
	if cfg.GitHubConfigured() {
		if gh, err = githubflow.New(githubflow.Config{GitHub: cfg.Github, Version: cfg.Version, Metrics: s.Metrics,
			RunURL: func(id int64) string { return fmt.Sprintf("%s/runs/%d", s.Console.URL(), id) }}, s.Runner, s.DB, log); err != nil {
			return nil, err
		}
		deliveries = gh
	}
	s.Cron = &pipeline.Cron{Runner: s.Runner, Log: log}
	if s.Queue, err = jobs.Open(ctx, s.DB, deliveries, log, jobs.Options{Metrics: s.Metrics, Cron: s.Cron, Tick: cfg.CronTick}); err != nil {
		return nil, err
	}
	if gh != nil {
		mux.Handle("POST "+githubflow.Route, gh.Webhook(cfg.Github.App.WebhookSecret, s.Queue))
		// Every fetch and push asks for its remote's own credentials:
		// installation tokens go to GitHub's repositories only.
		s.Runner.Credentials = gh.Credentials
		s.Runner.Open = gh.OpenPullRequest
		// A change in the system plans again the open pull requests it makes stale.
		queue := s.Queue
		s.Follower.Changed = func(ctx context.Context, changes []pipeline.Change) {
			if err := gh.PlansMoved(ctx, queue, changes); err != nil && ctx.Err() == nil {
				log.Warn("stale pull request plans not planned again", "err", err)
			}
		}
		s.Poller.Webhooked = gh.OnGitHub
		s.Console.UsePeople(gh) // who may sign in with GitHub, asked of GitHub
	} else if cfg.Controller.URL == "" {
		// Local mode's demo lives in the embedded controller; a remote
		// controller is never written to unasked.
		if err := seedLocal(ctx, s); err != nil {
			return nil, err
		}
	}
	if cfg.Controller.URL == "" && follow == pipeline.FollowEvents {
		// The embedded controller's head, read before the server answers
		// (and after local mode's seed):
		// every change made through it afterwards is exported.
		head, err := s.Store.Head(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.Follower.StartAt(ctx, head); err != nil {
			return nil, fmt.Errorf("follower start position: %w", err)
		}
	}
	s.handler = s.longRequests(mux)
	return s, nil
}

// MetricsAddr is where /metrics is served: metrics.listen's address, or
// the main one.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn != nil {
		return s.metricsLn.Addr()
	}
	return s.ln.Addr()
}

// longRequests gives the two routes that hold a request open past the
// server's timeouts their time, on that request alone: the events
// long-poll its wait (up to controller.MaxWait) and the Run button a job's
// time, on top of write_timeout. Both deadlines move: a read deadline that
// passes while the handler runs would cancel the request's context.
func (s *Server) longRequests(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var extra time.Duration
		switch _, pattern := mux.Handler(r); {
		case r.Method == http.MethodGet && r.URL.Path == "/apis/system.k8smgmt.io/v3/events":
			if d, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil && d > 0 {
				extra = min(d, controller.MaxWait)
			}
		case pattern == "POST /api/pipelines/{project}/{name}/run":
			extra = manualRunTimeout
		}
		if extra > 0 {
			rc := http.NewResponseController(w)
			if s.Config.ReadTimeout > 0 {
				_ = rc.SetReadDeadline(time.Now().Add(s.Config.ReadTimeout + extra))
			}
			if s.Config.WriteTimeout > 0 {
				_ = rc.SetWriteDeadline(time.Now().Add(s.Config.WriteTimeout + extra))
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, with the job queue and the poller in the
// background, then shuts down gracefully: no new connections, in-flight
// requests and running jobs finish, then the database closes.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	headerTimeout := 10 * time.Second
	if t := s.Config.ReadTimeout; t > 0 && t < headerTimeout {
		headerTimeout = t
	}
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: headerTimeout,
			ReadTimeout: s.Config.ReadTimeout, WriteTimeout: s.Config.WriteTimeout, IdleTimeout: s.Config.IdleTimeout,
			ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
	}
	srv := newServer(s.handler)
	srv.RegisterOnShutdown(s.api.Drain)
	// Runs left In Progress by processes that are gone fail before this
	// one starts any, and again after each heartbeat (a replica's lease
	// runs out); the heartbeat goes on until every job and request ended.
	s.failInterrupted(ctx)
	beat, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		s.proc.Run(beat, s.failInterrupted, func(err error) { s.Log.Warn("heartbeat failed", "err", err) })
	}()
	defer func() { stopBeat(); <-beatDone }()
	var metricsSrv *http.Server
	if s.metricsLn != nil {
		metricsSrv = newServer(s.Metrics.Handler())
		go func() {
			if err := metricsSrv.Serve(s.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.Log.Error("metrics listener stopped", "addr", s.metricsLn.Addr().String(), "err", err)
			}
		}()
	}
	srv.RegisterOnShutdown(s.Console.Drain)
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	if s.Queue != nil {
		if err := s.Queue.Start(bg); err != nil {
			return fmt.Errorf("start job queue: %w", err)
		}
	}
	pollDone := make(chan struct{})
	go func() { defer close(pollDone); s.Poller.Run(bg) }()
	followDone := make(chan struct{})
	go func() { defer close(followDone); s.Follower.Run(bg) }()
	cleanDone := make(chan struct{})
	go func() { defer close(cleanDone); s.Console.CleanSessions(bg, 10*time.Minute) }()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	s.Log.Info("serving", "addr", s.BaseURL, "data_dir", s.Config.DataDir, "local_mode", s.Config.LocalMode())
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	s.Log.Info("shutting down: finishing in-flight requests and jobs", "timeout", s.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	// The follower and poller stop first; running jobs finish while the
	// API they call still answers; then the HTTP server drains.
	stopBG()
	<-pollDone
	<-followDone
	<-cleanDone
	var err error
	if s.Queue != nil {
		err = s.Queue.Stop(sctx)
		s.Queue = nil
	}
	// Runs the Run button started finish while the API they call answers.
	err = errors.Join(err, s.Console.Wait(sctx), srv.Shutdown(sctx))
	if metricsSrv != nil {
		err = errors.Join(err, metricsSrv.Shutdown(sctx))
	}
	if serveErr == nil {
		if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
			serveErr = e
		}
	}
	s.Log.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(fmt.Errorf("serve: %w", serveErr), err)
	}
	return err
}

// failInterrupted fails the runs of processes that are gone.
func (s *Server) failInterrupted(ctx context.Context) {
	n, err := s.Runner.Runs.FailInterrupted(ctx)
	if err != nil && ctx.Err() == nil {
		s.Log.Warn("marking interrupted runs failed", "err", err)
	}
	if n > 0 {
		s.Log.Warn("runs left In Progress by a process that is gone marked Failed", "runs", n, "message", pipeline.InterruptedMessage)
	}
}

func (s *Server) close() {
	if s.Queue != nil {
		s.Queue.Close()
	}
	if s.ln != nil {
		s.ln.Close()
	}
	if s.metricsLn != nil {
		s.metricsLn.Close()
	}
	if s.proc != nil && s.DB != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.proc.Stop(ctx); err != nil {
			s.Log.Warn("giving the process lease back", "err", err)
		}
		cancel()
	}
	if s.git != nil {
		s.git.Close()
	}
	if s.DB != nil {
		s.DB.Close()
	}
}

// followMode decides how the follower learns of system changes: as
// configured, or (auto) the event log when the controller serves one and
// listing when it does not. The embedded controller always has one.
func followMode(ctx context.Context, c config.Controller, system *controllerapi.Client) (string, error) {
	switch {
	case c.Follow == config.FollowList:
		return pipeline.FollowList, nil
	case c.Follow == config.FollowEvents || c.URL == "":
		return pipeline.FollowEvents, nil
	}
	ok, err := system.HasEventLog(ctx)
	if err != nil {
		return "", fmt.Errorf("controller %s: %w (set controller.follow to events or list to start without asking)", c.URL, err)
	}
	if ok {
		return pipeline.FollowEvents, nil
	}
	return pipeline.FollowList, nil
}

// NewLogger returns the structured logger the server uses: slog's text
// handler, or its JSON handler when format is config.LogJSON (one object a
// line, with time, level and msg).
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// adminKey registers the admin key, from the configuration or from
// DataDir/admin.key (generated, mode 0600, on first start), in the admin
// slot, which revokes the admin key before it; and says where the key
// came from. The key itself is never printed or logged. A configured key
// that was revoked is an error: it never becomes valid again.
func adminKey(ctx context.Context, cfg config.Config, keys *controller.Keys, log *slog.Logger) (source string, err error) {
	if cfg.APIKey != "" {
		_, old, err := keys.Claim(ctx, controller.SlotAdmin, cfg.APIKey, cfg.AdminEmail, access.Admin)
		if errors.Is(err, controller.ErrKeyRevoked) {
			return "", fmt.Errorf("api_key (SYSTEMSYNC_API_KEY) is a revoked key: configure a new one: %w", err)
		}
		if err != nil {
			return "", err
		}
		logRotation(log, controller.SlotAdmin, old)
		return "from SYSTEMSYNC_API_KEY", nil
	}
	path, err := filepath.Abs(filepath.Join(cfg.DataDir, "admin.key"))
	if err != nil {
		return "", err
	}
	if data, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(data)) == "" {
		return "", fmt.Errorf("admin key file %s is empty: delete it to generate a new key", path)
	}
	if _, err := fileKey(ctx, path, controller.SlotAdmin, cfg.AdminEmail, keys, log); err != nil {
		return "", err
	}
	return path, nil
}

// fileKey registers the key kept in path (generated, mode 0600, when
// missing, or when the key it holds was revoked) in slot for the user
// email as an admin, revoking the slot's key before it, and returns it.
func fileKey(ctx context.Context, path, slot, email string, keys *controller.Keys, log *slog.Logger) (string, error) {
	data, err := os.ReadFile(path)
	key := strings.TrimSpace(string(data))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	for range 2 {
		if key == "" {
			if key, err = controller.NewKey(); err != nil {
				return "", err
			}
			if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
				return "", fmt.Errorf("write %s: %w", path, err)
			}
		}
		_, old, err := keys.Claim(ctx, slot, key, email, access.Admin)
		if errors.Is(err, controller.ErrKeyRevoked) {
			log.Warn("the key file holds a revoked key: writing a new key into it", "file", path, "err", err)
			key = ""
			continue
		}
		if err != nil {
			return "", err
		}
		logRotation(log, slot, old)
		return key, nil
	}
	return "", fmt.Errorf("register the key of %s: a fresh key was refused as revoked", path)
}

// logRotation says which keys registering a slot's key revoked.
func logRotation(log *slog.Logger, slot string, revoked []controller.Key) {
	for _, k := range revoked {
		log.Info("API key replaced: the key before it is revoked", "slot", slot, "revoked_id", k.ID, "email", k.Email)
	}
}

// ensureProject creates project name when it does not exist.
func ensureProject(ctx context.Context, st *controller.Store, name, user string) error {
	k := spec.Key{Kind: "Project", Name: name}
	if _, err := st.Get(ctx, k); err == nil {
		return nil
	}
	obj := map[string]any{
		"apiVersion": "system.k8smgmt.io/v3",
		"kind":       "Project",
		"metadata":   map[string]any{"name": name, "description": "Created by System Sync at first start"},
		"spec":       map[string]any{"default": name == DefaultProject},
	}
	if _, _, err := st.Apply(ctx, k, obj, user, ""); err != nil {
		return fmt.Errorf("create project %q: %w", name, err)
	}
	return nil
}
