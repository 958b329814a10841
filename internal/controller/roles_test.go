package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controller/controllertest"
)

const (
	namespacesPath = "/apis/infra.k8smgmt.io/v3/projects/default/namespaces"
	pipelinesPath  = "/apis/gitops.k8smgmt.io/v3/projects/default/pipelines"
	projectsPath   = "/apis/system.k8smgmt.io/v3/projects"
	eventsPath     = "/apis/system.k8smgmt.io/v3/events"
)

func nsYAML(name, value string) string {
	return fmt.Sprintf("apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: %s\n  project: default\nspec:\n  placement:\n    labels:\n    - key: env\n      value: %s\n", name, value)
}

// A System Sync pipeline as Rafay's own examples hold it
// (testdata/rafay-specs/pipeline/presales-system-sync-pipeline.yaml).
func pipelineYAML(name string) string {
	return `apiVersion: gitops.k8smgmt.io/v3
kind: Pipeline
metadata:
  name: ` + name + `
  project: default
spec:
  active: true
  sharing:
    enabled: false
  stages:
  - config:
      destinationRepo: {}
      gitToSystemSync: true
      systemToGitSync: true
      sourceAsDestination: true
      sourceRepo:
        repository: specs
        revision: main
    name: system-sync-stage
    type: SystemSync
  triggers:
  - config:
      repo:
        provider: Github
        repository: specs
        revision: main
    name: system-sync-webhook
    type: Webhook
`
}

func keyFor(t *testing.T, c *controllertest.Controller, email string, role access.Role) string {
	t.Helper()
	_, secret, err := c.Keys.Create(context.Background(), email, role)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func as(t *testing.T, c *controllertest.Controller, key, method, path, body string) answer {
	t.Helper()
	return call(t, c, method, path, key, "application/yaml", []byte(body))
}

// wantDenied checks a 403 in the controller's error shape, naming the role.
func wantDenied(t *testing.T, a answer, role access.Role, what string) {
	t.Helper()
	var eb controller.ErrorBody
	if a.code != http.StatusForbidden || json.Unmarshal([]byte(a.raw), &eb) != nil || eb.Code != 403 || len(eb.External) != 1 {
		t.Fatalf("%s: %d %s, want 403 {code, external, internal}", what, a.code, a.raw)
	}
	if !strings.Contains(eb.Internal, "role "+string(role)+" may not") || eb.External[0].Message != eb.Internal {
		t.Fatalf("%s: the answer does not say the role: %s", what, a.raw)
	}
}

type event struct {
	Revision int64  `json:"revision"`
	Type     string `json:"type"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	User     string `json:"user"`
}

func eventsSince(t *testing.T, c *controllertest.Controller, since int64) []event {
	t.Helper()
	a := admin(t, c, "GET", fmt.Sprintf("%s?since=%d", eventsPath, since), "")
	var list struct{ Items []event }
	if a.code != 200 || json.Unmarshal([]byte(a.raw), &list) != nil {
		t.Fatalf("events: %d %s", a.code, a.raw)
	}
	return list.Items
}

func TestViewerReadsAndNeverWrites(t *testing.T) {
	c := controllertest.Start(t)
	if a := admin(t, c, "POST", namespacesPath, nsYAML("team-a", "dev")); a.code != 201 {
		t.Fatalf("seed namespace: %d %s", a.code, a.raw)
	}
	if a := admin(t, c, "POST", pipelinesPath, pipelineYAML("sync-all")); a.code != 201 {
		t.Fatalf("seed pipeline: %d %s", a.code, a.raw)
	}
	viewer := keyFor(t, c, "vera@example.com", access.Viewer)
	for _, p := range []string{namespacesPath, namespacesPath + "/team-a", pipelinesPath, pipelinesPath + "/sync-all",
		projectsPath, projectsPath + "/default", eventsPath + "?since=0"} {
		if a := as(t, c, viewer, "GET", p, ""); a.code != 200 {
			t.Fatalf("viewer GET %s: %d %s", p, a.code, a.raw)
		}
	}
	before := admin(t, c, "GET", namespacesPath+"/team-a", "").raw
	pipelineBefore := admin(t, c, "GET", pipelinesPath+"/sync-all", "").raw
	h := head(t, c)
	for _, w := range []struct{ method, path, body string }{
		{"POST", namespacesPath, nsYAML("team-a", "prod")},
		{"POST", namespacesPath, nsYAML("team-b", "prod")},
		{"PUT", namespacesPath + "/team-a", nsYAML("team-a", "prod")},
		{"DELETE", namespacesPath + "/team-a", ""},
		{"POST", pipelinesPath, pipelineYAML("sync-all")},
		{"DELETE", pipelinesPath + "/sync-all", ""},
		{"POST", projectsPath, "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: other\n"},
		{"DELETE", projectsPath + "/default", ""},
		{"POST", "/apis/infra.k8smgmt.io/v3/projects/default/nosuchkinds", nsYAML("team-c", "x")},
	} {
		wantDenied(t, as(t, c, viewer, w.method, w.path, w.body), access.Viewer, w.method+" "+w.path)
	}
	// Nothing changed: the next event is the admin's change below.
	if a := admin(t, c, "POST", namespacesPath, nsYAML("after", "dev")); a.code != 201 {
		t.Fatalf("admin apply: %d %s", a.code, a.raw)
	}
	evs := eventsSince(t, c, h)
	if len(evs) != 1 || evs[0].Name != "after" || evs[0].User != controllertest.AdminEmail {
		t.Fatalf("events after the viewer's writes: %+v", evs)
	}
	if now := admin(t, c, "GET", namespacesPath+"/team-a", "").raw; now != before {
		t.Fatalf("the viewer changed team-a:\n%s\n%s", before, now)
	}
	if now := admin(t, c, "GET", pipelinesPath+"/sync-all", "").raw; now != pipelineBefore {
		t.Fatalf("the viewer changed the pipeline")
	}
}

func TestEditorWritesResourcesButNotPipelines(t *testing.T) {
	c := controllertest.Start(t)
	editor := keyFor(t, c, "ed@example.com", access.Editor)
	h := head(t, c)
	if a := as(t, c, editor, "POST", namespacesPath, nsYAML("team-a", "dev")); a.code != 201 {
		t.Fatalf("editor applies a namespace: %d %s", a.code, a.raw)
	}
	if a := as(t, c, editor, "PUT", namespacesPath+"/team-a", nsYAML("team-a", "prod")); a.code != 200 {
		t.Fatalf("editor updates it: %d %s", a.code, a.raw)
	}
	wantDenied(t, as(t, c, editor, "POST", pipelinesPath, pipelineYAML("sync-all")), access.Editor, "editor POST pipeline")
	wantDenied(t, as(t, c, editor, "PUT", pipelinesPath+"/sync-all", pipelineYAML("sync-all")), access.Editor, "editor PUT pipeline")
	// A Pipeline sent to another kind's URL is refused as that kind's.
	if a := as(t, c, editor, "POST", namespacesPath, pipelineYAML("sync-all")); a.code != 400 || !strings.Contains(a.raw, "kind is Pipeline") {
		t.Fatalf("editor POSTs a pipeline to the namespaces URL: %d %s", a.code, a.raw)
	}
	if a := admin(t, c, "POST", pipelinesPath, pipelineYAML("sync-all")); a.code != 201 {
		t.Fatalf("admin applies a pipeline: %d %s", a.code, a.raw)
	}
	wantDenied(t, as(t, c, editor, "DELETE", pipelinesPath+"/sync-all", ""), access.Editor, "editor DELETE pipeline")
	if a := as(t, c, editor, "GET", pipelinesPath+"/sync-all", ""); a.code != 200 {
		t.Fatalf("editor reads the pipeline: %d %s", a.code, a.raw)
	}
	if a := as(t, c, editor, "DELETE", namespacesPath+"/team-a", ""); a.code != 200 {
		t.Fatalf("editor deletes the namespace: %d %s", a.code, a.raw)
	}
	if a := admin(t, c, "DELETE", pipelinesPath+"/sync-all", ""); a.code != 200 {
		t.Fatalf("admin deletes the pipeline: %d %s", a.code, a.raw)
	}
	var got []string
	for _, e := range eventsSince(t, c, h) {
		got = append(got, e.Type+" "+e.Kind+"/"+e.Name+" by "+e.User)
	}
	want := []string{
		"Create Namespace/team-a by ed@example.com",
		"Update Namespace/team-a by ed@example.com",
		"Create Pipeline/sync-all by " + controllertest.AdminEmail,
		"Delete Namespace/team-a by ed@example.com",
		"Delete Pipeline/sync-all by " + controllertest.AdminEmail,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("event log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMissingUnknownAndRevokedKeysGet401(t *testing.T) {
	c := controllertest.Start(t)
	key, secret, err := c.Keys.Create(context.Background(), "gone@example.com", access.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if a := as(t, c, secret, "GET", namespacesPath, ""); a.code != 200 {
		t.Fatalf("before the revocation: %d %s", a.code, a.raw)
	}
	if _, err := c.Keys.Revoke(context.Background(), key.ID); err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]string{"missing": "", "unknown": "ss_nope", "revoked": secret} {
		for _, p := range []string{namespacesPath, "/apis/no/such/path"} {
			a := as(t, c, k, "GET", p, "")
			var eb controller.ErrorBody
			if a.code != 401 || json.Unmarshal([]byte(a.raw), &eb) != nil || eb.Code != 401 {
				t.Fatalf("%s key GET %s: %d %s", name, p, a.code, a.raw)
			}
		}
	}
}
