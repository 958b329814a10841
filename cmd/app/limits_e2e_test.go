package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

const localKey = "local-key"

// localApp is the app in local mode with a clone of its demo repository.
type localApp struct {
	base           string
	dir            string
	demo           string // the demo bare repository
	work           string // a clone of it
	stdout, stderr *syncBuffer
}

func startLocal(t *testing.T) *localApp {
	t.Helper()
	dir := t.TempDir()
	// At debug level: the secret tests scan every line the server writes,
	// and a wait that times out shows what it did.
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=" + localKey,
		"SYSTEMSYNC_POLL_INTERVAL=200ms", "SYSTEMSYNC_COMMIT_WINDOW=200ms", "SYSTEMSYNC_LOG_LEVEL=debug", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, stdout, stderr, _ := startInProcess(t, env)
	a := &localApp{base: base, dir: dir, demo: filepath.Join(dir, "repos", "demo.git"), work: t.TempDir(), stdout: stdout, stderr: stderr}
	git(t, a.work, "clone", "-q", a.demo, ".")
	return a
}

// send makes a request with a body of the given content type.
func (a *localApp) send(t *testing.T, method, path, contentType string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	req.Header.Set("X-API-KEY", localKey)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// apply sends obj as JSON to its collection and wants it stored.
func (a *localApp) apply(t *testing.T, obj map[string]any) {
	t.Helper()
	r := &spec.Resource{Object: obj}
	k, _ := spec.LookupKind(r.KindName())
	body, _ := json.Marshal(obj)
	path := "/apis/" + k.Group + "/v3/projects/" + r.Project() + "/" + k.Plural
	if code, out := a.send(t, "POST", path, "application/json", body); code != 200 && code != 201 {
		t.Fatalf("apply %s: %d %.300s", r.Key(), code, out)
	}
}

// push commits files (path → content; "" deletes) to the demo repository.
func (a *localApp) push(t *testing.T, msg string, files map[string]string) {
	t.Helper()
	git(t, a.work, "pull", "-q", "--rebase", "origin", "main")
	for p, c := range files {
		full := filepath.Join(a.work, filepath.FromSlash(p))
		if c == "" {
			os.Remove(full)
			continue
		}
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, a.work, "add", "-A")
	git(t, a.work, "commit", "-q", "-m", msg)
	// The bot commits the system's changes to the same branch: when it
	// did so since the pull, rebase on its commit and push again, as a
	// person would.
	for try := 1; ; try++ {
		push := exec.Command("git", "push", "-q", "origin", "HEAD:main")
		push.Dir = a.work
		out, err := push.CombinedOutput()
		if err == nil {
			return
		}
		// "fetch first": it pushed before our pull; "cannot lock ref": it
		// pushed while ours was in flight.
		if try == 5 || !strings.Contains(string(out), "fetch first") && !strings.Contains(string(out), "cannot lock ref") {
			t.Fatalf("git push: %v\n%s", err, out)
		}
		git(t, a.work, "pull", "-q", "--rebase", "origin", "main")
	}
}

// rows returns every row of every run of the pipeline, newest run first,
// and whether a run is still in progress.
func (a *localApp) rows(t *testing.T, pipeline string) ([]runRow, bool) {
	t.Helper()
	code, body := a.send(t, "GET", "/api/pipelines/default/"+pipeline+"/runs?limit=500", "", nil)
	if code != 200 {
		t.Fatalf("runs of %s: %d %s", pipeline, code, body)
	}
	var list struct {
		Items []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	var out []runRow
	busy := false
	for _, r := range list.Items {
		busy = busy || r.Status == "In Progress"
		code, body := a.send(t, "GET", fmt.Sprintf("/api/runs/%d", r.ID), "", nil)
		if code != 200 {
			t.Fatalf("run %d: %d %s", r.ID, code, body)
		}
		var run struct {
			Trigger string   `json:"trigger"`
			Status  string   `json:"status"`
			Rows    []runRow `json:"rows"`
		}
		if err := json.Unmarshal([]byte(body), &run); err != nil {
			t.Fatal(err)
		}
		for _, row := range run.Rows {
			row.Trigger, row.Status = run.Trigger, run.Status
			out = append(out, row)
		}
	}
	return out, busy
}

type runRow struct {
	Kind, Name, Path, Action, Outcome, Message string
	Trigger, Status                            string
}

// eventually waits up to 60 s for cond, polling; when it times out, it
// fails with the server's latest log lines, which say why.
func (a *localApp) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			logs := a.stderr.String()
			if len(logs) > 300000 {
				logs = "…" + logs[len(logs)-300000:]
			}
			var runs strings.Builder
			for id := 1; id < 8; id++ {
				_, body := a.send(t, "GET", fmt.Sprintf("/api/runs/%d", id), "", nil)
				fmt.Fprintf(&runs, "%d: %.5000s\n", id, body)
			}
			var kept []string
			for _, l := range strings.Split(logs, "\n") {
				if !strings.Contains(l, "git fetch") && !strings.Contains(l, "River") && !strings.Contains(l, "producer") && !strings.Contains(l, "leadership") {
					kept = append(kept, l)
				}
			}
			logs = strings.Join(kept, "\n")
			t.Fatalf("timed out waiting for %s; runs:\n%s\nthe server's log ends:\n%s", what, runs.String(), logs)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// gitOut runs git in dir and returns its output, "" when it fails.
func gitOut(dir string, args ...string) string {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func namespaceObj(name string, metadata map[string]any) map[string]any {
	md := map[string]any{"name": name, "project": "default"}
	for k, v := range metadata {
		md[k] = v
	}
	return map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace", "metadata": md, "spec": map[string]any{"placement": map[string]any{}}}
}

// planted holds made-up secrets, each of a form spec.Secrets looks for,
// and unique to this test run.
type planted struct {
	password, ghp, ghs, pat, awsID, awsSecret, pemBody string
}

func newPlanted(tag string) planted {
	// 36 letters and digits after the ghp_ prefix, unique per tag
	alnum := func(n int, seed string) string {
		const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		var b strings.Builder
		h := uint32(2166136261)
		for _, c := range seed {
			h = (h ^ uint32(c)) * 16777619
		}
		for i := range n {
			h = (h ^ uint32(i)) * 16777619
			b.WriteByte(chars[h%uint32(len(chars))])
		}
		return b.String()
	}
	upper := strings.ToUpper(alnum(16, tag+"aws"))
	upper = strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return 'Q'
	}, upper)
	return planted{
		password:  "Pw-" + alnum(14, tag+"pw"),
		ghp:       "ghp_" + alnum(36, tag+"ghp"),
		ghs:       "ghs_" + alnum(36, tag+"ghs"),
		pat:       "github_pat_" + alnum(22, tag+"pat1") + "_" + alnum(59, tag+"pat2"),
		awsID:     "AKIA" + upper,
		awsSecret: alnum(18, tag+"s1") + "/" + alnum(10, tag+"s2") + "+" + alnum(9, tag+"s3") + "9",
		pemBody:   "MIIEow" + alnum(58, tag+"pem"),
	}
}

func (p planted) values() []string {
	return []string{p.password, p.ghp, p.ghs, p.pat, p.awsID, p.awsSecret, p.pemBody}
}

func (p planted) pem() string {
	return "-----BEGIN RSA PRIVATE KEY-----\n" + p.pemBody + "\n-----END RSA PRIVATE KEY-----\n"
}

// TestSecretsAreNeverWrittenToGitNorLogged plants every kind of secret
// spec.Secrets finds in resources made through the API and pushed to Git,
// lets both pipelines (the demo's, and one exporting to a second
// repository) export and sync by hand, then scans every object and every
// commit of both repositories and the server's logs: no planted value is
// anywhere the bot wrote. The API's secret rows fail pointing at the
// Secret Sealer, and `app validate` reports the Git ones.
func TestSecretsAreNeverWrittenToGitNorLogged(t *testing.T) {
	a := startLocal(t)
	dest := filepath.Join(a.dir, "repos", "dest.git")
	git(t, filepath.Dir(dest), "init", "-q", "--bare", "-b", "main", dest)
	a.apply(t, map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "dest", "project": "default"}, "spec": map[string]any{"type": "Git", "endpoint": "file://" + dest}})
	a.apply(t, map[string]any{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline",
		"metadata": map[string]any{"name": "to-dest", "project": "default"},
		"spec": map[string]any{"active": true, "sharing": map[string]any{"enabled": true, "projects": []any{map[string]any{"name": "*"}}},
			"stages": []any{map[string]any{"name": "to-dest-stage", "type": "SystemSync", "config": map[string]any{
				"gitToSystemSync": false, "systemToGitSync": true, "sourceAsDestination": false,
				"sourceRepo":      map[string]any{"repository": "demo", "revision": "main"},
				"destinationRepo": map[string]any{"repository": "dest", "revision": "main"}}}}}})

	api, pushed := newPlanted("api"), newPlanted("git")
	a.apply(t, map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "leaky-url", "project": "default"},
		"spec":     map[string]any{"type": "Git", "endpoint": "https://bob:" + api.password + "@git.example.org/x.git"}})
	a.apply(t, namespaceObj("leaky-ghp", map[string]any{"description": "clone with https://x-access-token:" + api.ghp + "@github.com/acme/x.git"}))
	a.apply(t, namespaceObj("leaky-keys", map[string]any{"annotations": map[string]any{api.ghs: "installation token as a key"}}))
	a.apply(t, namespaceObj("leaky-text", map[string]any{"description": "values:\n  pat: " + api.pat + "\n  other: x\n"}))
	a.apply(t, namespaceObj("leaky-aws", map[string]any{"annotations": map[string]any{"id": api.awsID, "key": api.awsSecret}}))
	a.apply(t, namespaceObj("leaky-pem", map[string]any{"annotations": map[string]any{"tls": api.pem()}}))
	a.apply(t, namespaceObj("clean-api", nil))

	nsFile := func(name, metadata string) string {
		return "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: " + name + "\n  project: default\n" + metadata + "spec:\n  placement: {}\n"
	}
	gitFiles := map[string]string{
		"projects/default/namespaces/git-url.yaml":  nsFile("git-url", "  description: https://bob:"+pushed.password+"@git.example.org/x.git\n"),
		"projects/default/namespaces/git-ghp.yaml":  nsFile("git-ghp", "  annotations:\n    token: "+pushed.ghp+"\n"),
		"projects/default/namespaces/git-keys.yaml": nsFile("git-keys", "  annotations:\n    "+pushed.ghs+": x\n"),
		"projects/default/namespaces/git-text.yaml": nsFile("git-text", "  description: |\n    [default]\n    aws_access_key_id = "+pushed.awsID+
			"\n    aws_secret_access_key = "+pushed.awsSecret+"\n    pat = "+pushed.pat+"\n"),
		"projects/default/namespaces/git-pem.yaml":   nsFile("git-pem", "  annotations:\n    tls: |\n      "+strings.ReplaceAll(strings.TrimSpace(pushed.pem()), "\n", "\n      ")+"\n"),
		"projects/default/namespaces/clean-git.yaml": nsFile("clean-git", ""),
	}
	a.push(t, "Add namespaces, some holding secrets", gitFiles)
	userCommits := strings.Fields(gitOut(a.demo, "rev-list", "--all"))

	// Both sides move: the clean resources arrive, and every secret is
	// refused where it is.
	seen := ""
	a.eventually(t, "clean-api in both repositories and clean-git in the system", func() bool {
		code, _ := a.send(t, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces/clean-git", "", nil)
		inDemo := exec.Command("git", "-C", a.demo, "cat-file", "-e", "main:projects/default/namespaces/clean-api.yaml").Run() == nil
		inDest := exec.Command("git", "-C", dest, "cat-file", "-e", "main:projects/default/namespaces/clean-api.yaml").Run() == nil
		if now := fmt.Sprintf("clean-git in the system: %d, clean-api in demo: %v, in dest: %v", code, inDemo, inDest); now != seen {
			t.Log(now)
			seen = now
		}
		return code == 200 && inDemo && inDest
	})
	for _, pl := range []string{"system-sync", "to-dest"} {
		code, body := a.send(t, "POST", "/api/pipelines/default/"+pl+"/run", "", nil)
		if code != 202 {
			t.Fatalf("manual run of %s: %d %s", pl, code, body)
		}
	}
	for _, pl := range []string{"system-sync", "to-dest"} {
		a.eventually(t, pl+"'s manual run, with a failed row for each API secret", func() bool {
			rows, busy := a.rows(t, pl)
			if busy {
				return false
			}
			failed := map[string]bool{}
			manual := false
			for _, r := range rows {
				if r.Trigger == "Manually Triggered" {
					manual = true
				}
				if r.Outcome == "failed" && strings.Contains(r.Message, "SecretSealer") && strings.Contains(r.Message, "clear-text") {
					failed[r.Name] = true
				}
			}
			return manual && failed["leaky-url"] && failed["leaky-ghp"] && failed["leaky-keys"] && failed["leaky-text"] && failed["leaky-aws"] && failed["leaky-pem"]
		})
	}
	rows, _ := a.rows(t, "system-sync")
	blocked := map[string]bool{}
	for _, r := range rows {
		if r.Action == "blocked" {
			blocked[r.Name] = true
		}
	}
	for _, n := range []string{"git-url", "git-ghp", "git-keys", "git-text", "git-pem"} {
		if !blocked[n] {
			t.Errorf("no blocked row for the pushed %s: %+v", n, rows)
		}
	}

	// Every object of the destination, and every object of the demo
	// repository but the user's own pushes, is free of every planted value.
	scanRepo(t, dest, append(api.values(), pushed.values()...), nil)
	scanRepo(t, a.demo, api.values(), nil)
	scanRepo(t, a.demo, pushed.values(), userCommits)
	if refs := gitOut(a.demo, "for-each-ref", "--format=%(refname)"); !strings.Contains(refs, "refs/heads/main") {
		t.Fatalf("demo refs: %s", refs)
	}
	logs := a.stdout.String() + a.stderr.String()
	for _, v := range append(api.values(), pushed.values()...) {
		if strings.Contains(logs, v) {
			t.Errorf("the server's log holds the planted %.12s…", v)
		}
	}

	// app validate reports the pushed files and the API's Repository.
	git(t, a.work, "pull", "-q", "origin", "main")
	repoYAML := "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n  name: leaky\n  project: default\nspec:\n  type: Git\n" +
		"  endpoint: https://bob:" + api.password + "@git.example.org/x.git\n  mirror: https://git.example.org/x.git?token=" + api.ghp + "\n"
	os.MkdirAll(filepath.Join(a.work, "projects/default/repositories"), 0o755)
	os.WriteFile(filepath.Join(a.work, "projects/default/repositories/leaky.yaml"), []byte(repoYAML), 0o644)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"validate", a.work}, &out, &errb, nil); code != 1 {
		t.Fatalf("validate: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"projects/default/repositories/leaky.yaml:8: spec.endpoint: clear-text password in a URL (https://bob:…@git.example.org)",
		"projects/default/repositories/leaky.yaml:9: spec.mirror: clear-text GitHub token (ghp_…)",
		"projects/default/namespaces/git-url.yaml:6: metadata.description: clear-text password in a URL",
		"projects/default/namespaces/git-ghp.yaml:7: metadata.annotations.token: clear-text GitHub token (ghp_…)",
		"projects/default/namespaces/git-keys.yaml:7: metadata.annotations.ghs_…: clear-text GitHub token (ghs_…) in a key",
		"projects/default/namespaces/git-text.yaml:6: metadata.description: clear-text GitHub token (github_pat_…) and AWS access key (AKIA…)",
		"projects/default/namespaces/git-pem.yaml:7: metadata.annotations.tls: clear-text private key (PEM block)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("validate does not report %q:\n%s", want, out.String())
		}
	}
	for _, v := range append(api.values(), pushed.values()...) {
		if strings.Contains(out.String()+errb.String(), v) {
			t.Errorf("validate repeats the planted %.12s…", v)
		}
	}
}

// scanRepo fails the test for each planted value an object of repo, or a
// commit of any of its refs (message and patch), holds; the commits in
// skipCommits are not scanned, nor then the objects.
func scanRepo(t *testing.T, repo string, values []string, skipCommits []string) {
	t.Helper()
	all := gitOut(repo, "cat-file", "--batch-all-objects", "--batch")
	logs := gitOut(repo, "log", "--all", "-p", "--format=commit %H%n%B")
	if all == "" || logs == "" {
		t.Fatalf("%s: nothing to scan", repo)
	}
	for _, v := range values {
		if skipCommits == nil && strings.Contains(all, v) {
			t.Errorf("%s holds the planted %.12s… in an object", repo, v)
		}
		for _, c := range strings.Split(logs, "\ncommit ")[0:] {
			sha, _, _ := strings.Cut(strings.TrimPrefix(c, "commit "), "\n")
			if contains(skipCommits, sha) {
				continue
			}
			if strings.Contains(c, v) {
				t.Errorf("%s: commit %.12s writes the planted %.12s…", repo, sha, v)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bigNamespace is a Namespace with n labels (about 30 bytes each).
func bigNamespace(name string, n int, value string) map[string]any {
	labels := make(map[string]any, n)
	for i := range n {
		labels[fmt.Sprintf("label-%06d", i)] = fmt.Sprintf("%s-%06d", value, i)
	}
	return namespaceObj(name, map[string]any{"labels": labels})
}

// latestRun is the status and rows of the pipeline's newest run with
// trigger, once it has ended ("" while there is none).
func (a *localApp) latestRun(t *testing.T, pipeline, trigger string) (string, []runRow) {
	t.Helper()
	code, body := a.send(t, "GET", "/api/pipelines/default/"+pipeline+"/runs?limit=500", "", nil)
	if code != 200 {
		t.Fatalf("runs: %d %s", code, body)
	}
	var list struct {
		Items []struct {
			ID      int64  `json:"id"`
			Trigger string `json:"trigger"`
			Status  string `json:"status"`
		} `json:"items"`
	}
	json.Unmarshal([]byte(body), &list)
	for _, r := range list.Items { // newest first
		if r.Trigger == trigger && r.Status != "In Progress" {
			_, body := a.send(t, "GET", fmt.Sprintf("/api/runs/%d", r.ID), "", nil)
			var run struct {
				Rows []runRow `json:"rows"`
			}
			json.Unmarshal([]byte(body), &run)
			return r.Status, run.Rows
		}
	}
	return "", nil
}

// TestOneSizeLimitForTheAPIAndGit: a 3 MB Namespace is accepted through the
// API, exported, read back from Git, and later runs stay Success; a larger
// one gets 413 naming the limit, and a file over the limit in Git is an
// invalid row while the other files sync.
func TestOneSizeLimitForTheAPIAndGit(t *testing.T) {
	a := startLocal(t)
	big := bigNamespace("big", 100000, "value")
	body, _ := json.Marshal(big)
	if len(body) < 3000000 {
		t.Fatalf("the body is %d bytes, want 3 MB", len(body))
	}
	if code, out := a.send(t, "POST", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces", "application/json", body); code != 201 {
		t.Fatalf("3 MB Namespace: %d %.300s", code, out)
	}
	path := "projects/default/namespaces/big.yaml"
	var file string
	a.eventually(t, "the 3 MB Namespace in Git", func() bool {
		file = gitOut(a.demo, "show", "main:"+path)
		return file != ""
	})
	rs, probs := spec.Parse(path, []byte(file))
	if len(probs) != 0 || len(rs) != 1 || !spec.Equal(rs[0].Object, big) {
		t.Fatalf("the exported file (%d bytes) does not read back as the resource: %v", len(file), probs)
	}

	// A push after it syncs, and the big file is not a problem of the run.
	a.push(t, "Add after-big, and a file over the limit", map[string]string{
		"projects/default/namespaces/after-big.yaml": namespaceYAML("after-big"),
		"projects/default/namespaces/huge.yaml":      namespaceYAML("huge") + "# " + strings.Repeat("x", spec.MaxResourceBytes) + "\n",
	})
	a.eventually(t, "after-big in the system", func() bool {
		code, _ := a.send(t, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces/after-big", "", nil)
		return code == 200
	})
	a.eventually(t, "the push's run", func() bool {
		_, rows := a.latestRun(t, "system-sync", "Webhook")
		return hasPath(rows, "projects/default/namespaces/huge.yaml")
	})
	status, rows := a.latestRun(t, "system-sync", "Webhook")
	for _, r := range rows {
		switch {
		case r.Name == "big":
			t.Errorf("the 3 MB resource is a row of the push's run: %+v", r)
		case r.Path == "projects/default/namespaces/huge.yaml":
			if r.Action != "invalid" || !strings.Contains(r.Message, "over the limit of 4194304 bytes (4 MiB) for one resource") {
				t.Errorf("the file over the limit: %+v", r)
			}
		}
	}
	if status != "Partial" {
		t.Errorf("the push's run is %s, want Partial (huge.yaml alone invalid): %+v", status, rows)
	}
	git(t, a.work, "rm", "-q", "projects/default/namespaces/huge.yaml")
	git(t, a.work, "commit", "-q", "-m", "Remove huge")
	git(t, a.work, "push", "-q", "origin", "HEAD:main")
	if status, rows := a.runNow(t, "system-sync"); status != "Success" {
		t.Errorf("the manual run with the 3 MB resource in Git is %s: %+v", status, rows)
	}

	// Larger than the limit as YAML in Git: 413, the limit named, nothing stored.
	over := bigNamespace("over", 50000, "v: "+strings.Repeat("x", 64)) // long labels: within spec.MaxNodes
	body, _ = json.Marshal(over)
	code, out := a.send(t, "POST", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces", "application/json", body)
	var eb struct {
		Code     int `json:"code"`
		External []struct {
			Message string `json:"message"`
		} `json:"external"`
	}
	json.Unmarshal([]byte(out), &eb)
	if code != 413 || eb.Code != 413 || len(eb.External) == 0 || !strings.Contains(eb.External[0].Message, "limit of 4194304 bytes (4 MiB) for one resource") {
		t.Fatalf("%d-byte body of a resource over the limit: %d %.300s", len(body), code, out)
	}
	if code, _ := a.send(t, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces/over", "", nil); code != 404 {
		t.Fatalf("the refused resource is stored: %d", code)
	}
}

// apiProblem is the first problem of a refused request.
type apiProblem struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (a *localApp) refused(t *testing.T, contentType, body string) (int, []apiProblem) {
	t.Helper()
	code, out := a.send(t, "POST", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces", contentType, []byte(body))
	var eb struct {
		External []apiProblem `json:"external"`
	}
	json.Unmarshal([]byte(out), &eb)
	return code, eb.External
}

// TestNumbersAndTextAreExactOrRefused: through the API and through Git,
// 1e400 and a 30-digit integer are refused naming their field and line,
// numbers a float64 or int64 holds round-trip exactly to Git and back, and
// text that is not UTF-8 is refused, never replaced.
func TestNumbersAndTextAreExactOrRefused(t *testing.T) {
	a := startLocal(t)
	withQuota := func(name, value string) string {
		return namespaceYAML(name) + "  resourceQuotas:\n    requests:\n      count: " + value + "\n"
	}
	for _, tc := range []struct{ value, message string }{
		{"1e400", "the number 1e400 is beyond the range of a 64-bit float"},
		{"123456789012345678901234567890", "the integer 123456789012345678901234567890 is beyond the 64-bit range"},
	} {
		code, probs := a.refused(t, "application/yaml", withQuota("n", tc.value))
		if code != 400 || len(probs) != 1 || probs[0].Line != 10 || probs[0].Field != "spec.resourceQuotas.requests.count" || !strings.Contains(probs[0].Message, tc.message) {
			t.Errorf("YAML %s: %d %+v", tc.value, code, probs)
		}
		js := `{"apiVersion":"infra.k8smgmt.io/v3","kind":"Namespace",` + "\n" + `"metadata":{"name":"n","project":"default"},` + "\n" +
			`"spec":{"placement":{},"resourceQuotas":{"requests":{"count":` + tc.value + `}}}}`
		code, probs = a.refused(t, "application/json", js)
		if code != 400 || len(probs) != 1 || probs[0].Line != 3 || probs[0].Field != "spec.resourceQuotas.requests.count" || !strings.Contains(probs[0].Message, tc.message) {
			t.Errorf("JSON %s: %d %+v", tc.value, code, probs)
		}
	}
	code, probs := a.refused(t, "application/json", "{\"apiVersion\":\"infra.k8smgmt.io/v3\",\"kind\":\"Namespace\",\n\"metadata\":{\"name\":\"n\",\"description\":\"caf\xe9\"},\"spec\":{}}")
	if code != 400 || len(probs) != 1 || probs[0].Line != 2 || probs[0].Field != "metadata.description" || !strings.Contains(probs[0].Message, "not UTF-8") {
		t.Errorf("JSON with invalid UTF-8: %d %+v", code, probs)
	}
	code, probs = a.refused(t, "application/yaml", strings.Replace(namespaceYAML("n"), "metadata:\n", "metadata:\n  description: caf\xe9\n", 1))
	if code != 400 || len(probs) != 1 || probs[0].Line != 4 || !strings.Contains(probs[0].Message, "invalid UTF-8") {
		t.Errorf("YAML with invalid UTF-8: %d %+v", code, probs)
	}

	// Exact numbers round-trip through the API, Git and back.
	exact := map[string]string{"exact-int": "9223372036854775807", "exact-float": "0.1", "exact-exp": "1e21", "exact-small": "2.5e-10"}
	for name, v := range exact {
		if code, out := a.send(t, "POST", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces", "application/yaml", []byte(withQuota(name, v))); code != 201 {
			t.Fatalf("%s: %d %s", v, code, out)
		}
	}
	for name, v := range exact {
		var file string
		a.eventually(t, name+" in Git", func() bool {
			file = gitOut(a.demo, "show", "main:projects/default/namespaces/"+name+".yaml")
			return file != ""
		})
		rs, probs := spec.Parse(name+".yaml", []byte(file))
		want, _ := spec.Parse("want.yaml", []byte(withQuota(name, v)))
		if len(probs) != 0 || !spec.Equal(rs[0].Object, want[0].Object) {
			t.Errorf("%s exported as\n%s", v, file)
		}
		_, out := a.send(t, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces/"+name, "", nil)
		if !strings.Contains(out, `"count":`+strings.Replace(v, "1e21", "1e+21", 1)) {
			t.Errorf("%s reads back from the API as %s", v, out)
		}
	}

	// From Git: the same refusals, as invalid rows of the run; the other file syncs.
	a.push(t, "Numbers and text", map[string]string{
		"projects/default/namespaces/git-big.yaml":   withQuota("git-big", "1e400"),
		"projects/default/namespaces/git-long.yaml":  withQuota("git-long", "123456789012345678901234567890"),
		"projects/default/namespaces/git-latin.yaml": strings.Replace(namespaceYAML("git-latin"), "metadata:\n", "metadata:\n  description: caf\xe9\n", 1),
		"projects/default/namespaces/git-ok.yaml":    withQuota("git-ok", "42"),
	})
	a.eventually(t, "git-ok in the system and the push's run", func() bool {
		code, _ := a.send(t, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces/git-ok", "", nil)
		_, rows := a.latestRun(t, "system-sync", "Webhook")
		return code == 200 && hasPath(rows, "projects/default/namespaces/git-ok.yaml")
	})
	_, rows := a.latestRun(t, "system-sync", "Webhook")
	want := map[string]string{
		"projects/default/namespaces/git-big.yaml":   ":10: spec.resourceQuotas.requests.count: the number 1e400 is beyond",
		"projects/default/namespaces/git-long.yaml":  ":10: spec.resourceQuotas.requests.count: the integer 123456789012345678901234567890 is beyond",
		"projects/default/namespaces/git-latin.yaml": ":4: invalid UTF-8: byte 0xe9 at column 19",
	}
	for _, r := range rows {
		if w, ok := want[r.Path]; ok {
			delete(want, r.Path)
			if r.Action != "invalid" || !strings.Contains(r.Message, r.Path+w) {
				t.Errorf("row %+v, want invalid: %s", r, w)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("no rows for %v in %+v", want, rows)
	}
	for _, n := range []string{"git-big", "git-long", "git-latin"} {
		if code, _ := a.send(t, "GET", "/apis/infra.k8smgmt.io/v3/projects/default/namespaces/"+n, "", nil); code != 404 {
			t.Errorf("%s reached the system: %d", n, code)
		}
	}
}

// runNow starts a manual run of the pipeline and returns its status and
// rows once it has ended.
func (a *localApp) runNow(t *testing.T, pipeline string) (string, []runRow) {
	t.Helper()
	code, out := a.send(t, "POST", "/api/pipelines/default/"+pipeline+"/run", "", nil)
	var started struct {
		ID int64 `json:"id"`
	}
	if code != 202 || json.Unmarshal([]byte(out), &started) != nil || started.ID == 0 {
		t.Fatalf("manual run of %s: %d %s", pipeline, code, out)
	}
	var run struct {
		Status string   `json:"status"`
		Rows   []runRow `json:"rows"`
	}
	a.eventually(t, "the manual run's end", func() bool {
		_, body := a.send(t, "GET", fmt.Sprintf("/api/runs/%d", started.ID), "", nil)
		return json.Unmarshal([]byte(body), &run) == nil && run.Status != "" && run.Status != "In Progress"
	})
	return run.Status, run.Rows
}

func hasPath(rows []runRow, path string) bool {
	for _, r := range rows {
		if r.Path == path {
			return true
		}
	}
	return false
}
