package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/store"
)

const keysUsage = `usage:
  app keys create --email E [--role admin|editor|viewer] [-c FILE]   print a new key (once) on stdout; role viewer unless told
  app keys list [-c FILE]                                            ID, email, role, created, revoked, slot of every key
  app keys revoke ID [-c FILE]                                       revoke a key: refused at once by this database's servers
`

// keysCommand runs `app keys …` on the database the configuration names
// (-c FILE and the SYSTEMSYNC_* variables, as serve reads them); it works
// while a server runs on the same database.
func keysCommand(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysUsage) }
	cfgPath := fs.String("c", "", "configuration `file` (YAML), as for serve")
	var email, role *string
	switch sub {
	case "create":
		email = fs.String("email", "", "the key's user")
		role = fs.String("role", string(access.Viewer), "admin, editor or viewer")
	case "list", "revoke":
	default:
		fmt.Fprintf(stderr, "app: unknown keys command %q\n%s", sub, keysUsage)
		return 2
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	want := 0
	if sub == "revoke" {
		want = 1
	}
	if len(pos) != want {
		fmt.Fprintf(stderr, "app: keys %s takes %d argument(s), got %q\n%s", sub, want, pos, keysUsage)
		return 2
	}
	var r access.Role
	if sub == "create" {
		if *email == "" {
			fmt.Fprintf(stderr, "app: keys create: --email is required\n%s", keysUsage)
			return 2
		}
		if r, err = access.ParseRole(*role); err != nil {
			fmt.Fprintf(stderr, "app: keys create: --role: %v\n", err)
			return 2
		}
	}
	cfg, err := config.Load(*cfgPath, environ)
	if err != nil {
		fmt.Fprintf(stderr, "app: %v\n", err)
		return 2
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "app: %v\n", err)
		return 1
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "app: %v\n", err)
		return 1
	}
	keys := controller.NewKeys(db)
	switch sub {
	case "create":
		err = createKey(ctx, keys, *email, r, stdout, stderr)
	case "list":
		err = listKeys(ctx, keys, stdout)
	case "revoke":
		err = revokeKey(ctx, keys, pos[0], stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "app: keys %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// parseInterleaved parses flags before and after the positional arguments
// (app keys revoke ID -c FILE) and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func createKey(ctx context.Context, keys *controller.Keys, email string, role access.Role, stdout, stderr io.Writer) error {
	key, secret, err := keys.Create(ctx, email, role)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "API key %s for %s, role %s: keep the key printed on stdout, it is not shown again\n", key.ID, key.Email, key.Role)
	return nil
}

func listKeys(ctx context.Context, keys *controller.Keys, stdout io.Writer) error {
	list, err := keys.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tCREATED\tREVOKED\tSLOT")
	for _, k := range list {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		slot := k.Slot
		if slot == "" {
			slot = "-"
		}
		fmt.Fprintln(tw, strings.Join([]string{k.ID, k.Email, string(k.Role), k.CreatedAt.UTC().Format(time.RFC3339), revoked, slot}, "\t"))
	}
	return tw.Flush()
}

func revokeKey(ctx context.Context, keys *controller.Keys, id string, stdout io.Writer) error {
	key, err := keys.Revoke(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked API key %s (%s, %s) at %s\n", key.ID, key.Email, key.Role, key.RevokedAt.UTC().Format(time.RFC3339))
	return nil
}
