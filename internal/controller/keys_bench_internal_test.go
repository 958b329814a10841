package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// BenchmarkApplyKeyLookup is the apply path through the API (an update of
// one Namespace per request, over HTTP) with each request's key answered
// from the cache, as Keys does between two of its lookups, and looked up
// in the database every request (ttl 0): what checking the database on
// every request would cost.
func BenchmarkApplyKeyLookup(b *testing.B) {
	for _, c := range []struct {
		name string
		ttl  int64 // multiples of RevocationDelay
	}{{"cached", 1}, {"database every request", 0}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b)
			keys := NewKeys(db)
			keys.ttl = RevocationDelay * time.Duration(c.ttl)
			if _, err := keys.Register(ctx, "bench-key", "bench@example.com", access.Editor); err != nil {
				b.Fatal(err)
			}
			st := NewStore(db)
			project := map[string]any{"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "default"}}
			if _, _, err := st.Apply(ctx, spec.Key{Kind: "Project", Name: "default"}, project, "bench@example.com", ""); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(NewAPI(st, keys, slog.New(slog.NewTextHandler(io.Discard, nil))))
			defer srv.Close()
			client := srv.Client()
			url := srv.URL + "/apis/infra.k8smgmt.io/v3/projects/default/namespaces"
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body := fmt.Sprintf("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: ns\n  project: default\nspec:\n  placement:\n    labels:\n    - key: n\n      value: v%d\n", i)
				req, _ := http.NewRequest("POST", url, strings.NewReader(body))
				req.Header.Set("X-API-KEY", "bench-key")
				req.Header.Set("Content-Type", "application/yaml")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 && resp.StatusCode != 201 {
					b.Fatalf("apply: %d", resp.StatusCode)
				}
			}
		})
	}
}

// BenchmarkAuthenticate is one key lookup: from the cache, and from the database.
func BenchmarkAuthenticate(b *testing.B) {
	for _, c := range []struct {
		name string
		ttl  int64
	}{{"cached", 1}, {"database", 0}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			keys := NewKeys(storetest.Open(b))
			keys.ttl = RevocationDelay * time.Duration(c.ttl)
			if _, err := keys.Register(ctx, "bench-key", "bench@example.com", access.Viewer); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := keys.Authenticate(ctx, "bench-key"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
