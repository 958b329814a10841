package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/githubtest"
)

// A pull request from anyone (a fork) adding a file for a Repository the
// system holds with a clear password: the plan comment and the check run
// say that spec.credentials.password changes, and show neither value.
func TestPlanOfAForkShowsNoSecretTheSystemHolds(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	const secret = "hunter2-SYSTEM-SECRET"
	// Stored through the API (which stores such values, as Rafay's does).
	if _, err := b.sys.Apply(ctx, map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "git-creds", "project": "default"},
		"spec": map[string]any{"type": "Git", "endpoint": "https://example.com/r.git",
			"credentials": map[string]any{"username": "deploy", "password": secret}}}); err != nil {
		t.Fatal(err)
	}
	b.work.Write(map[string]string{p("keep"): ns("keep", "dev")})
	base := b.work.Commit("base")
	b.work.Push("main")
	b.push(t, "0000000000000000000000000000000000000000", base, "main")
	b.waitRuns(t, 1)

	b.work.Run("checkout", "-q", "-b", "fork-work")
	b.work.Write(map[string]string{folder + "/projects/default/repositories/git-creds.yaml": strings.Replace(gitRepoWithPassword, "hunter2", "${DB_PASSWORD}", 1)})
	head := b.work.Commit("from a fork")
	b.work.Push("fork-work")
	pr := githubtest.Pull{Number: 9, HeadRef: "fork-work", HeadSHA: head, BaseRef: "main", HeadRepoFullName: "stranger/specs", User: "stranger"}
	b.gh.AddPull(owner, repoName, pr)
	b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })
	var body string
	eventually(t, "the fork's plan comment", func() bool {
		if cs := b.gh.Comments(owner, repoName, 9); len(cs) == 1 {
			body = cs[0].GetBody()
		}
		return strings.Contains(body, "git-creds")
	})
	if strings.Contains(body, secret) || strings.Contains(body, "${DB_PASSWORD}") {
		t.Fatalf("the plan comment shows the password's values:\n%s", body)
	}
	if !strings.Contains(body, "- spec.credentials.password: (secret, not shown)") || !strings.Contains(body, "+ spec.credentials.password: (secret, not shown)") {
		t.Fatalf("the plan comment does not say the password changes:\n%s", body)
	}

	var text string
	eventually(t, "a completed systemsync/plan check", func() bool {
		for _, cr := range b.gh.CheckRuns(owner, repoName) {
			if cr.GetName() == "systemsync/plan" && cr.GetStatus() == "completed" && cr.GetHeadSHA() == head {
				out, _ := json.Marshal(cr.GetOutput())
				text = string(out)
				for _, a := range b.gh.Annotations(cr.GetID()) {
					ann, _ := json.Marshal(a)
					text += string(ann)
				}
				return true
			}
		}
		return false
	})
	if strings.Contains(text, secret) || !strings.Contains(text, "spec.credentials.password") {
		t.Fatalf("the check run shows the secret, or not the change:\n%s", text)
	}
}
