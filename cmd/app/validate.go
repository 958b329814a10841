package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// validateCommand checks each PATH as a run would: a folder as a
// repository (the layout of DESIGN.md), read by the bot's own loader; a
// file as one spec (see reconcile.CheckFile). It prints one line per
// problem, `file:line: field: message` with `warning: ` before a
// warning's field, and exits 1 when there is an error (or, with --strict,
// a warning), 2 when a path cannot be read.
func validateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	strict := fs.Bool("strict", false, "count warnings as errors: exit 1 on any problem")
	fs.Usage = func() { fmt.Fprint(stderr, "usage: app validate [--strict] PATH...\n") }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, "app validate: name at least one folder or file\n", usage)
		return 2
	}
	errs, warnings, specs := 0, 0, 0
	for _, path := range fs.Args() {
		info, err := os.Stat(path)
		if err != nil {
			fmt.Fprintf(stderr, "app validate: %v\n", err)
			return 2
		}
		var found []spec.Problem
		if info.IsDir() {
			d, err := reconcile.NewDir(path)
			if err == nil {
				var desired *reconcile.Desired
				if desired, err = reconcile.NewLoader().Load(ctx, d, "", "", reconcile.Scope{}); err == nil {
					specs += len(desired.Files) + len(desired.Other)
					found = desired.Problems()
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "app validate: %s: %v\n", path, err)
				return 2
			}
		} else {
			data, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintf(stderr, "app validate: %v\n", err)
				return 2
			}
			specs++
			found = reconcile.CheckFile(filepath.ToSlash(filepath.Clean(path)), data)
		}
		for _, p := range found {
			fmt.Fprintln(stdout, p.String())
			if p.IsWarning() {
				warnings++
			} else {
				errs++
			}
		}
	}
	fmt.Fprintf(stderr, "%d spec files checked, %d errors, %d warnings\n", specs, errs, warnings)
	if errs > 0 || *strict && warnings > 0 {
		return 1
	}
	return 0
}
