// Command app is the System Sync bot. With no configuration it runs local
// mode: SQLite and the embedded controller under ./var, listening on
// 127.0.0.1:8080.
//
//	app [serve] [-c FILE]     run the server (the default)
//	app validate [--strict] PATH...  check a repository folder (or spec files) as a run would
//	app keys create|list|revoke  manage the API keys of the configured database
//	app healthcheck           exit 0 when the server at SYSTEMSYNC_LISTEN answers /healthz (for Docker)
//	app version, app --version  print the version (set with -ldflags, "devel" otherwise)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/systemsync/systemsync/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

const usage = `usage:
  app [serve] [-c FILE]   run the server; with no FILE and no SYSTEMSYNC_* settings, local mode
  app validate [--strict] PATH...
                          check repository folders or spec files as a run would; prints file:line: field: message
                          ("warning: " before a warning's field), exit 1 on an error (--strict: on any problem)
  app healthcheck         exit 0 when the server at SYSTEMSYNC_LISTEN answers /healthz
  app keys create --email E [--role admin|editor|viewer] [-c FILE]
                          make an API key and print it (once, alone) on stdout; the role is viewer unless told
  app keys list [-c FILE] every key's ID, email, role, created and revoked times (never the key)
  app keys revoke ID [-c FILE]
                          revoke a key; the servers on that database refuse it within 2s
  app version             print the version (also: app --version)
`

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	cmd := "serve"
	switch {
	case len(args) > 0 && (args[0] == "--version" || args[0] == "-version"):
		cmd, args = "version", args[1:]
	case len(args) > 0 && args[0] != "" && args[0][0] != '-':
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCommand(ctx, args, stdout, stderr, environ)
	case "validate":
		return validateCommand(ctx, args, stdout, stderr)
	case "healthcheck":
		return healthcheckCommand(ctx, stderr, environ)
	case "keys":
		return keysCommand(ctx, args, stdout, stderr, environ)
	case "version":
		fmt.Fprintln(stdout, version.String())
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "app: unknown command %q\n%s", cmd, usage)
		return 2
	}
}
