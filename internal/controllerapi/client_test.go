package controllerapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/spec"
)

func namespace(name string) controllerapi.Object {
	return controllerapi.Object{
		"apiVersion": "infra.k8smgmt.io/v3",
		"kind":       "Namespace",
		"metadata":   map[string]any{"name": name, "project": "default"},
		"spec":       map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": "dev"}}}},
	}
}

func TestClientAgainstEmbeddedController(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	cl := controllerapi.New(c.URL, controllertest.AdminKey)

	for _, n := range []string{"alpha", "beta", "gamma"} {
		out, err := cl.Apply(ctx, namespace(n))
		if err != nil {
			t.Fatalf("apply %s: %v", n, err)
		}
		if out["metadata"].(map[string]any)["resourceVersion"] == nil {
			t.Fatalf("apply answer lacks resourceVersion: %v", out)
		}
	}
	got, err := cl.Get(ctx, "Namespace", "default", "beta")
	if err != nil {
		t.Fatal(err)
	}
	labels := got["spec"].(map[string]any)["placement"].(map[string]any)["labels"].([]any)
	if labels[0].(map[string]any)["value"] != "dev" {
		t.Fatalf("get returned %v", got)
	}
	page, err := cl.List(ctx, "Namespace", "default", 2, 0)
	if err != nil || len(page.Items) != 2 || page.Count != 3 {
		t.Fatalf("list page: %+v %v", page, err)
	}
	all, err := cl.ListAll(ctx, "Namespace", "default")
	if err != nil || len(all) != 3 {
		t.Fatalf("list all: %d %v", len(all), err)
	}
	projects, err := cl.ListAll(ctx, "Project", "")
	if err != nil || len(projects) != 1 {
		t.Fatalf("projects: %v %v", projects, err)
	}

	evs, err := cl.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := evs.Items[len(evs.Items)-1]
	if last.Type != "Create" || last.Name != "gamma" || last.User != controllertest.AdminEmail || evs.Revision != last.Revision {
		t.Fatalf("events: %+v", evs)
	}

	if err := cl.Delete(ctx, "Namespace", "default", "beta"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, "Namespace", "default", "beta"); !controllerapi.IsNotFound(err) {
		t.Fatalf("get deleted: %v, want not found", err)
	}
	if err := cl.Delete(ctx, "Namespace", "default", "beta"); !controllerapi.IsNotFound(err) {
		t.Fatalf("delete twice: %v, want not found", err)
	}
}

func TestClientErrorsCanBeTested(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	cl := controllerapi.New(c.URL, controllertest.AdminKey)

	bad := namespace("Bad_Name")
	_, err := cl.Apply(ctx, bad)
	problems, ok := controllerapi.Invalid(err)
	if !ok || len(problems) == 0 || problems[0].Field != "metadata.name" {
		t.Fatalf("invalid apply: %v (%v)", err, problems)
	}

	out, err := cl.Apply(ctx, namespace("ns"))
	if err != nil {
		t.Fatal(err)
	}
	stale := namespace("ns")
	stale["metadata"].(map[string]any)["resourceVersion"] = "1"
	stale["spec"] = map[string]any{"placement": map[string]any{}}
	if _, err := cl.Apply(ctx, stale); !controllerapi.IsConflict(err) {
		t.Fatalf("stale apply: %v, want conflict (current %v)", err, out["metadata"])
	}

	if _, err := controllerapi.New(c.URL, "wrong").Get(ctx, "Namespace", "default", "ns"); !controllerapi.IsUnauthorized(err) {
		t.Fatalf("wrong key: %v, want unauthorized", err)
	}
}

func TestClientWaitsForEvents(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	cl := controllerapi.New(c.URL, controllertest.AdminKey)
	head, err := cl.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		cl.Apply(ctx, namespace("late"))
	}()
	got, err := cl.Events(ctx, head.Revision, 5*time.Second)
	if err != nil || len(got.Items) != 1 || got.Items[0].Name != "late" {
		t.Fatalf("waited events: %+v %v", got, err)
	}
}

// flaky fronts the controller and answers 503 to the first n requests.
func flaky(t *testing.T, target string, n int32) (*httptest.Server, *atomic.Int32) {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			http.Error(w, `{"code":503,"external":[{"message":"busy"}],"internal":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestClientRetriesSafeCallsOnly(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	if _, err := controllerapi.New(c.URL, controllertest.AdminKey).Apply(ctx, namespace("ns")); err != nil {
		t.Fatal(err)
	}

	srv, seen := flaky(t, c.URL, 2)
	cl := controllerapi.New(srv.URL, controllertest.AdminKey, controllerapi.WithRetries(4, time.Millisecond))
	if _, err := cl.Get(ctx, "Namespace", "default", "ns"); err != nil {
		t.Fatalf("get through two 503s: %v", err)
	}
	if seen.Load() != 3 {
		t.Fatalf("get took %d requests, want 3", seen.Load())
	}

	srv, seen = flaky(t, c.URL, 1)
	cl = controllerapi.New(srv.URL, controllertest.AdminKey, controllerapi.WithRetries(4, time.Millisecond))
	if _, err := cl.Apply(ctx, namespace("other")); err == nil {
		t.Fatal("apply through a 503 succeeded; it must not be retried")
	}
	if seen.Load() != 1 {
		t.Fatalf("apply took %d requests, want 1", seen.Load())
	}

	// A server that is down: the client tries, backs off, then reports.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cl = controllerapi.New(down.URL, controllertest.AdminKey, controllerapi.WithRetries(3, time.Millisecond))
	if _, err := cl.Get(ctx, "Namespace", "default", "ns"); err == nil {
		t.Fatal("get from a closed server succeeded")
	}
}

func TestHasEventLog(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	if ok, err := controllerapi.New(c.URL, controllertest.AdminKey).HasEventLog(ctx); err != nil || !ok {
		t.Fatalf("embedded controller: has event log %v, %v; want true", ok, err)
	}
	if ok, err := controllerapi.New(c.WithoutEventLog(t), controllertest.AdminKey).HasEventLog(ctx); err != nil || ok {
		t.Fatalf("controller without events: has event log %v, %v; want false", ok, err)
	}
	if _, err := controllerapi.New(c.URL, "wrong-key").HasEventLog(ctx); !controllerapi.IsUnauthorized(err) {
		t.Fatalf("wrong key: %v, want 401", err)
	}
	var calls atomic.Int32
	notImpl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNotImplemented)
	}))
	defer notImpl.Close()
	if ok, err := controllerapi.New(notImpl.URL, "k").HasEventLog(ctx); err != nil || ok {
		t.Fatalf("501: has event log %v, %v; want false", ok, err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("a 501 was asked %d times; it is not worth a retry", n)
	}
}

// TestListReadsItemsAsNormalizeDoes: the items of a page are what
// spec.Normalize makes of the decoded JSON, numbers and null items included.
func TestListReadsItemsAsNormalizeDoes(t *testing.T) {
	const page = `{"apiVersion":"infra.k8smgmt.io/v3","kind":"NamespaceList","metadata":{"count":3,"limit":10,"offset":0},"items":[
		{"kind":"Namespace","metadata":{"name":"a","resourceVersion":"3"},"spec":{"n":[1,-2,1.5,1e300,9223372036854775808,1e400,{"m":0}],"s":"x","b":true,"z":null}},
		null,
		{"kind":"Namespace","metadata":{"name":"c"}}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()
	l, err := controllerapi.New(srv.URL, "k").List(context.Background(), "Namespace", "default", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(page))
	dec.UseNumber()
	var raw struct{ Items []map[string]any }
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 3 || l.Count != 3 {
		t.Fatalf("page %+v", l)
	}
	for i, it := range raw.Items {
		if want := spec.Normalize(it); !reflect.DeepEqual(l.Items[i], want) {
			t.Errorf("item %d:\n got %#v\nwant %#v", i, l.Items[i], want)
		}
	}
}
