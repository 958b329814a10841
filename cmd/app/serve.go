package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// DefaultProject is the project local mode creates.
const DefaultProject = "default"

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "configuration `file` (YAML); every key can also be set as SYSTEMSYNC_<SECTION>_<KEY>")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*cfgPath, environ)
	if err != nil {
		fmt.Fprintf(stderr, "app: %v\n", err)
		return 2
	}
	if err := serve(ctx, cfg, stdout, stderr, nil); err != nil {
		fmt.Fprintf(stderr, "app: %v\n", err)
		return 1
	}
	return 0
}

// serve runs the server until ctx ends, then shuts down gracefully: no new
// connections, in-flight requests finish (their writes commit), the
// database closes. onListen, when set, is told the bound address.
func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer, onListen func(net.Addr)) error {
	log := newLogger(stderr, cfg.LogLevel)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	keys := controller.NewKeys(db)
	keySource, err := adminKey(ctx, cfg, keys)
	if err != nil {
		return err
	}
	st := controller.NewStore(db)
	if err := ensureProject(ctx, st, DefaultProject, cfg.AdminEmail); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/apis/", controller.NewAPI(st, keys, log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := db.PingContext(pctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database unreachable")
			return
		}
		fmt.Fprintln(w, "ready")
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "System Sync listening on %s\n", base)
	fmt.Fprintf(stdout, "  database:      %s\n", store.Redact(cfg.DatabaseURL))
	fmt.Fprintf(stdout, "  admin API key: %s (user %s)\n", keySource, cfg.AdminEmail)
	fmt.Fprintf(stdout, "  try:           curl -H \"X-API-KEY: %s\" %s/apis/system.k8smgmt.io/v3/projects\n",
		keyExpr(cfg, keySource), base)
	if onListen != nil {
		onListen(ln.Addr())
	}
	log.Info("serving", "addr", ln.Addr().String(), "data_dir", cfg.DataDir)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// adminKey registers the admin key, from the configuration or from
// DataDir/admin.key (generated, mode 0600, on first start), and says where
// it came from. The key itself is never printed or logged.
func adminKey(ctx context.Context, cfg config.Config, keys *controller.Keys) (string, error) {
	key, source := cfg.APIKey, "from SYSTEMSYNC_API_KEY"
	if key == "" {
		path := filepath.Join(cfg.DataDir, "admin.key")
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			key = strings.TrimSpace(string(data))
		case errors.Is(err, os.ErrNotExist):
			if key, err = controller.NewKey(); err != nil {
				return "", err
			}
			if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
				return "", fmt.Errorf("write admin key: %w", err)
			}
		default:
			return "", fmt.Errorf("read admin key: %w", err)
		}
		if key == "" {
			return "", fmt.Errorf("admin key file %s is empty: delete it to generate a new key", path)
		}
		abs, _ := filepath.Abs(path)
		source = abs
	}
	if err := keys.Ensure(ctx, key, cfg.AdminEmail); err != nil {
		return "", err
	}
	return source, nil
}

// keyExpr is how the printed curl example gets the key in a shell.
func keyExpr(cfg config.Config, keySource string) string {
	if cfg.APIKey != "" {
		return "$SYSTEMSYNC_API_KEY"
	}
	return "$(cat " + keySource + ")"
}

// ensureProject creates project name when it does not exist.
func ensureProject(ctx context.Context, st *controller.Store, name, user string) error {
	k := spec.Key{Kind: "Project", Name: name}
	obj := map[string]any{
		"apiVersion": "system.k8smgmt.io/v3",
		"kind":       "Project",
		"metadata":   map[string]any{"name": name, "description": "Created by System Sync at first start"},
		"spec":       map[string]any{"default": name == DefaultProject},
	}
	if _, err := st.Get(ctx, k); err == nil {
		return nil
	}
	if _, _, err := st.Apply(ctx, k, obj, user, ""); err != nil {
		return fmt.Errorf("create project %q: %w", name, err)
	}
	return nil
}
