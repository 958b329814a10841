package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/spec/spectest"
)

const gkePath = "projects/shared-infra-team/clusters/shared-infra-team-gke-73-demo.yaml"

// onceRefused holds ten files in the shapes Rafay's exporter writes that
// the validator used to refuse (issue 11): a Repository with `agents:
// [{}]` (how Rafay writes one without an agent), one without an endpoint,
// an Addon without a version, `sharing: {}` and `artifact: {}`. They are
// the real files of the gke-system-sync repository with those fields so.
func onceRefused(t *testing.T) map[string]string {
	t.Helper()
	read := func(name string) string {
		return strings.ReplaceAll(string(mustRead(t, "../../testdata/rafay-specs/"+name)), "project: shared-infra-team", "project: naas")
	}
	helm := read("repository/syncrepo-helm-repo.yaml")
	git := read("repository/syncrepo-git-repo-with-sealed-credentials.yaml")
	argocd := read("addon/syncrepo-argocd-helm-catalog-addon.yaml")
	workload := strings.ReplaceAll(read("workload/syncrepo-yaml-workload.yaml"), "project: echo-team", "project: naas")
	out := map[string]string{}
	for i, name := range []string{"bitnami", "charts", "stable", "internal", "mirror"} {
		repo := strings.Replace(helm, "name: default-bitnami", "name: "+name, 1)
		if i%2 == 1 {
			repo = strings.Replace(repo, "spec:\n", "spec:\n  agents:\n  - {}\n", 1)
		} else {
			repo = strings.Replace(repo, "spec:\n", "spec:\n  agents:\n  - {}\n  - {}\n", 1)
		}
		out["projects/naas/repositories/"+name+".yaml"] = repo
	}
	out["projects/naas/repositories/gitops.yaml"] = strings.Replace(strings.Replace(git, "name: gke-system-sync\n  project", "name: gitops\n  project", 1),
		"  agents:\n  - name: gke-system-sync\n", "  agents:\n  - {}\n", 1)
	out["projects/naas/repositories/no-endpoint.yaml"] = "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n" +
		"  name: no-endpoint\n  project: naas\nspec:\n  agents:\n  - {}\n  type: Git\n"
	out["projects/naas/addons/argocd.yaml"] = strings.Replace(argocd, "  version: 5.38.1\n", "", 1)
	out["projects/naas/addons/empty-artifact.yaml"] = strings.Replace(strings.Replace(argocd, "name: argocd", "name: empty-artifact", 1),
		argocd[strings.Index(argocd, "  artifact:\n"):strings.Index(argocd, "  namespace:")], "  artifact: {}\n", 1)
	out["projects/naas/workloads/empty-artifact.yaml"] = strings.Replace(strings.Replace(workload, "name: alpha-team-dev", "name: empty-artifact", 1),
		workload[strings.Index(workload, "  artifact:\n"):strings.Index(workload, "  namespace:")], "  artifact: {}\n", 1)
	if len(out) != 10 {
		t.Fatalf("%d files", len(out))
	}
	return out
}

// rafayTree is a tree Rafay's System Sync wrote: the files of the real
// gke-system-sync repository at their paths there (artifacts included),
// the Project of echo-team as Rafay writes one, and a generated tree in
// Rafay's bytes (spectest.Exported), whose first file is the Project of
// shared-infra-team.
func rafayTree(t *testing.T) map[string]string {
	t.Helper()
	sources := string(mustRead(t, "../../testdata/rafay-specs/SOURCES.txt"))
	files := map[string]string{}
	for _, line := range strings.Split(sources, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.Contains(f[0], "/syncrepo-") || f[2] != "github.com/rafay-presales/gke-system-sync" {
			continue
		}
		files[strings.TrimPrefix(f[3], "path=")] = string(mustRead(t, "../../testdata/rafay-specs/"+f[0]))
	}
	if len(files) < 20 {
		t.Fatalf("only %d files of the real repository", len(files))
	}
	files["projects/echo-team.yaml"] = "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: echo-team\nspec: {}\n"
	generated, err := spectest.Exported(spectest.Generate(80, 5))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range generated {
		files[g.Path] = string(g.Data)
	}
	if _, ok := files["projects/shared-infra-team.yaml"]; !ok {
		t.Fatal("the generated tree has no shared-infra-team project")
	}
	for p, data := range onceRefused(t) {
		files[p] = data
	}
	return files
}

// isArtifact reports whether rel is an artifact of the layout (a file
// deeper than a spec).
func isArtifact(rel string) bool { return spec.ClassifyPath(rel).Type == spec.PathArtifact }

// pipelineTo makes the pipeline of env e sync its source into the empty
// repository dest (destinationRepo), gitToSystem as given.
func pipelineTo(t *testing.T, e *env, destURL string, gitToSystem bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.sys.Apply(ctx, repository("dest", destURL)); err != nil {
		t.Fatal(err)
	}
	p := syncPipeline("specs", "")
	cfg := p["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)["config"].(map[string]any)
	cfg["sourceAsDestination"], cfg["gitToSystemSync"] = false, gitToSystem
	cfg["destinationRepo"] = map[string]any{"repository": "dest", "revision": "main"}
	if _, err := e.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
}

// wantSameBytes clones url and checks that every file of tree (but skip)
// is there, byte for byte. It returns how many files it compared.
func wantSameBytes(t *testing.T, url string, tree map[string]string, skip func(string) bool) int {
	t.Helper()
	clone := gittest.Clone(t, url)
	n := 0
	for p, want := range tree {
		if skip(p) {
			continue
		}
		n++
		got, err := os.ReadFile(filepath.Join(clone.Dir, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s: not exported: %v", p, err)
		} else if string(got) != want {
			t.Errorf("%s: exported\n%s\nRafay wrote\n%s", p, got, want)
		}
	}
	return n
}

// TestRafayTreeRoundTripsThroughGit pushes a tree Rafay wrote, syncs it into
// the system and exports the system into an empty repository: every file
// comes back byte for byte, but for the GKE cluster, which a sync from Git
// skips (a Success run says so). The ten shapes once refused are created.
func TestRafayTreeRoundTripsThroughGit(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	srv := gittest.Serve(t)
	destURL := srv.NewBare(t, "dest")
	pipelineTo(t, e, destURL, true)
	tree := rafayTree(t)
	e.work.Write(tree).Commit("a tree Rafay wrote")
	e.work.Push("main")
	ids, err := e.runner.SyncNow(ctx, "default", "system-sync")
	if err != nil || len(ids) != 1 {
		t.Fatalf("sync: %v %v", ids, err)
	}
	run, err := e.runner.Runs.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	applied, skipped := 0, 0
	refused := onceRefused(t)
	for _, r := range run.Rows {
		if _, ok := refused[r.Path]; ok && (r.Action != "create" || r.Outcome != "applied" || r.Message != "") {
			t.Errorf("once refused: %+v", r)
		}
		delete(refused, r.Path)
		switch {
		case r.Action == "skipped":
			skipped++
			if r.Path != gkePath || r.Outcome != "skipped" || r.Message != `cluster type "gke": only EKS (aws-eks) and AKS (aks) clusters sync from Git` {
				t.Errorf("skipped row %+v", r)
			}
		case r.Action == "create" && r.Outcome == "applied":
			applied++
		case r.Action == "export" && r.Outcome == "applied":
		default:
			t.Errorf("row %+v", r)
		}
	}
	specs := 0
	for p := range tree {
		if !isArtifact(p) {
			specs++
		}
	}
	if len(refused) > 0 {
		t.Errorf("no row for %v", refused)
	}
	if run.Status != pipeline.StatusSuccess || skipped != 1 || applied != specs-1 {
		t.Fatalf("run %s: %d applied, %d skipped of %d specs", run.Status, applied, skipped, specs)
	}
	if _, err := e.sys.Get(ctx, "Cluster", "shared-infra-team", "shared-infra-team-gke-73-demo"); !controllerapi.IsNotFound(err) {
		t.Fatalf("the GKE cluster was applied from Git: %v", err)
	}
	n := wantSameBytes(t, destURL, tree, func(p string) bool { return p == gkePath })
	if n != len(tree)-1 {
		t.Fatalf("compared %d files", n)
	}
}

// TestRafayTreeRoundTripsThroughTheAPI puts every resource of a tree Rafay
// wrote into the system through the REST API, as YAML, and exports the
// system into an empty repository: every spec comes back byte for byte,
// the GKE cluster included.
func TestRafayTreeRoundTripsThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	e, c := setupWithController(t, "")
	srv := gittest.Serve(t)
	destURL := srv.NewBare(t, "dest")
	pipelineTo(t, e, destURL, false)
	tree := rafayTree(t)
	var projects, others []string
	for p := range tree {
		switch spec.ClassifyPath(p).Type {
		case spec.PathProject:
			projects = append(projects, p)
		case spec.PathSpec:
			others = append(others, p)
		}
	}
	sort.Strings(projects)
	sort.Strings(others)
	for _, p := range append(projects, others...) {
		k := spec.ClassifyPath(p).Key
		kind, _ := spec.LookupKind(k.Kind)
		url := c.URL + "/apis/" + kind.Group + "/v3/projects"
		if k.Kind != "Project" {
			url += "/" + k.Project + "/" + kind.Plural
		}
		req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(tree[p])))
		req.Header.Set("X-API-KEY", controllertest.AdminKey)
		req.Header.Set("Content-Type", "application/yaml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", p, resp.StatusCode, body)
		}
		if warned := resp.Header.Get("Warning") != ""; warned != (p == gkePath) {
			t.Errorf("POST %s: Warning %q", p, resp.Header.Values("Warning"))
		}
	}
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	if n := wantSameBytes(t, destURL, tree, isArtifact); n != len(projects)+len(others) {
		t.Fatalf("compared %d files", n)
	}
}

// TestGKEClusterLivesInTheSystem stores a GKE cluster through the API: it
// is written to Git like any resource, in Rafay's bytes; a change to it in
// Git is skipped (a Success run whose only row says why), and the system
// keeps its cluster.
func TestGKEClusterLivesInTheSystem(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "")
	e.work.Write(map[string]string{"README.md": "specs\n"}).Commit("init")
	e.work.Push("main")
	gke := strings.ReplaceAll(string(mustRead(t, "../../testdata/rafay-specs/cluster/syncrepo-gke-cluster.yaml")), "shared-infra-team", "default")
	rs, _ := spec.Parse("gke.yaml", []byte(gke))
	if _, err := e.sys.Apply(ctx, rs[0].Object); err != nil {
		t.Fatalf("the system refused a GKE cluster: %v", err)
	}
	if _, err := e.runner.SyncNow(ctx, "default", "system-sync"); err != nil {
		t.Fatal(err)
	}
	path := "projects/default/clusters/default-gke-73-demo.yaml"
	e.work.Run("pull", "-q", "origin", "main")
	if got, err := os.ReadFile(filepath.Join(e.work.Dir, path)); err != nil || string(got) != gke {
		t.Fatalf("exported GKE cluster (%v):\n%s\nwant Rafay's bytes\n%s", err, got, gke)
	}

	e.work.Write(map[string]string{path: strings.Replace(gke, "size: 1", "size: 3", 1)}).Commit("resize the GKE pool")
	e.work.Push("main")
	if err := e.poller.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	runs, _ := e.runner.Runs.List(ctx, "default/system-sync", 10)
	run, err := e.runner.Runs.Get(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Trigger != pipeline.TriggerWebhook || run.Status != pipeline.StatusSuccess || len(run.Rows) != 1 {
		t.Fatalf("run of the push: %+v", run)
	}
	if r := run.Rows[0]; r.Path != path || r.Action != "skipped" || r.Outcome != "skipped" ||
		r.Message != `cluster type "gke": only EKS (aws-eks) and AKS (aks) clusters sync from Git` {
		t.Fatalf("row %+v", r)
	}
	got, err := e.sys.Get(ctx, "Cluster", "default", "default-gke-73-demo")
	if err != nil {
		t.Fatal(err)
	}
	pool := got["spec"].(map[string]any)["config"].(map[string]any)["nodePools"].([]any)[0].(map[string]any)
	if pool["size"] != int64(1) && pool["size"] != 1.0 {
		t.Fatalf("the system's GKE cluster changed from Git: size %v", pool["size"])
	}
}
