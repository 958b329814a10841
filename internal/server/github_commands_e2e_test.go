package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/githubtest"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// End-to-end tests of the /systemsync comment commands, check run re-runs,
// installation events, GitHub's annotation limit and symbolic links: each
// drives the bot with real webhook payloads and asserts what a person sees
// on GitHub (comments, check runs, annotations) or what the bot stores.

const zeroSHA = "0000000000000000000000000000000000000000"

// cmdPlanMarker starts every plan comment (prcomment.Marker).
const cmdPlanMarker = "<!-- systemsync:plan "

// cmdMain commits files to main and pushes it, without telling the bot.
func cmdMain(t *testing.T, b *bot, files map[string]string) string {
	t.Helper()
	b.work.Write(files)
	sha := b.work.Commit("base")
	b.work.Push("main")
	return sha
}

// cmdBranch creates branch from the current HEAD with files, pushes it and
// returns its tip.
func cmdBranch(t *testing.T, b *bot, branch string, files map[string]string) string {
	t.Helper()
	b.work.Run("checkout", "-q", "-b", branch)
	b.work.Write(files)
	sha := b.work.Commit("work on " + branch)
	b.work.Push(branch)
	return sha
}

// cmdComment makes user's comment body on pull request number on GitHub
// and delivers the issue_comment webhook GitHub sends for it (action
// "created"). It returns the webhook's answer.
func cmdComment(t *testing.T, b *bot, number int, user, body string) (int, string) {
	t.Helper()
	c := b.gh.AddComment(owner, repoName, number, user, body)
	code, resp, _ := b.deliver(t, "issue_comment", "created.payload.json", cmdIssueComment(b, number, user, body, c.GetID(), true))
	return code, resp
}

// cmdIssueComment edits an issue_comment payload into a comment by user on
// issue number, a pull request when onPull.
func cmdIssueComment(b *bot, number int, user, body string, id int64, onPull bool) func(map[string]any) {
	return func(m map[string]any) {
		api := b.gh.APIURL() + "repos/" + owner + "/" + repoName
		web := b.gh.WebURL() + owner + "/" + repoName
		issue := m["issue"].(map[string]any)
		issue["number"] = float64(number)
		issue["url"] = fmt.Sprintf("%s/issues/%d", api, number)
		issue["comments_url"] = fmt.Sprintf("%s/issues/%d/comments", api, number)
		issue["html_url"] = fmt.Sprintf("%s/pull/%d", web, number)
		delete(issue, "pull_request")
		if onPull {
			issue["pull_request"] = map[string]any{
				"url":       fmt.Sprintf("%s/pulls/%d", api, number),
				"html_url":  fmt.Sprintf("%s/pull/%d", web, number),
				"diff_url":  fmt.Sprintf("%s/pull/%d.diff", web, number),
				"patch_url": fmt.Sprintf("%s/pull/%d.patch", web, number),
			}
		}
		c := m["comment"].(map[string]any)
		c["body"] = body
		if id != 0 {
			c["id"] = float64(id)
			c["url"] = fmt.Sprintf("%s/issues/comments/%d", api, id)
		}
		c["issue_url"] = issue["url"]
		c["user"].(map[string]any)["login"] = user
		m["sender"].(map[string]any)["login"] = user
	}
}

// cmdPlanComments are the bot's plan comments on pull request number.
func cmdPlanComments(b *bot, number int) []*github.IssueComment {
	var out []*github.IssueComment
	for _, c := range b.gh.Comments(owner, repoName, number) {
		if strings.HasPrefix(c.GetBody(), cmdPlanMarker) {
			out = append(out, c)
		}
	}
	return out
}

// cmdBotComments are the comments the bot made on pull request number.
func cmdBotComments(b *bot, number int) []*github.IssueComment {
	var out []*github.IssueComment
	for _, c := range b.gh.Comments(owner, repoName, number) {
		if c.GetUser().GetLogin() == githubtest.BotLogin {
			out = append(out, c)
		}
	}
	return out
}

// cmdChecks are the check runs named name on sha (any sha when "").
func cmdChecks(b *bot, name, sha string) []*github.CheckRun {
	var out []*github.CheckRun
	for _, cr := range b.gh.CheckRuns(owner, repoName) {
		if cr.GetName() == name && (sha == "" || cr.GetHeadSHA() == sha) {
			out = append(out, cr)
		}
	}
	return out
}

// cmdCompletedPlan waits for n completed systemsync/plan check runs on sha
// and returns the last.
func cmdCompletedPlan(t *testing.T, b *bot, sha string, n int) *github.CheckRun {
	t.Helper()
	var last *github.CheckRun
	eventually(t, fmt.Sprintf("%d completed systemsync/plan check run(s) on %.7s", n, sha), func() bool {
		done := 0
		for _, cr := range cmdChecks(b, "systemsync/plan", sha) {
			if cr.GetStatus() == "completed" {
				done++
				last = cr
			}
		}
		return done == n
	})
	return last
}

func cmdJobs(t *testing.T, b *bot) int {
	t.Helper()
	var n int
	if err := b.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM river_job WHERE kind = 'github_event'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// cmdRows are the plan comment's rows as "action project/name".
func cmdRows(body string) string {
	var got []string
	for _, r := range rowRE.FindAllStringSubmatch(body, -1) {
		got = append(got, r[1]+" "+r[3])
	}
	return strings.Join(got, ",")
}

func TestPlanCommandPlansThePullRequest(t *testing.T) {
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	head1 := cmdBranch(t, b, "feature", map[string]string{p("new-a"): ns("new-a", "dev")})
	// The pull_request webhook never arrived: no plan yet.
	pr := githubtest.Pull{Number: 7, HeadRef: "feature", BaseRef: "main", Title: "Add new-a"}
	b.gh.AddPull(owner, repoName, pr)
	b.gh.SetPermission(owner, repoName, "alice", "write")

	if code, resp := cmdComment(t, b, 7, "alice", "/systemsync plan"); code != http.StatusAccepted {
		t.Fatalf("issue_comment delivery: %d %s", code, resp)
	}
	eventually(t, "the plan comment", func() bool { return len(cmdPlanComments(b, 7)) == 1 })
	first := cmdPlanComments(b, 7)[0]
	if first.GetUser().GetLogin() != githubtest.BotLogin {
		t.Fatalf("plan comment by %s", first.GetUser().GetLogin())
	}
	if got, want := cmdRows(first.GetBody()), "create default/keep,create default/new-a"; got != want {
		t.Fatalf("plan rows %s, want %s\n%s", got, want, first.GetBody())
	}
	if !strings.Contains(first.GetBody(), head1[:7]) {
		t.Fatalf("plan comment does not name head %s:\n%s", head1[:7], first.GetBody())
	}
	if cr := cmdCompletedPlan(t, b, head1, 1); cr.GetConclusion() != "success" {
		t.Fatalf("plan check conclusion %s", cr.GetConclusion())
	}

	// A new commit whose synchronize webhook is lost; the command plans the PR's head.
	b.work.Write(map[string]string{p("new-b"): ns("new-b", "dev")})
	head2 := b.work.Commit("new-b")
	b.work.Push("feature")
	if code, resp := cmdComment(t, b, 7, "alice", "/systemsync plan"); code != http.StatusAccepted {
		t.Fatalf("second issue_comment delivery: %d %s", code, resp)
	}
	eventually(t, "the plan comment edited for the new head", func() bool {
		cs := cmdPlanComments(b, 7)
		return len(cs) >= 1 && strings.Contains(cs[0].GetBody(), head2[:7])
	})
	cmdCompletedPlan(t, b, head2, 1)
	cs := cmdPlanComments(b, 7)
	if len(cs) != 1 || cs[0].GetID() != first.GetID() {
		t.Fatalf("%d plan comments (first id %d); want the first one edited", len(cs), first.GetID())
	}
	if got, want := cmdRows(cs[0].GetBody()), "create default/keep,create default/new-a,create default/new-b"; got != want {
		t.Fatalf("plan rows %s, want %s", got, want)
	}
	if n := len(cmdBotComments(b, 7)); n != 1 {
		t.Fatalf("the bot made %d comments, want the one plan comment", n)
	}
	if n := len(b.gh.Comments(owner, repoName, 7)); n != 3 {
		t.Fatalf("%d comments on the PR, want alice's two and the plan", n)
	}
	// A plan applies nothing.
	if _, err := b.sys.Get(context.Background(), "Namespace", "default", "new-a"); !controllerapi.IsNotFound(err) {
		t.Fatalf("the plan command applied something: %v", err)
	}
	if n := len(b.runs(t)); n != 0 {
		t.Fatalf("%d runs after plan commands", n)
	}
}

func TestPlanCommandNeedsWriteAccess(t *testing.T) {
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	cmdBranch(t, b, "feature", map[string]string{p("new-a"): ns("new-a", "dev")})
	b.gh.AddPull(owner, repoName, githubtest.Pull{Number: 8, HeadRef: "feature", User: "bob"})
	b.gh.SetPermission(owner, repoName, "bob", "read")

	if code, resp := cmdComment(t, b, 8, "bob", "/systemsync plan"); code != http.StatusAccepted {
		t.Fatalf("issue_comment delivery: %d %s", code, resp)
	}
	eventually(t, "the bot's reply", func() bool { return len(cmdBotComments(b, 8)) == 1 })
	reply := cmdBotComments(b, 8)[0].GetBody()
	if !strings.Contains(reply, "@bob") || !strings.Contains(reply, "needs write access") || !strings.Contains(reply, "/systemsync plan") {
		t.Fatalf("reply %q", reply)
	}
	time.Sleep(300 * time.Millisecond) // the reply is the job's last step; give a stray plan time to show
	if cs := cmdPlanComments(b, 8); len(cs) != 0 {
		t.Fatalf("a plan comment for a read-only user:\n%s", cs[0].GetBody())
	}
	if crs := cmdChecks(b, "systemsync/plan", ""); len(crs) != 0 {
		t.Fatalf("%d systemsync/plan check runs for a read-only user", len(crs))
	}
	if n := len(cmdBotComments(b, 8)); n != 1 {
		t.Fatalf("the bot made %d comments", n)
	}
}

func TestHelpCommandListsTheCommands(t *testing.T) {
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	cmdBranch(t, b, "feature", map[string]string{p("new-a"): ns("new-a", "dev")})
	b.gh.AddPull(owner, repoName, githubtest.Pull{Number: 3, HeadRef: "feature"})
	b.gh.SetPermission(owner, repoName, "carol", "maintain")

	if code, resp := cmdComment(t, b, 3, "carol", "/systemsync help"); code != http.StatusAccepted {
		t.Fatalf("issue_comment delivery: %d %s", code, resp)
	}
	eventually(t, "the help comment", func() bool { return len(cmdBotComments(b, 3)) == 1 })
	help := cmdBotComments(b, 3)[0].GetBody()
	for _, want := range []string{"`/systemsync plan`", "`/systemsync help`", "write access"} {
		if !strings.Contains(help, want) {
			t.Fatalf("help comment lacks %s:\n%s", want, help)
		}
	}
	if strings.HasPrefix(help, cmdPlanMarker) || strings.Contains(help, "Unknown command") {
		t.Fatalf("help comment:\n%s", help)
	}

	// An unknown command gets the help, and says it did not know the command.
	if code, resp := cmdComment(t, b, 3, "carol", "/systemsync aply"); code != http.StatusAccepted {
		t.Fatalf("issue_comment delivery: %d %s", code, resp)
	}
	eventually(t, "the reply to an unknown command", func() bool { return len(cmdBotComments(b, 3)) == 2 })
	if got := cmdBotComments(b, 3)[1].GetBody(); !strings.Contains(got, "Unknown command `/systemsync aply`") || !strings.Contains(got, "`/systemsync plan`") {
		t.Fatalf("reply to an unknown command:\n%s", got)
	}
	time.Sleep(200 * time.Millisecond)
	if crs := cmdChecks(b, "systemsync/plan", ""); len(crs) != 0 {
		t.Fatalf("help planned: %d check runs", len(crs))
	}
}

func TestCommentsThatAreNotCommandsAreIgnored(t *testing.T) {
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	cmdBranch(t, b, "feature", map[string]string{p("new-a"): ns("new-a", "dev")})
	b.gh.AddPull(owner, repoName, githubtest.Pull{Number: 4, HeadRef: "feature"})
	b.gh.AddIssue(owner, repoName, 5, "A plain issue")
	b.gh.SetPermission(owner, repoName, "alice", "write")

	for _, tc := range []struct {
		name, file, body string
		number           int
		onPull           bool
	}{
		{"a remark on a pull request", "created.payload.json", "Looks good to me, thanks!", 4, true},
		{"a command further down a comment", "created.payload.json", "Thanks!\n/systemsync plan", 4, true},
		{"an edited comment", "edited.payload.json", "/systemsync plan", 4, true},
		{"a command on an issue", "created.payload.json", "/systemsync plan", 5, false},
	} {
		code, resp, _ := b.deliver(t, "issue_comment", tc.file, cmdIssueComment(b, tc.number, "alice", tc.body, 0, tc.onPull))
		var ans struct{ Status string }
		if err := json.Unmarshal([]byte(resp), &ans); err != nil || code != http.StatusOK || ans.Status != "ignored" {
			t.Errorf("%s: answered %d %s, want 200 ignored", tc.name, code, resp)
		}
	}
	if n := cmdJobs(t, b); n != 0 {
		t.Fatalf("%d jobs stored for comments that are not commands", n)
	}
	if n := len(b.gh.RequestsMatching("", "/api/v3/")); n != 0 {
		t.Fatalf("the bot called GitHub %d times for ignored comments", n)
	}
}

// cmdPlannedPR opens pull request 11 (feature → main, creating new-a),
// waits for its plan, then creates new-a in the system, so that a new plan
// differs. It returns the head and the plan's check run and comment.
func cmdPlannedPR(t *testing.T) (*bot, string, *github.CheckRun, *github.IssueComment) {
	t.Helper()
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	head := cmdBranch(t, b, "feature", map[string]string{p("new-a"): ns("new-a", "dev")})
	pr := githubtest.Pull{Number: 11, HeadRef: "feature", BaseRef: "main"}
	b.gh.AddPull(owner, repoName, pr)
	code, resp, _ := b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })
	if code != http.StatusAccepted {
		t.Fatalf("pull_request delivery: %d %s", code, resp)
	}
	check := cmdCompletedPlan(t, b, head, 1)
	first := cmdPlanComments(b, 11)
	if len(first) != 1 || cmdRows(first[0].GetBody()) != "create default/keep,create default/new-a" {
		t.Fatalf("first plan: %d comments\n%v", len(first), first)
	}
	// Someone creates new-a in the console meanwhile.
	if _, err := b.sys.Apply(context.Background(), map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
		"metadata": map[string]any{"name": "new-a", "project": "default"},
		"spec":     map[string]any{"placement": map[string]any{"labels": []any{map[string]any{"key": "env", "value": "prod"}}}}}); err != nil {
		t.Fatal(err)
	}
	return b, head, check, first[0]
}

func TestRerequestedPlanCheckPlansAgain(t *testing.T) {
	b, head, check, firstComment := cmdPlannedPR(t)
	first := []*github.IssueComment{firstComment}
	// A person re-runs the check. The payload is octokit's example, whose
	// app.created_at ("2018-04-25 20:42:10") go-github's Timestamp cannot
	// parse: the bot must read only what it needs.
	code, resp, _ := b.deliver(t, "check_run", "rerequested.payload.json", func(m map[string]any) {
		cmdRerequest(b, m, check, head)
	})
	if code != http.StatusAccepted {
		t.Fatalf("check_run delivery: %d %s", code, resp)
	}
	cmdCompletedPlan(t, b, head, 2)
	cs := cmdPlanComments(b, 11)
	if len(cs) != 1 || cs[0].GetID() != first[0].GetID() {
		t.Fatalf("%d plan comments; want the first one edited", len(cs))
	}
	body := cs[0].GetBody()
	if !strings.Contains(body, head[:7]) {
		t.Fatalf("re-planned comment does not name head %s:\n%s", head[:7], body)
	}
	if got := cmdRows(body); got == cmdRows(first[0].GetBody()) || !strings.Contains(got, "update default/new-a") {
		t.Fatalf("re-planned rows %s: the plan does not see the system's new-a\n%s", got, body)
	}
	if n := len(cmdBotComments(b, 11)); n != 1 {
		t.Fatalf("the bot made %d comments", n)
	}

	// A re-run of another app's check is not ours.
	code, resp, _ = b.deliver(t, "check_run", "rerequested.payload.json", nil)
	if !strings.Contains(resp, `"ignored"`) || code != http.StatusOK {
		t.Fatalf("re-run of randscape answered %d %s", code, resp)
	}
}

// cmdRerequest makes a check_run payload the re-run of check on head of
// pull request 11 (feature → main).
func cmdRerequest(b *bot, m map[string]any, check *github.CheckRun, head string) {
	api := b.gh.APIURL() + "repos/" + owner + "/" + repoName
	repo := map[string]any{"id": m["repository"].(map[string]any)["id"], "url": api, "name": repoName}
	cr := m["check_run"].(map[string]any)
	cr["id"] = float64(check.GetID())
	cr["name"] = "systemsync/plan"
	cr["head_sha"] = head
	cr["external_id"] = check.GetExternalID()
	cr["conclusion"] = check.GetConclusion()
	cr["url"] = fmt.Sprintf("%s/check-runs/%d", api, check.GetID())
	cr["pull_requests"] = []any{map[string]any{
		"url": fmt.Sprintf("%s/pulls/11", api), "id": float64(1100), "number": float64(11),
		"head": map[string]any{"ref": "feature", "sha": head, "repo": repo},
		"base": map[string]any{"ref": "main", "sha": b.gh.Pulls(owner, repoName)[0].GetBase().GetSHA(), "repo": repo},
	}}
	suite := cr["check_suite"].(map[string]any)
	suite["head_branch"], suite["head_sha"] = "feature", head
}

func TestInstallationEventsAreRecorded(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	type row struct {
		account, action string
		repos           []string
	}
	get := func(id int64) *row {
		var r row
		var repos string
		err := b.s.DB.QueryRow(ctx, `SELECT account, action, repositories FROM installations WHERE id = ?`, id).Scan(&r.account, &r.action, &repos)
		if err != nil {
			return nil
		}
		if err := json.Unmarshal([]byte(repos), &r.repos); err != nil {
			t.Fatalf("installation %d repositories %q: %v", id, repos, err)
		}
		return &r
	}

	// The app is installed on acme (installation 4242, as SetRepo makes it) with acme/specs.
	code, resp, _ := b.deliver(t, "installation", "created.payload.json", func(m map[string]any) {
		m["installation"].(map[string]any)["account"].(map[string]any)["login"] = owner
		m["repositories"].([]any)[0].(map[string]any)["full_name"] = owner + "/" + repoName
	})
	if code != http.StatusAccepted {
		t.Fatalf("installation delivery: %d %s", code, resp)
	}
	eventually(t, "installation 4242 recorded", func() bool { return get(inst) != nil })
	if r := get(inst); r.account != owner || r.action != "installation.created" || strings.Join(r.repos, ",") != owner+"/"+repoName {
		t.Fatalf("installation %d recorded as %+v", inst, *r)
	}

	// Another account adds a repository to its installation (the payload's own id and account).
	code, resp, _ = b.deliver(t, "installation_repositories", "added.payload.json", func(m map[string]any) {
		m["installation"].(map[string]any)["id"] = float64(957387)
	})
	if code != http.StatusAccepted {
		t.Fatalf("installation_repositories delivery: %d %s", code, resp)
	}
	eventually(t, "installation 957387 recorded", func() bool { return get(957387) != nil })
	if r := get(957387); r.account != "Codertocat" || r.action != "installation_repositories.added" || strings.Join(r.repos, ",") != "Codertocat/Space" {
		t.Fatalf("installation 957387 recorded as %+v", *r)
	}
	if r := get(inst); r == nil || r.account != owner {
		t.Fatalf("installation %d after another's event: %+v", inst, r)
	}
	var n int
	if err := b.s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM installations`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d installations recorded (%v), want 2", n, err)
	}
}

func TestSixtyInvalidFilesStayWithinGitHubLimits(t *testing.T) {
	b := startBot(t)
	cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	// Long names make every row long, so the comment has to be cut to fit.
	files := map[string]string{}
	for i := 0; i < 60; i++ {
		name := fmt.Sprintf("bad-%02d-%s", i, strings.Repeat("x", 200))
		files[p(name)] = "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: [" + name + "\n"
	}
	head := cmdBranch(t, b, "many-bad", files)
	pr := githubtest.Pull{Number: 60, HeadRef: "many-bad"}
	b.gh.AddPull(owner, repoName, pr)
	b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })

	check := cmdCompletedPlan(t, b, head, 1)
	if check.GetConclusion() != "failure" {
		t.Fatalf("plan conclusion %s", check.GetConclusion())
	}
	anns := b.gh.Annotations(check.GetID())
	if len(anns) != 60 {
		t.Fatalf("%d annotations, want 60", len(anns))
	}
	paths := map[string]bool{}
	for _, a := range anns {
		paths[a.GetPath()] = true
		if a.GetStartLine() != 4 || a.GetAnnotationLevel() != "failure" {
			t.Fatalf("annotation %s:%d %s", a.GetPath(), a.GetStartLine(), a.GetAnnotationLevel())
		}
	}
	if len(paths) != 60 {
		t.Fatalf("annotations on %d files, want 60", len(paths))
	}
	withAnns := 0
	for _, r := range b.gh.RequestsMatching("PATCH", "/api/v3/repos/acme/specs/check-runs") {
		var body struct {
			Output *struct {
				Annotations []json.RawMessage `json:"annotations"`
				Text        string            `json:"text"`
				Summary     string            `json:"summary"`
			} `json:"output"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("PATCH %s: %v", r.Path, err)
		}
		if body.Output == nil {
			continue
		}
		if n := len(body.Output.Annotations); n > 50 {
			t.Fatalf("a check run request carried %d annotations; GitHub takes 50", n)
		} else if n > 0 {
			withAnns++
		}
		if n := utf8.RuneCountInString(body.Output.Text); n > 65535 {
			t.Fatalf("check run text of %d characters", n)
		}
	}
	if withAnns < 2 {
		t.Fatalf("annotations sent in %d request(s), want at least 2", withAnns)
	}

	eventually(t, "the plan comment", func() bool { return len(cmdPlanComments(b, 60)) == 1 })
	body := cmdPlanComments(b, 60)[0].GetBody()
	if n := utf8.RuneCountInString(body); n > 65536 {
		t.Fatalf("plan comment of %d characters", n)
	}
	if !strings.Contains(body, "60 invalid") {
		t.Fatalf("plan comment does not count 60 invalid files:\n%.600s", body)
	}
	if rows := len(rowRE.FindAllString(body, -1)); rows != 61 || !strings.Contains(body, "15 more problem(s) left out") {
		t.Fatalf("plan comment of %d characters with %d rows; want every row (60 invalid, 1 create) and the problems cut to fit:\n%.600s", utf8.RuneCountInString(body), rows, body)
	}
	// Every request the comment went out in obeyed the limit too.
	for _, r := range b.gh.RequestsMatching("", "/api/v3/repos/acme/specs/issues") {
		if r.Method != http.MethodPost && r.Method != http.MethodPatch {
			continue
		}
		var c struct{ Body string }
		if err := json.Unmarshal(r.Body, &c); err != nil {
			t.Fatal(err)
		}
		if n := utf8.RuneCountInString(c.Body); n > 65536 {
			t.Fatalf("%s %s with a body of %d characters", r.Method, r.Path, n)
		}
	}
}

func TestSymlinkedSpecIsInvalidAndNeverApplied(t *testing.T) {
	ctx := context.Background()
	b := startBot(t)
	base := cmdMain(t, b, map[string]string{p("keep"): ns("keep", "dev")})
	b.push(t, zeroSHA, base, "main")
	b.waitRuns(t, 1)

	b.work.Run("checkout", "-q", "-b", "links")
	b.work.Write(map[string]string{p("real"): ns("real", "dev")})
	dir := filepath.Join(b.work.Dir, filepath.FromSlash(folder+"/projects/default/namespaces"))
	for _, ln := range [][2]string{{"keep.yaml", "linked.yaml"}, {"/etc/passwd", "escape.yaml"}} {
		if out, err := exec.Command("ln", "-s", ln[0], filepath.Join(dir, ln[1])).CombinedOutput(); err != nil {
			t.Fatalf("ln -s %s %s: %v %s", ln[0], ln[1], err, out)
		}
	}
	head := b.work.Commit("symlinks")
	if mode := b.work.Run("ls-tree", head, p("linked")); !strings.HasPrefix(mode, "120000 ") {
		t.Fatalf("not committed as a symlink: %s", mode)
	}
	b.work.Push("links")
	pr := githubtest.Pull{Number: 12, HeadRef: "links"}
	b.gh.AddPull(owner, repoName, pr)
	b.deliver(t, "pull_request", "opened.payload.json", func(m map[string]any) { githubtest.SetPull(m, b.gh, owner, repoName, pr) })

	check := cmdCompletedPlan(t, b, head, 1)
	eventually(t, "the plan comment", func() bool { return len(cmdPlanComments(b, 12)) == 1 })
	body := cmdPlanComments(b, 12)[0].GetBody()
	rows := cmdRows(body)
	for _, want := range []string{"invalid default/linked", "invalid default/escape", "create default/real"} {
		if !strings.Contains(rows, want) {
			t.Fatalf("plan rows %s lack %s\n%s", rows, want, body)
		}
	}
	if !strings.Contains(body, "symbolic link") {
		t.Fatalf("plan comment does not say why:\n%s", body)
	}
	if check.GetConclusion() != "failure" {
		t.Fatalf("plan conclusion %s", check.GetConclusion())
	}
	got := map[string]string{}
	for _, a := range b.gh.Annotations(check.GetID()) {
		got[a.GetPath()] = a.GetMessage()
	}
	for _, name := range []string{"linked", "escape"} {
		if !strings.Contains(got[p(name)], "symbolic link") {
			t.Fatalf("annotation on %s: %q (all: %v)", p(name), got[p(name)], got)
		}
	}

	// Merge: the real file is applied, the links are not.
	b.work.Run("checkout", "-q", "main")
	b.work.Run("merge", "-q", "--ff-only", "links")
	b.work.Push("main")
	pr.Merged, pr.MergeCommitSHA, pr.HeadSHA = true, head, head
	b.gh.AddPull(owner, repoName, pr)
	b.push(t, base, head, "main")
	runs := b.waitRuns(t, 2)
	if runs[0].Status != pipeline.StatusPartial {
		t.Fatalf("merge run status %s", runs[0].Status)
	}
	if _, err := b.sys.Get(ctx, "Namespace", "default", "real"); err != nil {
		t.Fatalf("real after merge: %v", err)
	}
	for _, name := range []string{"linked", "escape"} {
		if _, err := b.sys.Get(ctx, "Namespace", "default", name); !controllerapi.IsNotFound(err) {
			t.Fatalf("symlink %s applied: %v", name, err)
		}
	}
	if obj, err := b.sys.Get(ctx, "Namespace", "default", "keep"); err != nil || !strings.Contains(fmt.Sprint(obj["spec"]), "dev") {
		t.Fatalf("keep after merge: %v %v", obj, err)
	}
	eventually(t, "the apply comment", func() bool {
		for _, c := range cmdBotComments(b, 12) {
			if strings.Contains(c.GetBody(), "System Sync applied") {
				return strings.Contains(c.GetBody(), "linked")
			}
		}
		return false
	})
}
