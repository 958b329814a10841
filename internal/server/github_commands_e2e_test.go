package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/githubtest"
)

// openPR pushes a branch with one new namespace and registers PR 11.
func openPR(t *testing.T, b *bot) (githubtest.Pull, string) {
	t.Helper()
	b.work.Write(map[string]string{p("keep"): ns("keep", "dev")})
	base := b.work.Commit("base")
	b.work.Push("main")
	b.push(t, "0000000000000000000000000000000000000000", base, "main")
	b.waitRuns(t, 1)
	b.work.Run("checkout", "-q", "-b", "cmd")
	b.work.Write(map[string]string{p("via-command"): ns("via-command", "dev")})
	head := b.work.Commit("cmd")
	b.work.Push("cmd")
	pr := githubtest.Pull{Number: 11, HeadRef: "cmd", BaseRef: "main", HeadSHA: head}
	b.gh.AddPull(owner, repoName, pr)
	return pr, head
}

func (b *bot) comment(t *testing.T, number int, user, body, action string) (int, string) {
	t.Helper()
	code, resp, _ := b.deliver(t, "issue_comment", "created.payload.json", func(m map[string]any) {
		m["action"] = action
		issue := m["issue"].(map[string]any)
		issue["number"] = number
		issue["pull_request"] = map[string]any{"url": b.gh.APIURL() + "repos/acme/specs/pulls/11"}
		c := m["comment"].(map[string]any)
		c["body"] = body
		c["user"].(map[string]any)["login"] = user
	})
	return code, resp
}

func planChecks(b *bot, sha string) int {
	n := 0
	for _, cr := range b.gh.CheckRuns(owner, repoName) {
		if cr.GetName() == "systemsync/plan" && cr.GetHeadSHA() == sha {
			n++
		}
	}
	return n
}

func TestPlanCommandFromAWriterPlans(t *testing.T) {
	b := startBot(t)
	_, head := openPR(t, b)
	b.gh.SetPermission(owner, repoName, "writer", "write")
	if code, resp := b.comment(t, 11, "writer", "/systemsync plan", "created"); code != http.StatusAccepted {
		t.Fatalf("command delivery: %d %s", code, resp)
	}
	eventually(t, "the plan comment", func() bool {
		cs := b.gh.Comments(owner, repoName, 11)
		return len(cs) == 1 && strings.Contains(cs[0].GetBody(), "default/via-command") && strings.Contains(cs[0].GetBody(), head[:7])
	})
	eventually(t, "a completed systemsync/plan check", func() bool { return planChecks(b, head) == 1 })

	// Asked again: the same comment is edited, a new check run is made.
	b.comment(t, 11, "writer", "/systemsync plan", "created")
	eventually(t, "a second check run", func() bool { return planChecks(b, head) == 2 })
	if n := len(b.gh.Comments(owner, repoName, 11)); n != 1 {
		t.Fatalf("%d comments after planning twice", n)
	}
}

func TestPlanCommandFromAReaderIsRefused(t *testing.T) {
	b := startBot(t)
	_, head := openPR(t, b)
	b.gh.SetPermission(owner, repoName, "reader", "read")
	b.comment(t, 11, "reader", "/systemsync plan", "created")
	eventually(t, "the refusal", func() bool {
		cs := b.gh.Comments(owner, repoName, 11)
		return len(cs) == 1 && strings.Contains(cs[0].GetBody(), "needs write access")
	})
	time.Sleep(300 * time.Millisecond)
	if n := planChecks(b, head); n != 0 {
		t.Fatalf("a reader's command planned (%d check runs)", n)
	}
}

func TestHelpAndIgnoredComments(t *testing.T) {
	b := startBot(t)
	openPR(t, b)
	b.gh.SetPermission(owner, repoName, "writer", "write")
	b.comment(t, 11, "writer", "/systemsync help", "created")
	eventually(t, "the help comment", func() bool {
		cs := b.gh.Comments(owner, repoName, 11)
		return len(cs) == 1 && strings.Contains(cs[0].GetBody(), "/systemsync plan")
	})
	var before int
	b.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM river_job`).Scan(&before)
	for _, tc := range []struct{ body, action string }{{"LGTM", "created"}, {"/systemsync plan", "edited"}} {
		code, resp := b.comment(t, 11, "writer", tc.body, tc.action)
		if code != http.StatusOK || !strings.Contains(resp, `"ignored"`) {
			t.Fatalf("%q %s: %d %s", tc.body, tc.action, code, resp)
		}
	}
	var after int
	b.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM river_job`).Scan(&after)
	if after != before {
		t.Fatalf("ignored comments stored %d jobs", after-before)
	}
}

func TestRerunOfThePlanCheckPlansAgain(t *testing.T) {
	b := startBot(t)
	pr, head := openPR(t, b)
	b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })
	eventually(t, "the first plan", func() bool { return planChecks(b, head) == 1 })
	code, resp, _ := b.deliver(t, "check_run", "rerequested.payload.json", func(m map[string]any) {
		cr := m["check_run"].(map[string]any)
		cr["name"], cr["head_sha"] = "systemsync/plan", head
		cr["pull_requests"] = []any{map[string]any{"number": 11, "head": map[string]any{"ref": "cmd", "sha": head},
			"base": map[string]any{"ref": "main", "sha": head}}}
	})
	if code != http.StatusAccepted {
		t.Fatalf("check_run delivery: %d %s", code, resp)
	}
	eventually(t, "the re-run plan", func() bool { return planChecks(b, head) == 2 })
	if n := len(b.gh.Comments(owner, repoName, 11)); n != 1 {
		t.Fatalf("%d comments after a re-run", n)
	}
}

func TestInstallationsAreRecorded(t *testing.T) {
	b := startBot(t)
	b.deliver(t, "installation", "created.payload.json", nil)
	b.deliver(t, "installation_repositories", "added.payload.json", nil)
	eventually(t, "the installation record", func() bool {
		var n int
		b.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM installations WHERE id = ?`, inst).Scan(&n)
		return n == 1
	})
	var action string
	b.s.DB.QueryRow(context.Background(), `SELECT action FROM installations WHERE id = ?`, inst).Scan(&action)
	if !strings.HasPrefix(action, "installation") {
		t.Fatalf("recorded action %q", action)
	}
}
