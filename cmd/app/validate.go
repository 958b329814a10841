package main

import (
	"fmt"
	"io"
	"os"

	"github.com/systemsync/systemsync/internal/spec"
)

// validateCommand checks each PATH: a folder as a repository (the layout of
// DESIGN.md), a file as one spec. It prints one line per problem and exits 1
// when there is any, 2 when a path cannot be read.
func validateCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "app validate: name at least one folder or file\n", usage)
		return 2
	}
	problems, specs := 0, 0
	for _, path := range args {
		info, err := os.Stat(path)
		if err != nil {
			fmt.Fprintf(stderr, "app validate: %v\n", err)
			return 2
		}
		var found []spec.Problem
		if info.IsDir() {
			rep, err := spec.ValidateTree(path)
			if err != nil {
				fmt.Fprintf(stderr, "app validate: %s: %v\n", path, err)
				return 2
			}
			specs += rep.Specs
			found = rep.Problems
		} else {
			data, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintf(stderr, "app validate: %v\n", err)
				return 2
			}
			specs++
			found = validateFile(path, data)
		}
		for _, p := range found {
			fmt.Fprintln(stdout, p.String())
		}
		problems += len(found)
	}
	fmt.Fprintf(stderr, "%d spec files checked, %d problems\n", specs, problems)
	if problems > 0 {
		return 1
	}
	return 0
}

// validateFile checks one file outside a repository layout: every document
// must be a valid spec free of clear-text secrets.
func validateFile(path string, data []byte) []spec.Problem {
	if spec.IsTemplate(data) {
		return nil
	}
	resources, problems := spec.Parse(path, data)
	for _, r := range resources {
		problems = append(problems, spec.Validate(r, spec.Context{File: path})...)
		problems = append(problems, spec.Secrets(r)...)
	}
	return problems
}
