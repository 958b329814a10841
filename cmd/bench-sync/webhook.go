package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/githubflow"
	"github.com/systemsync/systemsync/internal/server"
)

const webhookSecret = "bench-webhook-secret"

// pushPayload returns octokit's push example made into a push to a branch,
// delivered to an app installation: as it is, it deletes a tag, which the
// bot answers 200 and does not store, and names no installation (400).
func pushPayload(path string) ([]byte, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, r := range [][2]string{
		{`"ref": "refs/tags/simple-tag"`, `"installation": {"id": 4242}, "ref": "refs/heads/main"`},
		{`"after": "0000000000000000000000000000000000000000"`, `"after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"`},
		{`"deleted": true`, `"deleted": false`},
	} {
		if bytes.Count(body, []byte(r[0])) != 1 {
			return nil, fmt.Errorf("%s: expected one %s", path, r[0])
		}
		body = bytes.Replace(body, []byte(r[0]), []byte(r[1]), 1)
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("%s: not JSON after the edit", path)
	}
	return body, nil
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// floorHandler is the least a webhook endpoint does: read the body and
// check its HMAC.
func floorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, githubflow.MaxPayloadBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, err := hex.DecodeString(strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="))
		m := hmac.New(sha256.New, []byte(webhookSecret))
		m.Write(body)
		if err != nil || !hmac.Equal(got, m.Sum(nil)) {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"delivery":%q,"status":"queued"}`+"\n", r.Header.Get("X-GitHub-Delivery"))
	})
}

type deliveryResult struct {
	lat  time.Duration
	code int
	err  error
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}, Timeout: 30 * time.Second}

// deliver sends one signed push delivery and times it until the whole
// response is read.
func deliver(url, id string, body []byte, sig string) deliveryResult {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return deliveryResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", sig)
	t0 := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return deliveryResult{err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return deliveryResult{lat: time.Since(t0), code: resp.StatusCode, err: err}
}

// steady sends n deliveries at rate per second, each from its own
// goroutine, paced by a ticker, and returns them in order.
func steady(url, prefix string, n, rate int, body []byte) ([]deliveryResult, []string, time.Duration) {
	sig := sign(body)
	// Warm the connection pool; these are not counted.
	for i := 0; i < 10; i++ {
		deliver(url, fmt.Sprintf("%s-warm-%d", prefix, i), body, sig)
	}
	res := make([]deliveryResult, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if i > 0 {
			<-tick.C
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = deliver(url, ids[i], body, sig)
		}()
	}
	sent := time.Since(t0)
	wg.Wait()
	return res, ids, sent
}

type latStats struct {
	p50, p99, max time.Duration
	accepted      int
	other         map[string]int
}

func summarize(res []deliveryResult) latStats {
	var lats []time.Duration
	s := latStats{other: map[string]int{}}
	for _, r := range res {
		switch {
		case r.err != nil:
			s.other[r.err.Error()]++
		case r.code != http.StatusAccepted:
			s.other[fmt.Sprintf("HTTP %d", r.code)]++
		default:
			s.accepted++
		}
		if r.err == nil {
			lats = append(lats, r.lat)
		}
	}
	sortDur(lats)
	if len(lats) > 0 {
		s.p50, s.p99, s.max = pct(lats, 50), pct(lats, 99), lats[len(lats)-1]
	}
	return s
}

func runWebhookBench(ctx context.Context, o options) error {
	n := int(o.duration.Seconds() * float64(o.rate))
	if n < 1 {
		return fmt.Errorf("-duration %v at -rate %d sends nothing", o.duration, o.rate)
	}
	body, err := pushPayload(o.payload)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-sync-webhook-")
	if err != nil {
		return err
	}
	if o.keep {
		progress("kept %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	// Floor: read and check, nothing stored.
	floorSrv := httptest.NewServer(floorHandler())
	progress("webhook floor: %d deliveries at %d/s", n, o.rate)
	fres, _, fsent := steady(floorSrv.URL+githubflow.Route, "floor", n, o.rate, body)
	floorSrv.Close()
	fs := summarize(fres)

	// The server: GitHub App configured, SQLite, job queue running.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	dummyGH := httptest.NewServer(http.NotFoundHandler()) // the jobs match no pipeline: GitHub is never called
	defer dummyGH.Close()
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(tmp, "data")
	cfg.DatabaseURL = "sqlite://" + filepath.Join(tmp, "data", "systemsync.db")
	cfg.APIKey = "bench-webhook-admin-key"
	cfg.PollInterval = time.Hour
	cfg.ShutdownTimeout = 30 * time.Second
	cfg.Github.WebURL = dummyGH.URL
	cfg.Github.V3APIURL = dummyGH.URL + "/api/v3/"
	cfg.Github.V4APIURL = dummyGH.URL + "/api/graphql"
	cfg.Github.App.IntegrationID = 4242
	cfg.Github.App.WebhookSecret = webhookSecret
	cfg.Github.App.PrivateKey = string(keyPEM)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := server.New(sctx, cfg, discard)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	db := s.DB
	progress("webhook server: %d deliveries at %d/s", n, o.rate)
	sres, ids, ssent := steady(s.BaseURL+githubflow.Route, "server", n, o.rate, body)
	ss := summarize(sres)

	// Every acknowledged delivery must be stored.
	// River's SQLite driver keeps args as JSONB: let SQLite read it.
	rows, err := db.Query(ctx, `SELECT json_extract(args, '$.delivery_id') FROM river_job WHERE kind = 'github_event'`)
	if err != nil {
		cancel()
		<-done
		return err
	}
	stored := map[string]bool{}
	jobs := 0
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			cancel()
			<-done
			return err
		}
		stored[id] = true
		jobs++
	}
	rows.Close()
	missing := 0
	for _, id := range ids {
		if !stored[id] {
			missing++
		}
	}
	// How far the job workers are behind, and how long they take to catch up.
	countDone := func() int {
		var c int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'github_event' AND state = 'completed'`).Scan(&c)
		return c
	}
	completed := countDone()
	drainStart, drained := time.Now(), completed
	for drained < jobs && time.Since(drainStart) < time.Minute {
		time.Sleep(100 * time.Millisecond)
		drained = countDone()
	}
	drain := time.Since(drainStart)
	cancel()
	if err := <-done; err != nil {
		return fmt.Errorf("server stopped: %w", err)
	}

	fmt.Printf("### Webhook acknowledgement at %d requests/s (%d push deliveries over %v)\n\n", o.rate, n, o.duration)
	fmt.Printf("Signed push deliveries (octokit's `push/payload.json`, %d bytes, made a push to `refs/heads/main` of installation 4242: as shipped it deletes a tag and names no installation, which the bot answers without storing), "+
		"each from its own goroutine, paced by a ticker; latency from sending the request to the end of the response. "+
		"Server: `server.New` with a GitHub App, SQLite in a temporary data dir, `Run` (job workers on): size and X-Hub-Signature-256 check, the push handler's decode, the job stored. Floor: a handler that reads the body and checks the HMAC, nothing stored. Goal p99 ≤ 20 ms.\n\n", len(body))
	fmt.Println("| endpoint | sent in | 202s | p50 | p99 | max | stored |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	fmt.Printf("| floor: read + HMAC | %s | %d | %s | %s | %s | — |\n", fsent.Round(10*time.Millisecond), fs.accepted, ms(fs.p50), ms(fs.p99), ms(fs.max))
	fmt.Printf("| server (`/api/github/hook`) | %s | %d | %s | %s | %s | %d of %d |\n",
		ssent.Round(10*time.Millisecond), ss.accepted, ms(ss.p50), ms(ss.p99), ms(ss.max), n-missing, n)
	fmt.Printf("| server / floor | | | %.2f× | %.2f× | %.2f× | |\n\n", ratio(ss.p50, fs.p50), ratio(ss.p99, fs.p99), ratio(ss.max, fs.max))
	for what, c := range fs.other {
		fmt.Printf("Floor: %d deliveries got %s.\n\n", c, what)
	}
	for what, c := range ss.other {
		fmt.Printf("Server: %d deliveries got %s.\n\n", c, what)
	}
	if drained == jobs {
		fmt.Printf("Job workers (4, River on SQLite, 200 ms poll): %d of %d jobs done when the last response came; all done %v later (the jobs match no pipeline: decode, list pipelines, finish). Over the whole run: %.0f jobs/s.\n\n",
			completed, jobs, drain.Round(10*time.Millisecond), float64(jobs)/(ssent+drain).Seconds())
	} else {
		fmt.Printf("Job workers (4, River on SQLite, 200 ms poll): %d of %d jobs done when the last response came; %d a minute later.\n\n", completed, jobs, drained)
	}
	allStored := missing == 0 && ss.accepted == n
	fmt.Printf("Goal p99 ≤ 20 ms: %s. Every delivery acknowledged 202 and stored: %s.\n\n", verdict(ss.p99 <= 20*time.Millisecond), verdict(allStored))
	return nil
}
