// Command bench-sync measures the bot's sync path end to end, each time
// against a floor measured in the same run, and prints Markdown for
// BENCHMARKS.md:
//
//   - warm PR plan: a pull-request commit changing a few files of a large
//     repository, "job start to plan ready" (Runner.Plan, fetch included) on
//     a runner that has planned the base before; floor: parse the changed
//     files and list the controller;
//   - cold full plan: a fresh runner (empty clone, empty cache) planning the
//     whole repository; floor: read and parse every file from the clone;
//   - peak memory of that cold plan, in a child process; floor: a child that
//     only fetches and parses;
//   - webhook acknowledgement at a steady rate through the full server
//     (HMAC check, durable job, 202); floor: a handler that only reads the
//     body and checks the HMAC;
//   - the full export of a system into an empty repository, and again with
//     -secrets of its resources holding a password its project's
//     SecretSealer seals; floor: render the same resources;
//   - peak memory exporting one 3 MB resource, in a child process; floor: a
//     child that only renders it.
//
// Everything runs on 127.0.0.1: bare repositories served by git
// http-backend, the embedded controller on SQLite, the server on SQLite.
//
//	go run ./cmd/bench-sync [-bench pr,cold,mem,webhook,export,large] [-files 10000] [-prs 10] [-changed 10]
//	                        [-cold-iters 3] [-rate 100] [-duration 10s] [-secrets 1000] [-cpuprofile FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

type options struct {
	changes   int
	burst     int
	benches   map[string]bool
	files     int
	prs       int
	changed   int
	coldIters int
	syncState bool
	rate      int
	duration  time.Duration
	payload   string
	keep      bool
	secrets   int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench-sync child:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	benches := flag.String("bench", "pr,cold,mem,webhook,export,large", "benchmarks to run, comma-separated: pr, cold, mem, webhook, export, large")
	flag.IntVar(&o.changes, "changes", 200, "changes timed one by one by the export-latency benchmark")
	flag.IntVar(&o.burst, "burst", 1000, "changes in the 10-second burst of the export benchmark")
	flag.IntVar(&o.files, "files", 10000, "spec files in the repository (spectest.Generate(n, 1))")
	flag.IntVar(&o.prs, "prs", 10, "pull-request commits planned by the warm-plan benchmark")
	flag.IntVar(&o.changed, "changed", 10, "files each pull-request commit changes")
	flag.IntVar(&o.coldIters, "cold-iters", 3, "cold full plans (and floors) measured")
	flag.BoolVar(&o.syncState, "syncstate", true, "record the sync state of every key first (one Runner.Apply at the base, all no-ops), as after a merge-to-apply")
	flag.IntVar(&o.rate, "rate", 100, "webhook deliveries per second")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long webhooks are sent at -rate")
	flag.StringVar(&o.payload, "payload", "testdata/github-webhooks/push/payload.json", "push webhook payload (octokit's example)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary folders (printed on stderr)")
	flag.IntVar(&o.secrets, "secrets", 1000, "resources holding a clear-text password in the sealed variant of the full export (0: no such variant)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	o.benches = map[string]bool{}
	for _, b := range strings.Split(*benches, ",") {
		b = strings.TrimSpace(b)
		switch b {
		case "pr", "cold", "mem", "webhook", "export", "large":
			o.benches[b] = true
		case "":
		default:
			fmt.Fprintf(os.Stderr, "bench-sync: unknown benchmark %q (pr, cold, mem, webhook, export, large)\n", b)
			os.Exit(2)
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-sync:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench-sync:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if err := run(context.Background(), o); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench-sync:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	fmt.Printf("Machine: %s/%s, %d cores, %s; %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	if o.benches["pr"] || o.benches["cold"] || o.benches["mem"] {
		env, err := setupPlanEnv(ctx, o)
		if err != nil {
			return err
		}
		err = runPlanBenches(ctx, env, o)
		env.close(o.keep)
		if err != nil {
			return err
		}
	}
	if o.benches["webhook"] {
		if err := runWebhookBench(ctx, o); err != nil {
			return err
		}
	}
	if o.benches["export"] {
		if err := runExportBenches(ctx, o); err != nil {
			return err
		}
	}
	if o.benches["large"] {
		if err := benchLarge(ctx); err != nil {
			return err
		}
	}
	progress("done in %v", time.Since(start).Round(time.Second))
	return nil
}

// progress reports on stderr, so that stdout stays Markdown.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-sync: "+format+"\n", args...)
}
