package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controller/controllertest"
	spec2 "github.com/systemsync/systemsync/internal/spec"
)

const clustersPath = "/apis/infra.k8smgmt.io/v3/projects/default/clusters"

const eksCluster = `apiVersion: infra.k8smgmt.io/v3
kind: Cluster
metadata:
  name: demo-eks
  project: default
spec:
  blueprintConfig:
    name: minimal
  cloudCredentials: aws-creds
  config:
    managedNodeGroups:
    - name: ng-1
      instanceType: t3.large
      desiredCapacity: 2
    metadata:
      name: demo-eks
      region: us-west-2
      version: "1.28"
  type: aws-eks
`

type answer struct {
	code     int
	body     map[string]any
	raw      string
	warnings []string // the Warning headers
}

func call(t *testing.T, c *controllertest.Controller, method, path, key, contentType string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, c.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, raw: string(raw), warnings: resp.Header.Values("Warning")}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func admin(t *testing.T, c *controllertest.Controller, method, path, body string) answer {
	t.Helper()
	return call(t, c, method, path, controllertest.AdminKey, "application/yaml", []byte(body))
}

func meta(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	m, ok := obj["metadata"].(map[string]any)
	if !ok {
		t.Fatalf("no metadata in %v", obj)
	}
	return m
}

func head(t *testing.T, c *controllertest.Controller) int64 {
	t.Helper()
	h, err := c.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCreateListGetUpdateDeleteWithEvents(t *testing.T) {
	c := controllertest.Start(t)
	created := admin(t, c, "POST", clustersPath, eksCluster)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.raw)
	}
	m := meta(t, created.body)
	rv1, _ := m["resourceVersion"].(string)
	if rv1 == "" || m["createdAt"] == nil || m["modifiedAt"] == nil {
		t.Fatalf("create answer lacks resourceVersion/createdAt/modifiedAt: %v", m)
	}

	list := admin(t, c, "GET", clustersPath, "")
	if list.code != 200 || list.body["kind"] != "ClusterList" || list.body["apiVersion"] != "infra.k8smgmt.io/v3" {
		t.Fatalf("list: %d %s", list.code, list.raw)
	}
	if lm := meta(t, list.body); lm["count"] != float64(1) {
		t.Fatalf("list count = %v", lm["count"])
	}

	// The same body again changes nothing: same version, no event.
	h := head(t, c)
	again := admin(t, c, "POST", clustersPath, eksCluster)
	if again.code != 200 || meta(t, again.body)["resourceVersion"] != rv1 || head(t, c) != h {
		t.Fatalf("re-apply of the same spec changed something: %d %v head %d→%d", again.code, meta(t, again.body)["resourceVersion"], h, head(t, c))
	}

	changed := admin(t, c, "POST", clustersPath, strings.Replace(eksCluster, "desiredCapacity: 2", "desiredCapacity: 3", 1))
	if changed.code != 200 {
		t.Fatalf("update: %d %s", changed.code, changed.raw)
	}
	rv2 := meta(t, changed.body)["resourceVersion"]
	if rv2 == rv1 {
		t.Fatal("update kept the resourceVersion")
	}
	got := admin(t, c, "GET", clustersPath+"/demo-eks", "")
	ng := got.body["spec"].(map[string]any)["config"].(map[string]any)["managedNodeGroups"].([]any)[0].(map[string]any)
	if got.code != 200 || ng["desiredCapacity"] != float64(3) {
		t.Fatalf("get after update: %d %s", got.code, got.raw)
	}

	if d := admin(t, c, "DELETE", clustersPath+"/demo-eks", ""); d.code != 200 {
		t.Fatalf("delete: %d %s", d.code, d.raw)
	}
	if g := admin(t, c, "GET", clustersPath+"/demo-eks", ""); g.code != 404 {
		t.Fatalf("get after delete: %d", g.code)
	}

	ev := admin(t, c, "GET", "/apis/system.k8smgmt.io/v3/events?since=1", "")
	var el controller.EventList
	json.Unmarshal([]byte(ev.raw), &el)
	var types []string
	for _, e := range el.Items {
		if e.Kind != "Cluster" || e.Name != "demo-eks" || e.Project != "default" || e.User != controllertest.AdminEmail {
			t.Fatalf("event %+v", e)
		}
		types = append(types, e.Type)
	}
	if strings.Join(types, ",") != "Create,Update,Delete" || el.Revision != el.Items[2].Revision {
		t.Fatalf("events %v, head %d", types, el.Revision)
	}
}

func TestEventsLongPollWakesOnChange(t *testing.T) {
	c := controllertest.Start(t)
	since := head(t, c)
	type result struct {
		a       answer
		elapsed time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		a := admin(t, c, "GET", "/apis/system.k8smgmt.io/v3/events?since="+itoa(since)+"&wait=10s", "")
		done <- result{a, time.Since(start)}
	}()
	time.Sleep(100 * time.Millisecond)
	if a := admin(t, c, "POST", clustersPath, eksCluster); a.code != 201 {
		t.Fatalf("create: %d %s", a.code, a.raw)
	}
	r := <-done
	if r.elapsed > 5*time.Second {
		t.Fatalf("long poll answered after %v, want at the change", r.elapsed)
	}
	items, _ := r.a.body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["type"] != "Create" {
		t.Fatalf("long poll answer %s", r.a.raw)
	}
	// Nothing newer: the wait runs out and answers with no items.
	start = time.Now()
	empty := admin(t, c, "GET", "/apis/system.k8smgmt.io/v3/events?since="+itoa(head(t, c))+"&wait=200ms", "")
	if el := time.Since(start); el < 150*time.Millisecond || len(empty.body["items"].([]any)) != 0 {
		t.Fatalf("idle long poll: %v %s", el, empty.raw)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestListPaging(t *testing.T) {
	c := controllertest.Start(t)
	for _, n := range []string{"ns-c", "ns-a", "ns-b"} {
		body := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: " + n + "\nspec:\n  placement: {}\n"
		if a := admin(t, c, "POST", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces", body); a.code != 201 {
			t.Fatalf("create %s: %d %s", n, a.code, a.raw)
		}
	}
	page := admin(t, c, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces?limit=2&offset=1", "")
	items := page.body["items"].([]any)
	m := meta(t, page.body)
	if len(items) != 2 || m["count"] != float64(3) || m["limit"] != float64(2) || m["offset"] != float64(1) {
		t.Fatalf("page: %s", page.raw)
	}
	if items[0].(map[string]any)["metadata"].(map[string]any)["name"] != "ns-b" {
		t.Fatalf("page not ordered by name: %s", page.raw)
	}
	if bad := admin(t, c, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces?limit=0", ""); bad.code != 400 {
		t.Fatalf("limit=0: %d", bad.code)
	}
}

func TestProjects(t *testing.T) {
	c := controllertest.Start(t)
	const projects = "/apis/system.k8smgmt.io/v3/projects"
	if a := admin(t, c, "POST", projects, "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: team-a\nspec:\n  default: false\n"); a.code != 201 {
		t.Fatalf("create project: %d %s", a.code, a.raw)
	}
	if a := admin(t, c, "POST", "/apis/infra.k8smgmt.io/v3/projects/team-a/clusters", strings.ReplaceAll(eksCluster, "project: default", "project: team-a")); a.code != 201 {
		t.Fatalf("create cluster in team-a: %d %s", a.code, a.raw)
	}
	list := admin(t, c, "GET", projects, "")
	if list.body["kind"] != "ProjectList" || meta(t, list.body)["count"] != float64(2) {
		t.Fatalf("project list: %s", list.raw)
	}
	h := head(t, c)
	refused := admin(t, c, "DELETE", projects+"/team-a", "")
	if refused.code != 409 || !strings.Contains(refused.raw, "still holds 1 resources") || head(t, c) != h {
		t.Fatalf("deleting a non-empty project: %d %s", refused.code, refused.raw)
	}
	admin(t, c, "DELETE", "/apis/infra.k8smgmt.io/v3/projects/team-a/clusters/demo-eks", "")
	if a := admin(t, c, "DELETE", projects+"/team-a", ""); a.code != 200 {
		t.Fatalf("deleting an empty project: %d %s", a.code, a.raw)
	}
	if a := admin(t, c, "GET", projects+"/team-a", ""); a.code != 404 {
		t.Fatalf("get deleted project: %d", a.code)
	}
}

func TestStaleResourceVersionIsConflict(t *testing.T) {
	c := controllertest.Start(t)
	first := admin(t, c, "POST", clustersPath, eksCluster)
	rv := meta(t, first.body)["resourceVersion"].(string)
	withRV := strings.Replace(eksCluster, "  project: default\n", "  project: default\n  resourceVersion: \""+rv+"\"\n", 1)
	ok := admin(t, c, "POST", clustersPath, strings.Replace(withRV, "t3.large", "t3.xlarge", 1))
	if ok.code != 200 {
		t.Fatalf("update with current version: %d %s", ok.code, ok.raw)
	}
	h := head(t, c)
	stale := admin(t, c, "POST", clustersPath, strings.Replace(withRV, "t3.large", "m5.large", 1))
	if stale.code != 409 || !strings.Contains(stale.raw, "stale") {
		t.Fatalf("update with stale version: %d %s", stale.code, stale.raw)
	}
	got := admin(t, c, "GET", clustersPath+"/demo-eks", "")
	if !strings.Contains(got.raw, "t3.xlarge") || head(t, c) != h {
		t.Fatalf("stale update changed the resource: %s", got.raw)
	}
}

func TestClearTextSecretIsStoredByTheAPI(t *testing.T) {
	c := controllertest.Start(t)
	body := `{"apiVersion":"integrations.k8smgmt.io/v3","kind":"Repository","metadata":{"name":"git-repo","project":"default"},
"spec":{"type":"Git","endpoint":"https://example.com/r.git","credentials":{"username":"u","password":"hunter2"}}}`
	a := call(t, c, "POST", "/apis/integrations.k8smgmt.io/v3/projects/default/repositories", controllertest.AdminKey, "application/json", []byte(body))
	if a.code != 201 || !strings.Contains(a.raw, "hunter2") {
		t.Fatalf("repository with a password: %d %s", a.code, a.raw)
	}
}

// TestGKEClusterIsStoredWithAWarning stores the GKE cluster of a real Rafay
// export, as Rafay's own controller holds it: 201, the warning that Git
// does not sync it in a Warning header, and the object as it was sent.
func TestGKEClusterIsStoredWithAWarning(t *testing.T) {
	c := controllertest.Start(t)
	data, err := os.ReadFile("../../testdata/rafay-specs/cluster/syncrepo-gke-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gke := strings.ReplaceAll(string(data), "project: shared-infra-team", "project: default")
	a := admin(t, c, "POST", clustersPath, gke)
	if a.code != http.StatusCreated {
		t.Fatalf("apply of a GKE cluster: %d %s", a.code, a.raw)
	}
	want := `299 - "spec.type: cluster type \"gke\": only EKS (aws-eks) and AKS (aks) clusters sync from Git"`
	if len(a.warnings) != 1 || a.warnings[0] != want {
		t.Fatalf("Warning headers %q, want [%s]", a.warnings, want)
	}
	got := admin(t, c, "GET", clustersPath+"/shared-infra-team-gke-73-demo", "")
	spec, _ := got.body["spec"].(map[string]any)
	cfg, _ := spec["config"].(map[string]any)
	if got.code != http.StatusOK || spec["type"] != "gke" || cfg["gcpProject"] != "demos-249423" {
		t.Fatalf("stored GKE cluster: %d %s", got.code, got.raw)
	}
	// An apply without doubts has no Warning header; errors are a 400
	// that carries the errors only.
	if a := admin(t, c, "POST", clustersPath, eksCluster); a.code != http.StatusCreated || len(a.warnings) != 0 {
		t.Fatalf("EKS apply: %d, warnings %q", a.code, a.warnings)
	}
	bad := strings.Replace(gke, "name: shared-infra-team-gke-73-demo", "name: GKE", 1)
	a = admin(t, c, "POST", clustersPath, bad)
	var eb controller.ErrorBody
	if err := json.Unmarshal([]byte(a.raw), &eb); err != nil || a.code != http.StatusBadRequest || len(eb.External) != 1 ||
		eb.External[0].Field != "metadata.name" || eb.External[0].Severity != spec2.SeverityError || len(a.warnings) != 0 {
		t.Fatalf("invalid GKE cluster: %d %s, warnings %q", a.code, a.raw, a.warnings)
	}
}
