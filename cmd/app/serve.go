package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/server"
	"github.com/systemsync/systemsync/internal/store"
)

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

// serve runs the server until ctx ends, then shuts down gracefully.
// onListen, when set, is told the bound address.
func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer, onListen func(net.Addr)) error {
	log := server.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	keyExpr := "$(cat " + s.AdminKeySource + ")"
	if cfg.APIKey != "" {
		keyExpr = "$SYSTEMSYNC_API_KEY"
	}
	fmt.Fprintf(stdout, "System Sync listening on %s\n", s.BaseURL)
	fmt.Fprintf(stdout, "  database:      %s\n", store.Redact(cfg.DatabaseURL))
	fmt.Fprintf(stdout, "  admin API key: %s (user %s)\n", s.AdminKeySource, cfg.AdminEmail)
	fmt.Fprintf(stdout, "  console:       %s/ (sign in with an API key)\n", s.Console.URL())
	if cfg.LocalMode() {
		fmt.Fprintf(stdout, "  demo repo:     git clone %s  (pushes are applied within %v)\n", server.DemoRepoPath(cfg.DataDir), cfg.PollInterval)
	} else {
		fmt.Fprintf(stdout, "  webhook:       %s/api/github/hook\n", s.BaseURL)
	}
	fmt.Fprintf(stdout, "  try:           curl -H \"X-API-KEY: %s\" %s/apis/system.k8smgmt.io/v3/projects\n", keyExpr, s.BaseURL)
	if onListen != nil {
		onListen(s.Addr())
	}
	return s.Run(ctx)
}
