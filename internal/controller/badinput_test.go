package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/controller/controllertest"
)

// TestBadInputGetsAClearErrorAndChangesNothing sends each kind of bad
// request and checks the status, the {code, external, internal} body with
// the offending field (and line, for YAML), and that the store is untouched.
func TestBadInputGetsAClearErrorAndChangesNothing(t *testing.T) {
	c := controllertest.Start(t)
	if a := admin(t, c, "POST", clustersPath, eksCluster); a.code != 201 {
		t.Fatalf("seed: %d %s", a.code, a.raw)
	}
	before := admin(t, c, "GET", clustersPath+"/demo-eks", "").raw

	cases := []struct {
		name        string
		method      string
		path        string
		key         string
		contentType string
		body        []byte
		code        int
		field       string // expected in some external problem
		line        int    // expected line of that problem, 0 = not checked
		message     string // expected in the answer
	}{
		{name: "malformed YAML", body: []byte("apiVersion: infra.k8smgmt.io/v3\nkind: Cluster\nmetadata:\n  name: [oops\n"),
			code: 400, line: 4, message: "yaml"},
		{name: "not a mapping", body: []byte("- just\n- a list\n"), code: 400, message: "mapping"},
		{name: "unknown kind", body: []byte("apiVersion: infra.k8smgmt.io/v3\nkind: Gadget\nmetadata:\n  name: x\nspec: {}\n"),
			code: 400, field: "kind", line: 2, message: "Gadget"},
		{name: "apiVersion does not match kind", body: []byte(strings.Replace(eksCluster, "infra.k8smgmt.io/v3", "apps.k8smgmt.io/v3", 1)),
			code: 400, field: "apiVersion", line: 1, message: "apps.k8smgmt.io/v3"},
		{name: "kind does not match URL", path: "/apis/infra.k8smgmt.io/v3/projects/default/namespaces", body: []byte(eksCluster),
			code: 400, field: "kind", message: "expected Namespace"},
		{name: "missing name", body: []byte(strings.Replace(eksCluster, "  name: demo-eks\n  project", "  project", 1)),
			code: 400, field: "metadata.name"},
		{name: "invalid name", body: []byte(strings.Replace(eksCluster, "name: demo-eks\n  project", "name: Demo_EKS\n  project", 1)),
			code: 400, field: "metadata.name", line: 4, message: "Demo_EKS"},
		{name: "project in URL differs from metadata.project", path: "/apis/infra.k8smgmt.io/v3/projects/other/clusters",
			body: []byte(eksCluster), code: 400, field: "metadata.project", line: 5, message: "other"},
		{name: "name in URL differs from metadata.name", method: "PUT", path: clustersPath + "/another",
			body: []byte(eksCluster), code: 400, field: "metadata.name", message: "another"},
		{name: "unknown top-level field", body: []byte(eksCluster + "extra: true\n"), code: 400, field: "extra", line: 20},
		{name: "empty body", body: nil, code: 400, message: "empty"},
		{name: "body over the limit", body: bytes.Repeat([]byte("#"), controller.MaxBodyBytes+1), code: 413, message: "limit"},
		{name: "resource over the limit", body: []byte(strings.Replace(eksCluster, "metadata:\n", "metadata:\n  labels:\n"+manyLongLabels(50000), 1)),
			code: 413, message: "the limit of 4194304 bytes (4 MiB) for one resource"},
		// 300,000 zeros in 600 kB: refused before a node of it is built,
		// naming the line of the node past the limit.
		{name: "more YAML nodes than the limit", body: []byte(strings.Replace(eksCluster, "spec:\n", "spec:\n  x: ["+strings.Repeat("0,", 300000)+"0]\n", 1)),
			code: 413, line: zerosLine, message: "more than 250000 YAML nodes"},
		{name: "more JSON nodes than the limit", contentType: "application/json",
			body: []byte(`{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Cluster", "metadata": {"name": "demo-eks", "project": "default"},` +
				"\n" + `"spec": {"x": [` + strings.Repeat("0,", 300000) + "0]}}"),
			code: 413, line: 2, message: "more than 250000 YAML nodes"},
		{name: "no API key", key: "-", body: []byte(eksCluster), code: 401, message: "X-API-KEY"},
		{name: "wrong API key", key: "not-a-key", body: []byte(eksCluster), code: 401, message: "unknown API key"},
		{name: "project does not exist", path: "/apis/infra.k8smgmt.io/v3/projects/nowhere/clusters",
			body: []byte(strings.Replace(eksCluster, "project: default", "project: nowhere", 1)), code: 404, message: `project \"nowhere\" not found`},
		{name: "unknown plural", path: "/apis/infra.k8smgmt.io/v3/projects/default/gadgets", body: []byte(eksCluster), code: 404, message: "gadgets"},
		{name: "malformed JSON", contentType: "application/json", body: []byte(`{"apiVersion": "infra.k8smgmt.io/v3", "kind": `), code: 400, message: "JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := head(t, c)
			method, path, key, ct := tc.method, tc.path, tc.key, tc.contentType
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = clustersPath
			}
			switch key {
			case "":
				key = controllertest.AdminKey
			case "-":
				key = ""
			}
			if ct == "" {
				ct = "application/yaml"
			}
			a := call(t, c, method, path, key, ct, tc.body)
			if a.code != tc.code {
				t.Fatalf("status %d, want %d: %s", a.code, tc.code, a.raw)
			}
			var eb controller.ErrorBody
			if err := json.Unmarshal([]byte(a.raw), &eb); err != nil || eb.Code != tc.code || eb.Internal == "" || len(eb.External) == 0 {
				t.Fatalf("error body not {code, external, internal}: %s", a.raw)
			}
			if tc.message != "" && !strings.Contains(strings.ToLower(a.raw), strings.ToLower(tc.message)) {
				t.Errorf("answer does not mention %q: %s", tc.message, a.raw)
			}
			if tc.field != "" || tc.line != 0 {
				found := false
				for _, p := range eb.External {
					if (tc.field == "" || p.Field == tc.field) && (tc.line == 0 || p.Line == tc.line) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem with field %q line %d in %s", tc.field, tc.line, a.raw)
				}
			}
			if head(t, c) != h {
				t.Errorf("a refused request advanced the event log")
			}
			if now := admin(t, c, "GET", clustersPath+"/demo-eks", "").raw; now != before {
				t.Errorf("a refused request changed the stored cluster:\n%s\n%s", before, now)
			}
		})
	}
}

// zerosLine is the line of eksCluster's first field under spec.
var zerosLine = 2 + strings.Count(eksCluster[:strings.Index(eksCluster, "spec:\n")], "\n")

// manyLongLabels is a YAML labels block of n entries (about 90 bytes each).
func manyLongLabels(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "    label-%06d: value-%s-%06d\n", i, strings.Repeat("x", 64), i)
	}
	return b.String()
}

// manyLabels is a YAML labels block of n entries (about 30 bytes each).
func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "    label-%06d: value-%06d\n", i, i)
	}
	return b.String()
}

func TestStatusIsAcceptedAndIgnored(t *testing.T) {
	c := controllertest.Start(t)
	a := admin(t, c, "POST", clustersPath, eksCluster+"status:\n  provisionStatus: INFRA_CREATION_INPROGRESS\n")
	if a.code != http.StatusCreated {
		t.Fatalf("apply with status: %d %s", a.code, a.raw)
	}
	if _, ok := a.body["status"]; ok {
		t.Fatalf("status kept: %s", a.raw)
	}
}

// TestBodyOverTheLimitIsRefusedUnread: a body whose Content-Length is over
// MaxBodyBytes gets 413 before the server reads a byte of it (the client
// here sends none until it has the answer).
func TestBodyOverTheLimitIsRefusedUnread(t *testing.T) {
	c := controllertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) }) // a client waiting for its body to be read gives up
	req, err := http.NewRequestWithContext(ctx, "POST", c.URL+clustersPath, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = controller.MaxBodyBytes + 1
	req.Header.Set("X-API-KEY", controllertest.AdminKey)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), "limit of 8388608 bytes") {
		t.Fatalf("status %d, want 413 naming the limit: %s", resp.StatusCode, raw)
	}
}
