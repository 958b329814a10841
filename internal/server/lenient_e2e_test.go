package server_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/githubtest"
)

// TestPullRequestPlanCarriesWarnings plans a pull request that adds a GKE
// cluster (valid, skipped from Git) and a namespace with a doubtful field
// (valid, created): the check run succeeds, with a warning annotation on
// each doubtful line, and the plan comment shows the skipped row and the
// warning.
func TestPullRequestPlanCarriesWarnings(t *testing.T) {
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	gke, err := os.ReadFile("../../testdata/rafay-specs/cluster/syncrepo-gke-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gkePath := folder + "/projects/default/clusters/gke.yaml"
	head := cmdBranch(t, b, "feature", map[string]string{
		gkePath: strings.NewReplacer("shared-infra-team-gke-73-demo", "gke", "project: shared-infra-team", "project: default").Replace(string(gke)),
		p("w"):  strings.Replace(ns("w", "dev"), "  project: default\n", "  project: default\n  namespace: w\n", 1),
	})
	pr := githubtest.Pull{Number: 12, HeadRef: "feature", BaseRef: "main"}
	b.gh.AddPull(owner, repoName, pr)
	code, resp, _ := b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })
	if code != http.StatusAccepted {
		t.Fatalf("pull_request delivery: %d %s", code, resp)
	}
	check := cmdCompletedPlan(t, b, head, 1)
	if check.GetConclusion() != "success" {
		t.Fatalf("plan conclusion %s: warnings alone must not fail it", check.GetConclusion())
	}
	var anns []string
	for _, a := range b.gh.Annotations(check.GetID()) {
		anns = append(anns, fmt.Sprintf("%s:%d:%s:%s", a.GetPath(), a.GetStartLine(), a.GetAnnotationLevel(), a.GetMessage()))
	}
	want := []string{
		gkePath + `:53:warning:spec.type: cluster type "gke": only EKS (aws-eks) and AKS (aks) clusters sync from Git`,
		p("w") + ":6:warning:metadata.namespace: unknown metadata field: allowed are name, project, description, labels, annotations and displayName",
	}
	if strings.Join(anns, "\n") != strings.Join(want, "\n") {
		t.Fatalf("annotations\n%s\nwant\n%s", strings.Join(anns, "\n"), strings.Join(want, "\n"))
	}
	eventually(t, "the plan comment", func() bool { return len(b.gh.Comments(owner, repoName, 12)) == 1 })
	body := b.gh.Comments(owner, repoName, 12)[0].GetBody()
	for _, s := range []string{"2 to create, 1 skipped (not synced from Git)", "| ⏭️ skipped | Cluster `default/gke` |",
		"only EKS (aws-eks) and AKS (aks) clusters sync from Git; 1 warning(s) |", "| ➕ create | Namespace `default/w` |"} {
		if !strings.Contains(body, s) {
			t.Errorf("plan comment lacks %q:\n%s", s, body)
		}
	}
}
