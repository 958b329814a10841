// Command bench measures the controller: applies per second through the
// HTTP API (1 and 8 clients, SQLite and PostgreSQL) against the floor of
// the same applies straight into the store, and how fast a change reaches a
// client long-polling the event log. It prints Markdown for BENCHMARKS.md.
//
//	go run ./cmd/bench [-n 10000] [-postgres postgres://postgres@127.0.0.1:5432/test] [-events 500]
//
// -db, -clients and -only pick single rows or columns (for profiling with
// -cpuprofile); the defaults print the whole table.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
	"github.com/systemsync/systemsync/internal/store"
)

const benchKey = "bench-key"

func main() {
	n := flag.Int("n", 10000, "resources to apply")
	pg := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL (empty: SQLite only)")
	events := flag.Int("events", 500, "changes to time through the event log")
	dbs := flag.String("db", "sqlite,postgres", "databases to measure, comma-separated")
	clients := flag.String("clients", "1,8", "client counts to measure, comma-separated")
	only := flag.String("only", "floor,store,raw,api", "columns to measure, comma-separated (the others print 0)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the apply measurements to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile, taken after the apply measurements, to this file")
	cpuTime := flag.Bool("cputime", false, "also print the CPU time each apply cost this process and the PostgreSQL server (Linux)")
	latency := flag.Bool("latency", false, "also print percentiles of each apply's time (less swayed than rates by other load on a shared machine)")
	flag.Parse()
	cfg := config{n: *n, pgURL: *pg, events: *events, dbs: strings.Split(*dbs, ","), only: strings.Split(*only, ","), cpuTime: *cpuTime, latency: *latency}
	for _, c := range strings.Split(*clients, ",") {
		v, err := strconv.Atoi(c)
		if err != nil || v < 1 {
			fmt.Fprintf(os.Stderr, "bench: -clients: %q is not a client count\n", c)
			os.Exit(2)
		}
		cfg.clients = append(cfg.clients, v)
	}
	if *pg == "" {
		cfg.dbs = slices.DeleteFunc(cfg.dbs, func(d string) bool { return d == "postgres" })
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		cfg.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		cfg.writeMemProfile = func() error {
			f, err := os.Create(*memProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			return pprof.Lookup("allocs").WriteTo(f, 0)
		}
	}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is what to measure.
type config struct {
	n           int
	pgURL       string
	events      int
	dbs         []string
	clients     []int
	only        []string
	cpuTime     bool
	latency     bool
	stopProfile func() // ends the CPU profile, when one is taken
	// writeMemProfile writes the allocation profile, when one is asked for.
	writeMemProfile func() error
}

func (c config) measures(column string) bool { return slices.Contains(c.only, column) }

func run(ctx context.Context, cfg config) error {
	n, pgURL, events, dbs := cfg.n, cfg.pgURL, cfg.events, cfg.dbs
	objs, err := objects(n)
	if err != nil {
		return err
	}
	fmt.Printf("Machine: %s/%s, %d cores, %s; %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("### Apply %d resources\n\n", len(objs))
	fmt.Println("| database | clients | floor: 1-row commits/s | store only (applies/s) | HTTP API, raw client (applies/s) | HTTP API, controllerapi client (applies/s) | raw / store time | raw / 1-row-commit time |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- |")
	var cpuRows, latRows []string
	lat := func(dbName string, clients int, path string, l []time.Duration) {
		if cfg.latency && len(l) > 0 {
			sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
			latRows = append(latRows, fmt.Sprintf("| %s | %d | %s | %v | %v | %v | %v |", dbName, clients, path, pct(l, 10), pct(l, 50), pct(l, 90), pct(l, 99)))
		}
	}
	for _, dbName := range dbs {
		for _, clients := range cfg.clients {
			var commits, floor, raw, api time.Duration
			if cfg.measures("floor") {
				c0 := readCPU()
				if commits, err = commitFloor(ctx, dbName, pgURL, len(objs), clients); err != nil {
					return err
				}
				cpuRows = append(cpuRows, readCPU().since(c0).row(dbName, clients, "1-row commits", len(objs)))
			}
			if cfg.measures("store") {
				c0 := readCPU()
				var l []time.Duration
				if floor, l, err = measure(ctx, dbName, pgURL, objs, clients, viaStore); err != nil {
					return err
				}
				lat(dbName, clients, "store only", l)
				cpuRows = append(cpuRows, readCPU().since(c0).row(dbName, clients, "store only", len(objs)))
			}
			if cfg.measures("raw") {
				c0 := readCPU()
				var l []time.Duration
				if raw, l, err = measure(ctx, dbName, pgURL, objs, clients, viaRawHTTP); err != nil {
					return err
				}
				lat(dbName, clients, "HTTP API, raw client", l)
				cpuRows = append(cpuRows, readCPU().since(c0).row(dbName, clients, "HTTP API, raw client", len(objs)))
			}
			if cfg.measures("api") {
				c0 := readCPU()
				var l []time.Duration
				if api, l, err = measure(ctx, dbName, pgURL, objs, clients, viaClient); err != nil {
					return err
				}
				lat(dbName, clients, "HTTP API, controllerapi client", l)
				cpuRows = append(cpuRows, readCPU().since(c0).row(dbName, clients, "HTTP API, controllerapi client", len(objs)))
			}
			fmt.Printf("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", dbName, clients, rate(len(objs), commits), rate(len(objs), floor),
				rate(len(objs), raw), rate(len(objs), api), ratio(raw, floor), ratio(raw, commits))
		}
	}
	if cfg.stopProfile != nil {
		cfg.stopProfile()
	}
	if cfg.writeMemProfile != nil {
		if err := cfg.writeMemProfile(); err != nil {
			return fmt.Errorf("write allocation profile: %w", err)
		}
	}
	if cfg.cpuTime {
		printTable("CPU time per apply (the PostgreSQL column counts every postgres process, other users' too):",
			[]string{"database", "clients", "path", "this process, µs", "PostgreSQL, µs"}, cpuRows)
	}
	if cfg.latency {
		printTable("Time of each apply (from the client's call to its answer):",
			[]string{"database", "clients", "path", "p10", "p50", "p90", "p99"}, latRows)
	}
	if events > 0 {
		fmt.Printf("\n### Event log: change → long-polling client (%d changes)\n\n", events)
		fmt.Println("| database | p50 | p99 | max |")
		fmt.Println("| --- | --- | --- | --- |")
		for _, dbName := range dbs {
			lat, err := eventLatency(ctx, dbName, pgURL, events)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %v | %v | %v |\n", dbName, pct(lat, 50), pct(lat, 99), lat[len(lat)-1])
		}
	}
	return nil
}

// rate is n per second over d (0 when d was not measured).
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ratio is a/b (0 when either was not measured).
func ratio(a, b time.Duration) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a.Seconds() / b.Seconds()
}

// objects returns n generated resources, projects first.
func objects(n int) ([]map[string]any, error) {
	var projects, rest []map[string]any
	for _, f := range spectest.Generate(n, 1) {
		rs, probs := spec.Parse(f.Path, f.Data)
		if len(probs) > 0 {
			return nil, fmt.Errorf("generated file %s: %v", f.Path, probs[0])
		}
		for _, r := range rs {
			if r.KindName() == "Project" {
				projects = append(projects, r.Object)
			} else {
				rest = append(rest, r.Object)
			}
		}
	}
	return append(projects, rest...), nil
}

// env is a fresh controller on a fresh database.
type env struct {
	db      *store.DB
	st      *controller.Store
	url     string
	cleanup func()
}

func newEnv(ctx context.Context, dbName, pgURL string) (*env, error) {
	var dbURL string
	var drop func()
	switch dbName {
	case "sqlite":
		dir, err := os.MkdirTemp("", "ssbench")
		if err != nil {
			return nil, err
		}
		dbURL = "sqlite://" + filepath.Join(dir, "bench.db")
		drop = func() { os.RemoveAll(dir) }
	default:
		admin, err := store.Open(ctx, pgURL)
		if err != nil {
			return nil, err
		}
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "bench_" + hex.EncodeToString(b[:])
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, err
		}
		u, _ := url.Parse(pgURL)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dbURL = u.String()
		drop = func() { admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); admin.Close() }
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	keys := controller.NewKeys(db)
	if err := keys.Ensure(ctx, benchKey, "bench@example.com"); err != nil {
		return nil, err
	}
	st := controller.NewStore(db)
	srv := httptest.NewServer(controller.NewAPI(st, keys, slog.New(slog.NewTextHandler(io.Discard, nil))))
	return &env{db: db, st: st, url: srv.URL, cleanup: func() { srv.Close(); db.Close(); drop() }}, nil
}

// measure applies objs with the given number of workers, through the HTTP
// API or straight into the store, on a fresh database; projects go first.
// How measure applies.
const (
	viaStore   = iota // straight into the store, no HTTP
	viaRawHTTP        // JSON bodies encoded before the clock starts, POSTed as a load generator (curl, wrk) would
	viaClient         // controllerapi.Client: encodes each object, decodes and normalises each answer
)

// It returns the time taken and each apply's own time.
func measure(ctx context.Context, dbName, pgURL string, objs []map[string]any, workers int, via int) (time.Duration, []time.Duration, error) {
	e, err := newEnv(ctx, dbName, pgURL)
	if err != nil {
		return 0, nil, err
	}
	defer e.cleanup()
	// Each client keeps its connection, as separate client processes would:
	// the default transport keeps only 2 idle per host, so 8 workers would
	// open a new TCP connection for most requests.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = workers
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 90 * time.Second}
	cl := controllerapi.New(e.url, benchKey, controllerapi.WithHTTPClient(hc))
	type request struct{ path, body string }
	var requests map[string]request // by kind/project/name
	if via == viaRawHTTP {
		requests = make(map[string]request, len(objs))
		for _, o := range objs {
			r := &spec.Resource{Object: o}
			p, err := controllerapi.CollectionPath(r.Key().Kind, r.Key().Project)
			if err != nil {
				return 0, nil, err
			}
			body, err := json.Marshal(o)
			if err != nil {
				return 0, nil, err
			}
			requests[r.Key().String()] = request{e.url + p, string(body)}
		}
	}
	apply := func(o map[string]any) error {
		switch via {
		case viaClient:
			_, err := cl.Apply(ctx, o)
			return err
		case viaRawHTTP:
			rq := requests[(&spec.Resource{Object: o}).Key().String()]
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, rq.path, strings.NewReader(rq.body))
			if err != nil {
				return err
			}
			req.Header.Set("X-API-KEY", benchKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("apply %s: %s", rq.path, resp.Status)
			}
			return err
		}
		r := &spec.Resource{Object: o}
		_, _, err := e.st.Apply(ctx, r.Key(), o, "bench@example.com", "")
		return err
	}
	lats := make([][]time.Duration, workers+1) // each worker's, then the projects'
	timed := func(l *[]time.Duration, o map[string]any) error {
		t0 := time.Now()
		err := apply(o)
		*l = append(*l, time.Since(t0))
		return err
	}
	start := time.Now()
	i := 0
	for ; i < len(objs) && objs[i]["kind"] == "Project"; i++ {
		if err := timed(&lats[workers], objs[i]); err != nil {
			return 0, nil, err
		}
	}
	work := make(chan map[string]any)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		lats[w] = make([]time.Duration, 0, len(objs)/workers+1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := timed(&lats[w], o); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for _, o := range objs[i:] {
		work <- o
	}
	close(work)
	wg.Wait()
	took := time.Since(start)
	select {
	case err := <-errc:
		return 0, nil, err
	default:
	}
	return took, slices.Concat(lats...), nil
}

// commitFloor is what the database itself allows: n transactions that each
// insert one small row and commit durably, from the given number of clients.
func commitFloor(ctx context.Context, dbName, pgURL string, n, workers int) (time.Duration, error) {
	e, err := newEnv(ctx, dbName, pgURL)
	if err != nil {
		return 0, err
	}
	defer e.cleanup()
	if _, err := e.db.Exec(ctx, `CREATE TABLE floor_rows (id BIGINT PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		return 0, err
	}
	var next sync.Mutex
	i := 0
	take := func() (int, bool) {
		next.Lock()
		defer next.Unlock()
		i++
		return i, i <= n
	}
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id, ok := take(); ok; id, ok = take() {
				if _, err := e.db.Exec(ctx, `INSERT INTO floor_rows (id, body) VALUES (?, ?)`, id, "x"); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return time.Since(start), nil
}

// eventLatency times, for each of n changes, from just before the apply is
// sent to when a client blocked in events?wait= receives it.
func eventLatency(ctx context.Context, dbName, pgURL string, n int) ([]time.Duration, error) {
	e, err := newEnv(ctx, dbName, pgURL)
	if err != nil {
		return nil, err
	}
	defer e.cleanup()
	cl := controllerapi.New(e.url, benchKey)
	if _, err := cl.Apply(ctx, map[string]any{"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"}}); err != nil {
		return nil, err
	}
	head, err := cl.Events(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	since := head.Revision
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		got := make(chan time.Time, 1)
		ready := make(chan struct{})
		go func() {
			close(ready)
			evs, err := cl.Events(ctx, since, 10*time.Second)
			if err == nil && len(evs.Items) > 0 {
				since = evs.Items[len(evs.Items)-1].Revision
			}
			got <- time.Now()
		}()
		<-ready
		time.Sleep(2 * time.Millisecond) // let the poll reach the server and block
		t0 := time.Now()
		obj := map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
			"metadata": map[string]any{"name": "ns", "project": "p"}, "spec": map[string]any{"revision": int64(i)}}
		if _, err := cl.Apply(ctx, obj); err != nil {
			return nil, err
		}
		lat = append(lat, (<-got).Sub(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(10 * time.Microsecond)
}

// cpuTimes is CPU time used so far by this process and by every postgres
// process (zero where /proc cannot tell).
type cpuTimes struct{ self, postgres time.Duration }

func readCPU() cpuTimes {
	var c cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: fields 14 and 15, counted
		// after the parenthesised command name, which may hold spaces.
		open, end := strings.IndexByte(string(data), '('), strings.LastIndexByte(string(data), ')')
		if open < 0 || end < open || string(data[open+1:end]) != "postgres" {
			continue
		}
		f := strings.Fields(string(data[end+1:]))
		if len(f) < 13 {
			continue
		}
		// utime, stime, and the children's (the postmaster's count the
		// backends that have exited)
		for _, field := range f[11:15] {
			v, _ := strconv.ParseInt(field, 10, 64)
			c.postgres += time.Duration(v) * time.Second / 100 // USER_HZ
		}
	}
	return c
}

func (c cpuTimes) since(o cpuTimes) cpuTimes {
	return cpuTimes{self: c.self - o.self, postgres: c.postgres - o.postgres}
}

func (c cpuTimes) row(db string, clients int, path string, n int) string {
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return fmt.Sprintf("| %s | %d | %s | %.0f | %.0f |", db, clients, path, per(c.self), per(c.postgres))
}

// printTable prints a titled Markdown table of rows already formatted.
func printTable(title string, columns, rows []string) {
	fmt.Printf("\n%s\n\n| %s |\n|%s\n", title, strings.Join(columns, " | "), strings.Repeat(" --- |", len(columns)))
	for _, r := range rows {
		fmt.Println(r)
	}
}
