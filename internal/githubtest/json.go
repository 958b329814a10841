package githubtest

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// The JSON answers, built with go-github's types. Callers hold s.mu.

func ts(t time.Time) *github.Timestamp { return &github.Timestamp{Time: t} }

func tsp(t *time.Time) *github.Timestamp {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func nodeID(prefix string, id int64) string {
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d", id)))
}

func (s *Server) userJSON(login string) *github.User {
	id := s.userID(login)
	typ := "User"
	html := s.WebURL() + login
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
		html = s.WebURL() + "apps/" + strings.TrimSuffix(login, "[bot]")
	}
	api := s.APIURL() + "users/" + login
	return &github.User{
		Login:     github.String(login),
		ID:        github.Int64(id),
		NodeID:    github.String(nodeID("U_", id)),
		AvatarURL: github.String(fmt.Sprintf("%savatars/u/%d?v=4", s.WebURL(), id)),
		URL:       github.String(api),
		HTMLURL:   github.String(html),
		ReposURL:  github.String(api + "/repos"),
		Type:      github.String(typ),
		SiteAdmin: github.Bool(false),
	}
}

func (s *Server) repoJSON(rp *repo) *github.Repository {
	api := s.APIURL() + "repos/" + rp.fullName()
	host := strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	return &github.Repository{
		ID:            github.Int64(rp.id),
		NodeID:        github.String(nodeID("R_", rp.id)),
		Name:          github.String(rp.name),
		FullName:      github.String(rp.fullName()),
		Owner:         s.userJSON(rp.owner),
		Private:       github.Bool(true),
		Visibility:    github.String("private"),
		Fork:          github.Bool(false),
		DefaultBranch: github.String("main"),
		HTMLURL:       github.String(s.WebURL() + rp.fullName()),
		URL:           github.String(api),
		CloneURL:      github.String(s.cloneURL(rp.owner, rp.name)),
		GitURL:        github.String("git://" + host + "/" + rp.fullName() + ".git"),
		SSHURL:        github.String("git@" + strings.Split(host, ":")[0] + ":" + rp.fullName() + ".git"),
		PullsURL:      github.String(api + "/pulls{/number}"),
		IssuesURL:     github.String(api + "/issues{/number}"),
		CreatedAt:     ts(rp.created),
		UpdatedAt:     ts(rp.created),
		PushedAt:      ts(rp.created),
		Archived:      github.Bool(false),
		Disabled:      github.Bool(false),
	}
}

// forkJSON describes a pull request's head repository full name that may not be served.
func (s *Server) forkJSON(fullName string) *github.Repository {
	owner, name, _ := strings.Cut(fullName, "/")
	if rp := s.repos[repoKey(owner, name)]; rp != nil {
		j := s.repoJSON(rp)
		j.Fork = github.Bool(true)
		return j
	}
	return &github.Repository{
		Name:          github.String(name),
		FullName:      github.String(fullName),
		Owner:         s.userJSON(owner),
		Private:       github.Bool(false),
		Fork:          github.Bool(true),
		DefaultBranch: github.String("main"),
		HTMLURL:       github.String(s.WebURL() + fullName),
		URL:           github.String(s.APIURL() + "repos/" + fullName),
		CloneURL:      github.String(s.cloneURL(owner, name)),
	}
}

func (s *Server) commentJSON(rp *repo, c *comment) *github.IssueComment {
	api := s.APIURL() + "repos/" + rp.fullName()
	assoc := "NONE"
	switch {
	case strings.EqualFold(c.user, rp.owner):
		assoc = "OWNER"
	case s.permissionOf(rp, c.user) != "none":
		assoc = "COLLABORATOR"
	}
	kind := "issues"
	for _, p := range s.pulls[rp.key()] {
		if p.number == c.number {
			kind = "pull"
		}
	}
	return &github.IssueComment{
		ID:                github.Int64(c.id),
		NodeID:            github.String(nodeID("IC_", c.id)),
		Body:              github.String(c.body),
		User:              s.userJSON(c.user),
		CreatedAt:         ts(c.created),
		UpdatedAt:         ts(c.updated),
		AuthorAssociation: github.String(assoc),
		URL:               github.String(fmt.Sprintf("%s/issues/comments/%d", api, c.id)),
		HTMLURL:           github.String(fmt.Sprintf("%s%s/%s/%d#issuecomment-%d", s.WebURL(), rp.fullName(), kind, c.number, c.id)),
		IssueURL:          github.String(fmt.Sprintf("%s/issues/%d", api, c.number)),
	}
}

func (s *Server) appJSON() *github.App {
	return &github.App{
		ID:          github.Int64(s.appID),
		Slug:        github.String(AppSlug),
		NodeID:      github.String(nodeID("A_", s.appID)),
		Name:        github.String(AppName),
		Owner:       s.userJSON("systemsync"),
		Description: github.String("Keeps a Git repository of resource specs and the management controller in sync."),
		ExternalURL: github.String("https://github.com/systemsync/systemsync"),
		HTMLURL:     github.String(s.WebURL() + "apps/" + AppSlug),
		CreatedAt:   ts(s.created),
		UpdatedAt:   ts(s.created),
		Permissions: toInstallationPermissions(defaultPermissions),
		Events:      []string{"push", "pull_request", "issue_comment", "check_run"},
	}
}

func (s *Server) installationJSON(inst *installation) *github.Installation {
	account := inst.account
	if account == "" {
		account = "octocat"
	}
	api := s.APIURL()
	return &github.Installation{
		ID:                  github.Int64(inst.id),
		NodeID:              github.String(nodeID("I_", inst.id)),
		AppID:               github.Int64(s.appID),
		AppSlug:             github.String(AppSlug),
		TargetID:            github.Int64(s.userID(account)),
		Account:             s.userJSON(account),
		AccessTokensURL:     github.String(fmt.Sprintf("%sapp/installations/%d/access_tokens", api, inst.id)),
		RepositoriesURL:     github.String(api + "installation/repositories"),
		HTMLURL:             github.String(fmt.Sprintf("%ssettings/installations/%d", s.WebURL(), inst.id)),
		TargetType:          github.String("User"),
		RepositorySelection: github.String("selected"),
		Permissions:         toInstallationPermissions(inst.perms),
		Events:              []string{"push", "pull_request", "issue_comment", "check_run"},
		CreatedAt:           ts(inst.created),
		UpdatedAt:           ts(inst.created),
	}
}

func (s *Server) checkRunJSON(rp *repo, cr *checkRun) *github.CheckRun {
	api := s.APIURL() + "repos/" + rp.fullName()
	out := &github.CheckRun{
		ID:          github.Int64(cr.id),
		NodeID:      github.String(nodeID("CR_", cr.id)),
		HeadSHA:     github.String(cr.headSHA),
		URL:         github.String(fmt.Sprintf("%s/check-runs/%d", api, cr.id)),
		HTMLURL:     github.String(fmt.Sprintf("%s%s/runs/%d", s.WebURL(), rp.fullName(), cr.id)),
		Status:      github.String(cr.status),
		StartedAt:   tsp(cr.startedAt),
		CompletedAt: tsp(cr.completedAt),
		Name:        github.String(cr.name),
		CheckSuite:  &github.CheckSuite{ID: github.Int64(cr.suiteID)},
		App:         s.appJSON(),
		Output: &github.CheckRunOutput{
			AnnotationsCount: github.Int(len(cr.annotations)),
			AnnotationsURL:   github.String(fmt.Sprintf("%s/check-runs/%d/annotations", api, cr.id)),
		},
		PullRequests: []*github.PullRequest{},
	}
	if cr.conclusion != "" {
		out.Conclusion = github.String(cr.conclusion)
	}
	if cr.detailsURL != "" {
		out.DetailsURL = github.String(cr.detailsURL)
	} else {
		out.DetailsURL = out.HTMLURL
	}
	if cr.externalID != "" {
		out.ExternalID = github.String(cr.externalID)
	}
	if cr.hasOutput {
		out.Output.Title = github.String(cr.title)
		out.Output.Summary = github.String(cr.summary)
		if cr.text != "" {
			out.Output.Text = github.String(cr.text)
		}
	}
	// Open pull requests of this repository whose head is the commit, in GitHub's short form.
	for _, p := range s.sortedPulls(rp.key()) {
		if p.state != "open" || p.headRepo != "" || p.headSHA != cr.headSHA {
			continue
		}
		ref := func(branch, sha string) *github.PullRequestBranch {
			return &github.PullRequestBranch{Ref: github.String(branch), SHA: github.String(sha),
				Repo: &github.Repository{ID: github.Int64(rp.id), URL: github.String(api), Name: github.String(rp.name)}}
		}
		out.PullRequests = append(out.PullRequests, &github.PullRequest{
			URL: github.String(fmt.Sprintf("%s/pulls/%d", api, p.number)), ID: github.Int64(p.id), Number: github.Int(p.number),
			Head: ref(p.headRef, p.headSHA), Base: ref(p.baseRef, p.baseSHA),
		})
	}
	return out
}

// pullJSON describes p; tips are the repository's branch tips (for PRs that
// follow their head branch).
func (s *Server) pullJSON(rp *repo, p *pull, tips map[string]string) *github.PullRequest {
	api := s.APIURL() + "repos/" + rp.fullName()
	web := s.WebURL() + rp.fullName()
	s.refreshHeads(rp, tips)
	headSHA := p.headSHA
	headRepo := s.repoJSON(rp)
	headOwner := rp.owner
	if p.headRepo != "" {
		headRepo = s.forkJSON(p.headRepo)
		headOwner, _, _ = strings.Cut(p.headRepo, "/")
	}
	assoc := "NONE"
	switch {
	case strings.EqualFold(p.user, rp.owner):
		assoc = "OWNER"
	case s.permissionOf(rp, p.user) != "none":
		assoc = "COLLABORATOR"
	}
	out := &github.PullRequest{
		ID:                  github.Int64(p.id),
		NodeID:              github.String(nodeID("PR_", p.id)),
		Number:              github.Int(p.number),
		State:               github.String(p.state),
		Locked:              github.Bool(false),
		Title:               github.String(p.title),
		Body:                github.String(p.body),
		CreatedAt:           ts(p.created),
		UpdatedAt:           ts(p.updated),
		ClosedAt:            tsp(p.closedAt),
		MergedAt:            tsp(p.mergedAt),
		User:                s.userJSON(p.user),
		Draft:               github.Bool(p.draft),
		Merged:              github.Bool(p.merged),
		MaintainerCanModify: github.Bool(false),
		AuthorAssociation:   github.String(assoc),
		URL:                 github.String(fmt.Sprintf("%s/pulls/%d", api, p.number)),
		HTMLURL:             github.String(fmt.Sprintf("%s/pull/%d", web, p.number)),
		IssueURL:            github.String(fmt.Sprintf("%s/issues/%d", api, p.number)),
		StatusesURL:         github.String(fmt.Sprintf("%s/statuses/%s", api, headSHA)),
		DiffURL:             github.String(fmt.Sprintf("%s/pull/%d.diff", web, p.number)),
		PatchURL:            github.String(fmt.Sprintf("%s/pull/%d.patch", web, p.number)),
		CommitsURL:          github.String(fmt.Sprintf("%s/pulls/%d/commits", api, p.number)),
		CommentsURL:         github.String(fmt.Sprintf("%s/issues/%d/comments", api, p.number)),
		ReviewCommentsURL:   github.String(fmt.Sprintf("%s/pulls/%d/comments", api, p.number)),
		MergeableState:      github.String("unknown"),
		Head: &github.PullRequestBranch{
			Label: github.String(headOwner + ":" + p.headRef),
			Ref:   github.String(p.headRef),
			SHA:   github.String(headSHA),
			Repo:  headRepo,
			User:  s.userJSON(headOwner),
		},
		Base: &github.PullRequestBranch{
			Label: github.String(rp.owner + ":" + p.baseRef),
			Ref:   github.String(p.baseRef),
			SHA:   github.String(p.baseSHA),
			Repo:  s.repoJSON(rp),
			User:  s.userJSON(rp.owner),
		},
	}
	if p.mergeCommitSHA != "" {
		out.MergeCommitSHA = github.String(p.mergeCommitSHA)
	}
	if p.merged {
		out.MergedBy = s.userJSON(rp.owner)
	}
	return out
}

// refreshHeads moves open pull requests that follow their head branch to
// the branch's tip (tips nil: nothing to do).
func (s *Server) refreshHeads(rp *repo, tips map[string]string) {
	if tips == nil {
		return
	}
	for _, p := range s.pulls[rp.key()] {
		if p.followHead && p.state == "open" && tips[p.headRef] != "" {
			p.headSHA = tips[p.headRef]
		}
	}
}

func sortInstallations(list []*github.Installation) {
	sort.Slice(list, func(i, j int) bool { return list[i].GetID() < list[j].GetID() })
}

func sortRepos(list []*repo) {
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
}
