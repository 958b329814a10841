package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

// TestListAnswerIsTheEncodedViews: a list page is byte for byte the JSON
// encoding of {apiVersion, items: the Views of the stored resources, kind,
// metadata}, for every page size and offset.
func TestListAnswerIsTheEncodedViews(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	n := 0
	for _, f := range spectest.Generate(120, 3) {
		rs, _ := spec.Parse(f.Path, f.Data)
		r := rs[0]
		if r.KindName() == "Project" {
			continue
		}
		r.SetProject("default")
		if _, _, err := c.Store.Apply(ctx, spec.Key{Kind: r.KindName(), Project: "default", Name: r.Name()}, spec.Canonical(r.Object), controllertest.AdminEmail, ""); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for _, kind := range []string{"Namespace", "Cluster", "Workload", "OPAPolicy", "Project"} {
		k, _ := spec.LookupKind(kind)
		path := "/apis/" + k.Group + "/v3/projects/default/" + k.Plural
		project := "default"
		if kind == "Project" {
			path, project = "/apis/system.k8smgmt.io/v3/projects", ""
		}
		for _, q := range []struct{ limit, offset int }{{100, 0}, {3, 0}, {3, 2}, {1000, 5}, {10, 1000}} {
			got := get(t, c, fmt.Sprintf("%s?limit=%d&offset=%d", path, q.limit, q.offset))
			items, total, err := c.Store.List(ctx, kind, project, q.limit, q.offset)
			if err != nil {
				t.Fatal(err)
			}
			views := make([]map[string]any, 0, len(items))
			for _, it := range items {
				views = append(views, it.View())
			}
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(map[string]any{
				"apiVersion": k.APIVersion(), "kind": kind + "List",
				"metadata": map[string]any{"count": total, "limit": q.limit, "offset": q.offset},
				"items":    views,
			}); err != nil {
				t.Fatal(err)
			}
			if got != want.String() {
				t.Fatalf("%s limit %d offset %d:\n got %.300s\nwant %.300s", kind, q.limit, q.offset, got, want.String())
			}
		}
	}
	if n < 100 {
		t.Fatalf("stored %d resources", n)
	}
}

func get(t *testing.T, c *controllertest.Controller, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", controllertest.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
	}
	return string(data)
}
