package server_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gittest"
)

// consoleUser registers a person's API key with the bot's controller.
func consoleUser(t *testing.T, b *bot, email string) *controllerapi.Client {
	t.Helper()
	key := "key-" + email
	if err := b.s.Keys.Ensure(context.Background(), key, email); err != nil {
		t.Fatal(err)
	}
	return controllerapi.New(b.s.BaseURL, key)
}

func namespaceObj(name, value string) map[string]any {
	return map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "project": "default"},
		"spec":     map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": value}}}}}
}

// exportingBot is a bot whose pipeline writes system changes back to GitHub.
func exportingBot(t *testing.T) *bot {
	t.Helper()
	b := startBot(t)
	ctx := context.Background()
	p, err := b.sys.Get(ctx, "Pipeline", "default", "system-sync")
	if err != nil {
		t.Fatal(err)
	}
	cfg := p["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)["config"].(map[string]any)
	cfg["systemToGitSync"] = true
	delete(p["metadata"].(map[string]any), "resourceVersion")
	if _, err := b.sys.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	// That change is a console change like any other: the pipeline, now
	// exporting, commits it. Wait for it, so that the runs the tests
	// count start after it.
	eventually(t, "the pipeline's own change committed", func() bool {
		out, err := exec.Command("git", "-C", b.gh.GitDir(owner, repoName), "show", "main:"+folder+"/projects/default/pipelines/system-sync.yaml").Output()
		return err == nil && strings.Contains(string(out), "systemToGitSync: true")
	})
	b.work.Run("pull", "-q", "origin", "main")
	b.work.Write(map[string]string{p2("keep"): ns("keep", "dev")})
	base := b.work.Commit("base")
	b.work.Push("main")
	b.push(t, "0000000000000000000000000000000000000000", base, "main")
	b.waitRuns(t, 2) // the pipeline's own export, and the push
	return b
}

func p2(name string) string { return folder + "/projects/default/namespaces/" + name + ".yaml" }

func TestConsoleChangeIsCommittedToGitHub(t *testing.T) {
	ctx := context.Background()
	b := exportingBot(t)
	gitDir := b.gh.GitDir(owner, repoName)
	before := gittest.Git(t, gitDir, "rev-parse", "main")
	if _, err := consoleUser(t, b, "carol@example.com").Apply(ctx, namespaceObj("from-console", "prod")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the commit on GitHub", func() bool {
		return gittest.Git(t, gitDir, "rev-parse", "main") != before
	})
	if got := gittest.Git(t, gitDir, "log", "-1", "--format=%an|%s", "main"); !strings.HasPrefix(got, "carol@example.com|") {
		t.Fatalf("commit %s", got)
	}
	if got := gittest.Git(t, gitDir, "show", "main:"+p2("from-console")); !strings.Contains(got, "value: prod") {
		t.Fatalf("exported file:\n%s", got)
	}
}

func TestProtectedBranchOnGitHubBecomesAPullRequest(t *testing.T) {
	ctx := context.Background()
	b := exportingBot(t)
	b.gh.ProtectBranch(t, owner, repoName, "main")
	if _, err := consoleUser(t, b, "dave@example.com").Apply(ctx, namespaceObj("reviewed", "prod")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a pull request from a systemsync/ branch", func() bool {
		for _, pr := range b.gh.Pulls(owner, repoName) {
			if strings.HasPrefix(pr.GetHead().GetRef(), "systemsync/") && pr.GetBase().GetRef() == "main" {
				return strings.Contains(pr.GetBody(), "dave@example.com") && strings.Contains(pr.GetBody(), "reviewed")
			}
		}
		return false
	})
}
