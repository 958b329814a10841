package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// childArg, as the first argument, makes the program a child measured for
// its peak memory (not a flag, so it stays out of -help).
const childArg = "__bench-sync-child"

// childResult is what a child reports on stdout.
type childResult struct {
	Millis    float64 `json:"ms"`
	Files     int     `json:"files"`
	Bytes     int     `json:"bytes,omitempty"`
	HeapInuse uint64  `json:"heapInuse"`
	HeapSys   uint64  `json:"heapSys"`
	VmHWM     int64   `json:"vmHWM"` // peak RSS of this process image, bytes (Linux), or 0
}

// vmHWM reads this process's peak resident set size from /proc (Linux):
// unlike rusage's Maxrss it counts only this program image, not the
// parent's memory that a vfork-style spawn shares until exec.
func vmHWM() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// child runs one job and exits: "plan" is a cold Runner.Plan of main,
// "floor" fetches into a fresh clone and parses every file (keeping the
// parsed resources, as a plan must), "idle" only opens the database;
// "render-large" and "export-large" render and export the large resource
// (see large.go).
func child(args []string) error {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	mode := fs.String("mode", "plan", "plan, floor, idle, render-large or export-large")
	repoURL := fs.String("repo", "", "repository URL")
	ctlURL := fs.String("controller", "", "controller URL")
	dbURL := fs.String("db", "", "database URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	dir, err := os.MkdirTemp("", "bench-sync-child-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var res childResult
	t0 := time.Now()
	switch *mode {
	case "idle":
		if err := db.PingContext(ctx); err != nil {
			return err
		}
	case "render-large":
		kept, err := childRenderLarge(ctx, *ctlURL, &res)
		if err != nil {
			return err
		}
		defer runtime.KeepAlive(kept)
	case "export-large":
		kept, err := childExportLarge(ctx, db, dir, *repoURL, *ctlURL, &res)
		if err != nil {
			return err
		}
		defer runtime.KeepAlive(kept)
	case "plan":
		r := &pipeline.Runner{DB: db, Git: gitrepo.NewManager(dir, nil, gitrepo.AllowAll()), Loader: reconcile.NewLoader(),
			System: controllerapi.New(*ctlURL, benchKey), Runs: pipeline.NewRuns(db), Log: discard, Snapshot: reconcile.NewSnapshot()}
		defer r.Git.Close()
		st := pipeline.Stage{Pipeline: spec.Key{Kind: "Pipeline", Project: "default", Name: "bench"}, Name: "sync", GitToSystem: true,
			Source: pipeline.RepoRef{Repository: "specs", Revision: "main", URL: *repoURL}}
		st.Dest = st.Source
		planned, err := r.Plan(ctx, st, "main")
		if err != nil {
			return err
		}
		res.Files = len(planned.Plan.Changes)
		defer runtime.KeepAlive(planned)
	case "floor":
		m := gitrepo.NewManager(dir, nil, gitrepo.AllowAll())
		defer m.Close()
		repo, err := m.Repo(ctx, *repoURL)
		if err != nil {
			return err
		}
		sha, err := repo.Fetch(ctx, gitrepo.Auth{}, "main")
		if err != nil {
			return err
		}
		entries, err := repo.ReadTree(ctx, sha, "")
		if err != nil {
			return err
		}
		var kept []*spec.Resource
		for _, en := range entries {
			if !isSpecPath(en.Path) {
				continue
			}
			data, err := repo.Blob(ctx, en.BlobSHA, reconcile.MaxFileBytes)
			if err != nil {
				return err
			}
			r, err := parseValidate(en.Path, data)
			if err != nil {
				return err
			}
			kept = append(kept, r)
		}
		res.Files = len(kept)
		defer runtime.KeepAlive(kept)
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	res.Millis = float64(time.Since(t0).Microseconds()) / 1000
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInuse, res.HeapSys = ms.HeapInuse, ms.HeapSys
	res.VmHWM = vmHWM()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// runChild re-executes this program as a child in mode and returns what it
// reported and the Maxrss of its rusage in bytes.
func runChild(e *planEnv, mode string) (childResult, int64, error) {
	return runChildArgs(mode, "-repo", e.repoURL, "-controller", e.ctl.url, "-db", e.ctl.dbURL)
}

// runChildArgs is runChild with the child's flags given.
func runChildArgs(mode string, args ...string) (childResult, int64, error) {
	var res childResult
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, append([]string{childArg, "-mode", mode}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return res, 0, fmt.Errorf("child %s: %v\n%s", mode, err, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, 0, fmt.Errorf("child %s output %q: %w", mode, out.String(), err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return res, 0, fmt.Errorf("no rusage on %s", runtime.GOOS)
	}
	rss := ru.Maxrss * 1024 // KiB on Linux
	if runtime.GOOS == "darwin" {
		rss = ru.Maxrss // bytes on macOS
	}
	return res, rss, nil
}

func benchMemory(ctx context.Context, e *planEnv, o options) error {
	type row struct {
		name string
		res  childResult
		rss  int64
	}
	var rows []row
	for _, m := range []struct{ mode, name string }{
		{"idle", "baseline: start, open the database"},
		{"floor", fmt.Sprintf("floor: fetch + read + parse %d files, keep them", len(e.files))},
		{"plan", fmt.Sprintf("cold full plan of %d files (`Runner.Plan`)", len(e.files))},
	} {
		res, rss, err := runChild(e, m.mode)
		if err != nil {
			return err
		}
		if m.mode != "idle" && res.Files != len(e.files) {
			return fmt.Errorf("child %s handled %d files, want %d", m.mode, res.Files, len(e.files))
		}
		progress("child %s: %.0f ms, VmHWM %.1f MB, rusage Maxrss %.1f MB", m.mode, res.Millis, float64(res.VmHWM)/1e6, float64(rss)/1e6)
		rows = append(rows, row{m.name, res, rss})
	}
	peak := func(r row) int64 {
		if r.res.VmHWM > 0 {
			return r.res.VmHWM
		}
		return r.rss
	}
	floor, plan := peak(rows[1]), peak(rows[2])
	fmt.Printf("### Peak memory of the cold full plan of %d files\n\n", len(e.files))
	fmt.Printf("Each row is a child process (this program re-executed). Peak RSS is the child's `VmHWM` (/proc/self/status, read at its end). " +
		"The rusage `Maxrss` the parent gets from `ProcessState.SysUsage()` is shown too, but on Linux it is at least the parent's RSS at the spawn: " +
		"Go starts children with vfork (CLONE_VM), and exec records the shared address space's high-water mark into the child's maxrss. " +
		"Heap in use is measured at the end, with the result still live. MB = 10^6 bytes. Goal ≤ 300 MB.\n\n")
	fmt.Println("| child process | time | peak RSS (VmHWM) | rusage Maxrss | heap in use at end | peak / floor |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Printf("| %s | %.0f ms | %.1f MB | %.1f MB | %.1f MB | %.2f× |\n", r.name, r.res.Millis, float64(peak(r))/1e6, float64(r.rss)/1e6,
			float64(r.res.HeapInuse)/1e6, float64(peak(r))/float64(floor))
	}
	fmt.Printf("\nGoal ≤ 300 MB: %s.\n\n", verdict(plan <= 300e6))
	return nil
}
