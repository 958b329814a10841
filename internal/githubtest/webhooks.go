package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PayloadDir is the folder of real webhook payloads (octokit's examples),
// the repository's testdata/github-webhooks, found relative to this package's source.
func PayloadDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "github-webhooks")
}

// Payload loads PayloadDir()/<event>/<file>, lets edit change the decoded
// JSON (when not nil), and returns it encoded again. A missing or broken
// file fails the test.
func Payload(t testing.TB, event, file string, edit func(map[string]any)) []byte {
	t.Helper()
	path := filepath.Join(PayloadDir(), event, file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("githubtest: webhook payload: %v", err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("githubtest: webhook payload %s: %v", path, err)
	}
	if edit != nil {
		edit(p)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("githubtest: webhook payload %s: %v", path, err)
	}
	return out
}

// SetRepo makes payload p about s's repository owner/name, covered by
// installationID: every repository object of the payload's repository
// (repository, pull_request.head.repo and base.repo, check runs' pull
// requests, …) gets the name, full name, owner, id and private, default
// branch main, and every URL of the old repository (API, web, clone, git,
// ssh) points at s. installation.id is set, and an installation object
// added when the payload has none (GitHub sends one to apps). The
// organization, when present, becomes owner. Other fields (refs, SHAs,
// numbers, users) stay as they are.
func SetRepo(p map[string]any, s *Server, owner, name string, installationID int64) {
	inst, _ := p["installation"].(map[string]any)
	if inst == nil {
		inst = map[string]any{}
		p["installation"] = inst
	}
	inst["id"] = float64(installationID)
	inst["node_id"] = nodeID("I_", installationID)

	if org, ok := p["organization"].(map[string]any); ok {
		org["login"] = owner
	}

	old, _ := p["repository"].(map[string]any)
	if old == nil {
		return
	}
	oldFull, _ := old["full_name"].(string)
	if oldFull == "" {
		return
	}
	_, oldName, _ := strings.Cut(oldFull, "/")
	oldAPI, _ := old["url"].(string)

	s.mu.Lock()
	rp := s.repos[repoKey(owner, name)]
	var rj map[string]any
	if rp != nil {
		b, _ := json.Marshal(s.repoJSON(rp))
		_ = json.Unmarshal(b, &rj)
	}
	ownerID := s.userID(owner)
	s.mu.Unlock()

	newFull := owner + "/" + name
	host := strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	// The old repository's URLs, as the payload spells them (GitHub
	// Enterprise payloads use other hosts) and as github.com would.
	newAPI, newWeb := s.APIURL()+"repos/"+newFull, s.WebURL()+newFull
	newGit := "git://" + host + "/" + newFull + ".git"
	newSSH := "git@" + strings.Split(host, ":")[0] + ":" + newFull + ".git"
	var replacements []struct{ old, new string }
	seen := map[string]bool{}
	add := func(old, new string) {
		if old != "" && !seen[old] {
			seen[old] = true
			replacements = append(replacements, struct{ old, new string }{old, new})
		}
	}
	str := func(k string) string { v, _ := old[k].(string); return v }
	add(str("clone_url"), s.cloneURL(owner, name))
	add(str("git_url"), newGit)
	add(str("ssh_url"), newSSH)
	add(str("html_url"), newWeb)
	add(str("svn_url"), newWeb)
	add(str("url"), newAPI) // push payloads: url is the web address, mapped above already
	add("https://api.github.com/repos/"+oldFull, newAPI)
	add("https://github.com/"+oldFull+".git", s.cloneURL(owner, name))
	add("git://github.com/"+oldFull+".git", newGit)
	add("git@github.com:"+oldFull+".git", newSSH)
	add("https://github.com/"+oldFull, newWeb)
	rewrite := func(v string) string {
		for _, r := range replacements {
			if v == r.old {
				return r.new
			}
			if strings.HasPrefix(v, r.old) {
				next := v[len(r.old)]
				if next == '/' || next == '{' || next == '#' || next == '?' {
					return r.new + v[len(r.old):]
				}
			}
		}
		return v
	}

	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			isRepo := false
			if fn, _ := x["full_name"].(string); strings.EqualFold(fn, oldFull) {
				isRepo = true
			} else if u, _ := x["url"].(string); (u == "https://api.github.com/repos/"+oldFull || u == oldAPI) && x["name"] == oldName {
				isRepo = true // check runs' short repository form {id, url, name}
			}
			for k, e := range x {
				x[k] = walk(e)
			}
			if isRepo {
				setRepoObject(x, rj, owner, name, ownerID, s)
			}
			return x
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
			return x
		case string:
			return rewrite(x)
		}
		return v
	}
	walk(p)
}

// setRepoObject rewrites one repository object x of a payload.
func setRepoObject(x, rj map[string]any, owner, name string, ownerID int64, s *Server) {
	x["name"] = name
	if _, ok := x["full_name"]; ok {
		x["full_name"] = owner + "/" + name
		x["private"] = true
		if _, ok := x["visibility"]; ok {
			x["visibility"] = "private"
		}
		x["default_branch"] = "main"
		if _, ok := x["master_branch"]; ok {
			x["master_branch"] = "main"
		}
		x["clone_url"] = s.cloneURL(owner, name)
		x["html_url"] = s.WebURL() + owner + "/" + name
	}
	if rj != nil {
		x["id"] = rj["id"]
		if _, ok := x["node_id"]; ok {
			x["node_id"] = rj["node_id"]
		}
	}
	if o, ok := x["owner"].(map[string]any); ok {
		oldLogin, _ := o["login"].(string)
		o["login"] = owner
		o["id"] = float64(ownerID)
		if _, ok := o["name"]; ok {
			o["name"] = owner
		}
		for _, k := range []string{"url", "html_url", "followers_url", "following_url", "gists_url", "starred_url",
			"subscriptions_url", "organizations_url", "repos_url", "events_url", "received_events_url"} {
			if v, ok := o[k].(string); ok && oldLogin != "" {
				v = strings.Replace(v, "https://api.github.com/users/"+oldLogin, s.APIURL()+"users/"+owner, 1)
				v = strings.Replace(v, "https://github.com/"+oldLogin, s.WebURL()+owner, 1)
				o[k] = v
			}
		}
	}
}

// Sign returns the X-Hub-Signature-256 value for body: "sha256=" and the hex HMAC-SHA256 with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// signSHA1 is the legacy X-Hub-Signature value GitHub still sends.
func signSHA1(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// Deliver POSTs body to url as GitHub delivers a webhook (Content-Type
// application/json, X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256
// and X-Hub-Signature signed with the server's secret, GitHub-Hookshot
// user agent, hook and installation target headers) and returns the
// response's status and body.
func (s *Server) Deliver(t testing.TB, url, event, deliveryID string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("githubtest: deliver: %v", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/"+randomHex(4)[:7])
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", deliveryID)
	h.Set("X-GitHub-Hook-ID", "1")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(s.appID, 10))
	h.Set("X-Hub-Signature-256", Sign(s.webhookSecret, body))
	h.Set("X-Hub-Signature", signSHA1(s.webhookSecret, body))
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("githubtest: deliver %s %s: %v", event, deliveryID, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("githubtest: deliver %s %s: read response: %v", event, deliveryID, err)
	}
	return resp.StatusCode, string(out)
}

// SetPull makes payload p's pull request (pull_request and number) the one
// pr describes, as AddPull registers it in s for owner/name: number, title,
// body, user, head and base refs and SHAs, state, merged and
// merge_commit_sha, and the pull request's URLs. Call it after SetRepo.
func SetPull(p map[string]any, s *Server, owner, name string, pr Pull) {
	m, _ := p["pull_request"].(map[string]any)
	if m == nil {
		m = map[string]any{}
		p["pull_request"] = m
	}
	if pr.BaseRef == "" {
		pr.BaseRef = "main"
	}
	if pr.User == "" {
		pr.User = "octocat"
	}
	s.mu.Lock()
	rp := s.repos[repoKey(owner, name)]
	s.mu.Unlock()
	var tips map[string]string
	if rp != nil {
		tips = branchTips(rp.dir)
	}
	s.mu.Lock()
	if rp != nil {
		if pr.HeadSHA == "" && pr.HeadRepoFullName == "" {
			pr.HeadSHA = tips[pr.HeadRef]
		}
		if pr.BaseSHA == "" {
			pr.BaseSHA = tips[pr.BaseRef]
		}
		for _, known := range s.pulls[rp.key()] {
			if known.number == pr.Number {
				m["id"] = float64(known.id)
				m["node_id"] = nodeID("PR_", known.id)
			}
		}
	}
	userID := s.userID(pr.User)
	s.mu.Unlock()

	p["number"] = float64(pr.Number)
	m["number"] = float64(pr.Number)
	if pr.Title != "" {
		m["title"] = pr.Title
	}
	if pr.Body != "" {
		m["body"] = pr.Body
	}
	api := s.APIURL() + "repos/" + owner + "/" + name
	web := s.WebURL() + owner + "/" + name
	num := strconv.Itoa(pr.Number)
	m["url"] = api + "/pulls/" + num
	m["html_url"] = web + "/pull/" + num
	m["issue_url"] = api + "/issues/" + num
	m["comments_url"] = api + "/issues/" + num + "/comments"
	m["commits_url"] = api + "/pulls/" + num + "/commits"
	m["diff_url"] = web + "/pull/" + num + ".diff"
	m["patch_url"] = web + "/pull/" + num + ".patch"
	if u, ok := m["user"].(map[string]any); ok {
		u["login"] = pr.User
		u["id"] = float64(userID)
	} else {
		m["user"] = map[string]any{"login": pr.User, "id": float64(userID), "type": "User"}
	}
	headOwner := owner
	if pr.HeadRepoFullName != "" {
		headOwner, _, _ = strings.Cut(pr.HeadRepoFullName, "/")
	}
	setBranch := func(key, label, ref, sha string) {
		b, _ := m[key].(map[string]any)
		if b == nil {
			b = map[string]any{}
			m[key] = b
		}
		b["label"] = label
		b["ref"] = ref
		b["sha"] = sha
	}
	setBranch("head", headOwner+":"+pr.HeadRef, pr.HeadRef, pr.HeadSHA)
	setBranch("base", owner+":"+pr.BaseRef, pr.BaseRef, pr.BaseSHA)
	if pr.HeadRepoFullName != "" {
		if head, ok := m["head"].(map[string]any); ok {
			s.mu.Lock()
			b, _ := json.Marshal(s.forkJSON(pr.HeadRepoFullName))
			s.mu.Unlock()
			var fork map[string]any
			_ = json.Unmarshal(b, &fork)
			head["repo"] = fork
		}
	}
	m["state"] = "open"
	m["merged"] = pr.Merged
	m["draft"] = pr.Draft
	if pr.Merged || pr.Closed {
		m["state"] = "closed"
	}
	if pr.MergeCommitSHA != "" {
		m["merge_commit_sha"] = pr.MergeCommitSHA
	}
}
