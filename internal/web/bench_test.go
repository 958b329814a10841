package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/config"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/parallel"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
)

// fill applies n namespaces to project default, several at a time (the
// controller batches concurrent writes).
func fill(b *testing.B, st *controller.Store, n int) {
	b.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var first error
	parallel.For(n, func(i int) {
		name := fmt.Sprintf("ns-%05d", i)
		obj := map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
			"metadata": map[string]any{"name": name, "project": "default", "labels": map[string]any{"team": fmt.Sprint(i % 37)}},
			"spec": map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": "prod"}}},
				"resourceQuotas": map[string]any{"cpuLimits": "4000m", "memoryLimits": "8000Mi"}}}
		if _, _, err := st.Apply(ctx, spec.Key{Kind: "Namespace", Project: "default", Name: name}, obj, "admin@example.com", ""); err != nil {
			mu.Lock()
			first = err
			mu.Unlock()
		}
	})
	if first != nil {
		b.Fatal(first)
	}
}

func timeGET(b *testing.B, c *http.Client, u string, hdr http.Header) time.Duration {
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return d
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkResourceListPage: the console's list page of a project holding
// 10,000 namespaces, 50 a page, against the floor of listing the same 50
// through the API, in the same run (requests interleaved, every page in
// turn). Reports p50 and p99 of each and the ratio of the p99s.
func BenchmarkResourceListPage(b *testing.B) {
	env := startConsoleB(b)
	fill(b, env.store, 10000)
	v := env.visitorB(b)
	hdr := http.Header{"X-API-KEY": {"admin-key"}}
	var api, page []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := i % 200
		api = append(api, timeGET(b, http.DefaultClient, fmt.Sprintf("%s/apis/infra.k8smgmt.io/v3/projects/default/namespaces?limit=50&offset=%d", env.url, n*50), hdr))
		page = append(page, timeGET(b, v, fmt.Sprintf("%s/projects/default/namespaces?page=%d", env.url, n+1), nil))
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(page, .5)), "page-p50-ms")
	b.ReportMetric(ms(percentile(page, .99)), "page-p99-ms")
	b.ReportMetric(ms(percentile(api, .5)), "api-p50-ms")
	b.ReportMetric(ms(percentile(api, .99)), "api-p99-ms")
	b.ReportMetric(float64(percentile(page, .99))/float64(percentile(api, .99)), "p99-ratio")
}

// BenchmarkRunPage: the page of a run with 10,000 rows, 100 a page, every
// page in turn. Reports p50 and p99.
func BenchmarkRunPage(b *testing.B) {
	ctx := context.Background()
	env := startConsoleB(b)
	id, err := env.runs.Start(ctx, "default/p", pipeline.TriggerManual, "abc", []byte(`{"manual":true,"user":"admin@example.com"}`))
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]pipeline.Row, 10000)
	for i := range rows {
		rows[i] = pipeline.Row{Kind: "Namespace", Project: "default", Name: fmt.Sprintf("ns-%05d", i),
			Path: fmt.Sprintf("projects/default/namespaces/ns-%05d.yaml", i), Action: "export", Outcome: "applied"}
	}
	if err := env.runs.Finish(ctx, id, pipeline.StatusSuccess, "abc", "", rows); err != nil {
		b.Fatal(err)
	}
	v := env.visitorB(b)
	var page []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		page = append(page, timeGET(b, v, fmt.Sprintf("%s/runs/%d?page=%d", env.url, id, i%100+1), nil))
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(page, .5)), "page-p50-ms")
	b.ReportMetric(ms(percentile(page, .99)), "page-p99-ms")
}

// startConsoleB is startConsole with the controller API on the same mux.
func startConsoleB(b *testing.B) *consoleEnv {
	return startConsoleTB(b, config.Web{}, nil, true)
}

// visitorB returns a client signed in as the admin.
func (env *consoleEnv) visitorB(b *testing.B) *http.Client {
	b.Helper()
	v := newVisitor(b, env)
	p := v.post("/login", url.Values{"api_key": {"admin-key"}})
	if p.code != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", p.code)
	}
	return v.c
}
