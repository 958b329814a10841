package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

const apiPrefix = "/api/v3"

const docsREST = "https://docs.github.com/rest"

// GitHub's limits.
const (
	maxCommentChars     = 65536 // issue comment body
	maxOutputChars      = 65535 // check run output summary and text
	maxAnnotations      = 50    // per request
	maxAnnotationBytes  = 65536 // annotation message and raw_details (64 KB)
	maxAnnotationTitle  = 255
	maxCheckRunNameSize = 255
)

type errorBody struct {
	Message          string          `json:"message"`
	Errors           []*github.Error `json:"errors,omitempty"`
	DocumentationURL string          `json:"documentation_url,omitempty"`
}

func errBody(msg, doc string) errorBody { return errorBody{Message: msg, DocumentationURL: doc} }

var (
	notFoundBody   = errBody("Not Found", docsREST)
	badCredentials = errBody("Bad credentials", docsREST)
	notAccessible  = errBody("Resource not accessible by integration", docsREST)
)

func validationFailed(doc string, errs ...*github.Error) errorBody {
	return errorBody{Message: "Validation Failed", Errors: errs, DocumentationURL: doc}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4999")
	h.Set("X-RateLimit-Used", "1")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Request-Id", strings.ToUpper(randomHex(8)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// paginate applies GitHub's page and per_page (default 30, at most 100) to
// a list of total items, sets the Link header as GitHub does, and returns
// the slice bounds of the requested page.
func paginate(w http.ResponseWriter, r *http.Request, total int) (lo, hi int) {
	q := r.URL.Query()
	per := 30
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		per = min(n, 100)
	}
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	last := max(1, (total+per-1)/per)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min((page-1)*per, total)
	hi = min(lo+per, total)
	return lo, hi
}

// segments splits the escaped path into unescaped segments.
func segments(escaped string) []string {
	escaped = strings.Trim(escaped, "/")
	if escaped == "" {
		return nil
	}
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	return parts
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, body []byte) {
	segs := segments(strings.TrimPrefix(r.URL.EscapedPath(), apiPrefix))
	switch {
	case len(segs) >= 1 && segs[0] == "app":
		s.serveApp(w, r, segs, body)
	case len(segs) == 3 && (segs[0] == "orgs" || segs[0] == "users") && segs[2] == "installation" && r.Method == http.MethodGet:
		if err := s.verifyJWT(r); err != nil {
			writeJSON(w, http.StatusUnauthorized, errBody(err.Error(), docsREST))
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var found *installation
		for _, inst := range s.installations {
			if strings.EqualFold(inst.account, segs[1]) && (found == nil || inst.id < found.id) {
				found = inst
			}
		}
		if found == nil {
			writeJSON(w, http.StatusNotFound, notFoundBody)
			return
		}
		writeJSON(w, http.StatusOK, s.installationJSON(found))
	case len(segs) == 2 && segs[0] == "installation" && segs[1] == "repositories" && r.Method == http.MethodGet:
		tok := s.tokenFrom(w, r)
		if tok == nil {
			return
		}
		s.mu.Lock()
		var list []*github.Repository
		for _, rp := range s.sortedRepos() {
			if tok.covers(rp) {
				list = append(list, s.repoJSON(rp))
			}
		}
		s.mu.Unlock()
		lo, hi := paginate(w, r, len(list))
		writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "repositories": list[lo:hi], "repository_selection": "selected"})
	case len(segs) >= 3 && segs[0] == "repos":
		s.serveRepo(w, r, segs[1], segs[2], segs[3:], body)
	case len(segs) >= 1 && segs[0] == "user":
		s.serveUser(w, r, segs)
	case len(segs) == 2 && segs[0] == "users" && r.Method == http.MethodGet:
		// GET /users/{username}: anyone may ask, with or without a token.
		s.mu.Lock()
		_, ok := s.userIDs[strings.ToLower(segs[1])]
		var u *github.User
		if ok {
			u = s.userJSON(s.loginSpelling(segs[1]))
		}
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, notFoundBody)
			return
		}
		writeJSON(w, http.StatusOK, u)
	default:
		writeJSON(w, http.StatusNotFound, notFoundBody)
	}
}

// serveRepo answers /repos/{owner}/{repo}/...
func (s *Server) serveRepo(w http.ResponseWriter, r *http.Request, owner, name string, rest []string, body []byte) {
	s.mu.Lock()
	rp := s.repos[repoKey(owner, name)]
	s.mu.Unlock()

	if len(rest) == 1 && rest[0] == "installation" && r.Method == http.MethodGet {
		if err := s.verifyJWT(r); err != nil {
			writeJSON(w, http.StatusUnauthorized, errBody(err.Error(), docsREST))
			return
		}
		if rp == nil {
			writeJSON(w, http.StatusNotFound, notFoundBody)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		inst := s.installations[rp.installationID]
		writeJSON(w, http.StatusOK, s.installationJSON(inst))
		return
	}

	tok := s.tokenFrom(w, r)
	if tok == nil {
		return
	}
	if rp == nil || !tok.covers(rp) {
		// GitHub does not reveal private repositories a token cannot see.
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	m := r.Method
	need := func(scope, level string) bool {
		if tok.allows(scope, level) {
			return true
		}
		writeJSON(w, http.StatusForbidden, notAccessible)
		return false
	}
	access := "read"
	if m != http.MethodGet && m != http.MethodHead {
		access = "write"
	}
	n := len(rest)
	switch {
	case n == 0 && m == http.MethodGet:
		if need("metadata", "read") {
			s.mu.Lock()
			j := s.repoJSON(rp)
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, j)
		}

	// Issue comments (either issues or pull_requests permission, as GitHub allows for PRs).
	case n == 3 && rest[0] == "issues" && rest[2] == "comments" && (m == http.MethodGet || m == http.MethodPost):
		if !tok.allows("issues", access) && !tok.allows("pull_requests", access) {
			writeJSON(w, http.StatusForbidden, notAccessible)
			return
		}
		num, err := strconv.Atoi(rest[1])
		if err != nil {
			writeJSON(w, http.StatusNotFound, notFoundBody)
			return
		}
		if m == http.MethodGet {
			s.listComments(w, r, rp, num)
		} else {
			s.createComment(w, rp, num, body)
		}
	case n == 3 && rest[0] == "issues" && rest[1] == "comments" && (m == http.MethodGet || m == http.MethodPatch || m == http.MethodDelete):
		if !tok.allows("issues", access) && !tok.allows("pull_requests", access) {
			writeJSON(w, http.StatusForbidden, notAccessible)
			return
		}
		id, _ := strconv.ParseInt(rest[2], 10, 64)
		s.serveComment(w, r, rp, id, body)

	// Check runs.
	case n == 1 && rest[0] == "check-runs" && m == http.MethodPost:
		if need("checks", "write") {
			s.createCheckRun(w, rp, body)
		}
	case n == 2 && rest[0] == "check-runs" && (m == http.MethodGet || m == http.MethodPatch):
		if need("checks", access) {
			id, _ := strconv.ParseInt(rest[1], 10, 64)
			if m == http.MethodGet {
				s.getCheckRun(w, rp, id)
			} else {
				s.updateCheckRun(w, rp, id, body)
			}
		}
	case n == 3 && rest[0] == "check-runs" && rest[2] == "annotations" && m == http.MethodGet:
		if need("checks", "read") {
			id, _ := strconv.ParseInt(rest[1], 10, 64)
			s.listAnnotations(w, r, rp, id)
		}
	case n >= 3 && rest[0] == "commits" && rest[n-1] == "check-runs" && m == http.MethodGet:
		if need("checks", "read") {
			s.listCheckRunsForRef(w, r, rp, strings.Join(rest[1:n-1], "/"))
		}

	// Pull requests.
	case n == 3 && rest[0] == "commits" && rest[2] == "pulls" && m == http.MethodGet:
		if !tok.allows("pull_requests", "read") && !tok.allows("contents", "read") {
			writeJSON(w, http.StatusForbidden, notAccessible)
			return
		}
		s.listPullsForCommit(w, r, rp, rest[1])
	case n == 1 && rest[0] == "pulls" && (m == http.MethodGet || m == http.MethodPost):
		if need("pull_requests", access) {
			if m == http.MethodGet {
				s.listPulls(w, r, rp)
			} else {
				s.createPull(w, rp, body)
			}
		}
	case n == 2 && rest[0] == "pulls" && (m == http.MethodGet || m == http.MethodPatch):
		if need("pull_requests", access) {
			num, _ := strconv.Atoi(rest[1])
			if m == http.MethodGet {
				s.getPull(w, rp, num)
			} else {
				s.updatePull(w, rp, num, body)
			}
		}

	// Collaborators.
	case n == 3 && rest[0] == "collaborators" && rest[2] == "permission" && m == http.MethodGet:
		if need("metadata", "read") {
			s.collaboratorPermission(w, rp, rest[1])
		}
	case n == 2 && rest[0] == "collaborators" && m == http.MethodGet:
		if need("metadata", "read") {
			s.mu.Lock()
			perm := s.permissionOf(rp, rest[1])
			s.mu.Unlock()
			if perm == "none" {
				writeJSON(w, http.StatusNotFound, notFoundBody)
			} else {
				w.WriteHeader(http.StatusNoContent)
			}
		}

	// Branches.
	case n >= 2 && rest[0] == "branches" && m == http.MethodGet:
		if need("metadata", "read") {
			if n >= 3 && rest[n-1] == "protection" {
				s.getBranchProtection(w, rp, strings.Join(rest[1:n-1], "/"))
			} else {
				s.getBranch(w, rp, strings.Join(rest[1:], "/"))
			}
		}

	default:
		writeJSON(w, http.StatusNotFound, notFoundBody)
	}
}

func decodeBody(w http.ResponseWriter, body []byte, v any, doc string) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("Problems parsing JSON", doc))
		return false
	}
	return true
}

// --- issue comments ---

const docComments = "https://docs.github.com/rest/issues/comments"

func (s *Server) listComments(w http.ResponseWriter, r *http.Request, rp *repo, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issues[rp.key()][number] == nil {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, validationFailed(docComments+"#list-issue-comments",
				&github.Error{Resource: "IssueComment", Field: "since", Code: "invalid"}))
			return
		}
		since = t
	}
	var list []*github.IssueComment
	for _, c := range s.comments {
		if c.repoKey == rp.key() && c.number == number && !c.updated.Before(since) {
			list = append(list, s.commentJSON(rp, c))
		}
	}
	lo, hi := paginate(w, r, len(list))
	out := list[lo:hi]
	if out == nil {
		out = []*github.IssueComment{}
	}
	writeJSON(w, http.StatusOK, out)
}

// commentBodyError is GitHub's 422 for a missing or too long comment body, or nil.
func commentBodyError(body *string) *errorBody {
	if body == nil || *body == "" {
		e := validationFailed(docComments, &github.Error{Resource: "IssueComment", Code: "missing_field", Field: "body"})
		return &e
	}
	if utf8.RuneCountInString(*body) > maxCommentChars {
		e := validationFailed(docComments, &github.Error{Resource: "IssueComment", Code: "custom", Field: "body",
			Message: fmt.Sprintf("body is too long (maximum is %d characters)", maxCommentChars)})
		return &e
	}
	return nil
}

func (s *Server) createComment(w http.ResponseWriter, rp *repo, number int, body []byte) {
	var req struct {
		Body *string `json:"body"`
	}
	if !decodeBody(w, body, &req, docComments+"#create-an-issue-comment") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issues[rp.key()][number] == nil {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	if e := commentBodyError(req.Body); e != nil {
		writeJSON(w, http.StatusUnprocessableEntity, e)
		return
	}
	t := now()
	c := &comment{id: s.newID(), repoKey: rp.key(), number: number, body: *req.Body, user: BotLogin, created: t, updated: t}
	s.comments = append(s.comments, c)
	writeJSON(w, http.StatusCreated, s.commentJSON(rp, c))
}

func (s *Server) serveComment(w http.ResponseWriter, r *http.Request, rp *repo, id int64, body []byte) {
	var req struct {
		Body *string `json:"body"`
	}
	if r.Method == http.MethodPatch && !decodeBody(w, body, &req, docComments+"#update-an-issue-comment") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := -1
	for i, c := range s.comments {
		if c.id == id && c.repoKey == rp.key() {
			idx = i
		}
	}
	if idx < 0 {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	c := s.comments[idx]
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.commentJSON(rp, c))
	case http.MethodPatch:
		if e := commentBodyError(req.Body); e != nil {
			writeJSON(w, http.StatusUnprocessableEntity, e)
			return
		}
		c.body = *req.Body
		c.updated = now()
		writeJSON(w, http.StatusOK, s.commentJSON(rp, c))
	case http.MethodDelete:
		s.comments = append(s.comments[:idx], s.comments[idx+1:]...)
		w.WriteHeader(http.StatusNoContent)
	}
}

// --- check runs ---

const docCheckRuns = "https://docs.github.com/rest/checks/runs"

var (
	checkStatuses    = map[string]bool{"queued": true, "in_progress": true, "completed": true}
	checkConclusions = map[string]bool{"action_required": true, "cancelled": true, "failure": true, "neutral": true,
		"success": true, "skipped": true, "stale": true, "timed_out": true}
	annotationLevels = map[string]bool{"notice": true, "warning": true, "failure": true}
)

type annotationReq struct {
	Path            *string `json:"path"`
	StartLine       *int    `json:"start_line"`
	EndLine         *int    `json:"end_line"`
	StartColumn     *int    `json:"start_column"`
	EndColumn       *int    `json:"end_column"`
	AnnotationLevel *string `json:"annotation_level"`
	Message         *string `json:"message"`
	Title           *string `json:"title"`
	RawDetails      *string `json:"raw_details"`
}

type checkRunReq struct {
	Name        *string    `json:"name"`
	HeadSHA     *string    `json:"head_sha"`
	DetailsURL  *string    `json:"details_url"`
	ExternalID  *string    `json:"external_id"`
	Status      *string    `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Output      *struct {
		Title       *string          `json:"title"`
		Summary     *string          `json:"summary"`
		Text        *string          `json:"text"`
		Annotations []*annotationReq `json:"annotations"`
		Images      []any            `json:"images"`
	} `json:"output"`
	Actions []*github.CheckRunAction `json:"actions"`
}

func invalidRequest(doc string, reasons ...string) errorBody {
	return errBody("Invalid request.\n\n"+strings.Join(reasons, "\n"), doc)
}

// validate checks a create (create=true) or update request as GitHub does and
// returns the annotations it carries, or writes the 422 and returns false.
func (req *checkRunReq) validate(w http.ResponseWriter, create bool, doc string) ([]*github.CheckRunAnnotation, bool) {
	fail := func(reasons ...string) ([]*github.CheckRunAnnotation, bool) {
		writeJSON(w, http.StatusUnprocessableEntity, invalidRequest(doc, reasons...))
		return nil, false
	}
	if create {
		if req.Name == nil || *req.Name == "" {
			return fail(`"name" wasn't supplied.`)
		}
		if req.HeadSHA == nil || *req.HeadSHA == "" {
			return fail(`"head_sha" wasn't supplied.`)
		}
	} else if req.Name != nil && *req.Name == "" {
		return fail(`"name" can't be blank.`)
	}
	if req.Name != nil && utf8.RuneCountInString(*req.Name) > maxCheckRunNameSize {
		return fail(fmt.Sprintf(`"name" is too long (maximum is %d characters).`, maxCheckRunNameSize))
	}
	if req.Status != nil && !checkStatuses[*req.Status] {
		return fail(fmt.Sprintf(`%q is not a member of ["queued", "in_progress", "completed"].`, *req.Status))
	}
	if req.Conclusion != nil && *req.Conclusion != "" && !checkConclusions[*req.Conclusion] {
		return fail(fmt.Sprintf(`%q is not a member of ["action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"].`, *req.Conclusion))
	}
	var anns []*github.CheckRunAnnotation
	if o := req.Output; o != nil {
		if o.Title == nil || *o.Title == "" {
			return fail(`"title" wasn't supplied.`)
		}
		if o.Summary == nil || *o.Summary == "" {
			return fail(`"summary" wasn't supplied.`)
		}
		if utf8.RuneCountInString(*o.Summary) > maxOutputChars {
			return fail(fmt.Sprintf(`For 'properties/summary', the length is %d; it must be at most %d characters.`, utf8.RuneCountInString(*o.Summary), maxOutputChars))
		}
		if o.Text != nil && utf8.RuneCountInString(*o.Text) > maxOutputChars {
			return fail(fmt.Sprintf(`For 'properties/text', the length is %d; it must be at most %d characters.`, utf8.RuneCountInString(*o.Text), maxOutputChars))
		}
		if len(o.Annotations) > maxAnnotations {
			return fail(fmt.Sprintf(`For 'properties/annotations', %d items is more than the maximum of %d (send more with updates).`, len(o.Annotations), maxAnnotations))
		}
		for i, a := range o.Annotations {
			where := fmt.Sprintf("annotation %d: ", i)
			switch {
			case a == nil:
				return fail(where + "not an object.")
			case a.Path == nil || *a.Path == "":
				return fail(where + `"path" wasn't supplied.`)
			case a.StartLine == nil:
				return fail(where + `"start_line" wasn't supplied.`)
			case a.EndLine == nil:
				return fail(where + `"end_line" wasn't supplied.`)
			case a.AnnotationLevel == nil:
				return fail(where + `"annotation_level" wasn't supplied.`)
			case !annotationLevels[*a.AnnotationLevel]:
				return fail(where + fmt.Sprintf(`%q is not a member of ["notice", "warning", "failure"].`, *a.AnnotationLevel))
			case a.Message == nil || *a.Message == "":
				return fail(where + `"message" wasn't supplied.`)
			case *a.StartLine < 1 || *a.EndLine < *a.StartLine:
				return fail(where + fmt.Sprintf(`lines start at 1 and end_line must not be before start_line (start_line %d, end_line %d).`, *a.StartLine, *a.EndLine))
			case (a.StartColumn != nil || a.EndColumn != nil) && *a.StartLine != *a.EndLine:
				return fail(where + `"start_column" and "end_column" are only allowed when start_line equals end_line.`)
			case a.StartColumn != nil && *a.StartColumn < 1, a.EndColumn != nil && *a.EndColumn < 1:
				return fail(where + `columns start at 1.`)
			case len(*a.Message) > maxAnnotationBytes:
				return fail(where + `"message" is too long (maximum is 64 KB).`)
			case a.RawDetails != nil && len(*a.RawDetails) > maxAnnotationBytes:
				return fail(where + `"raw_details" is too long (maximum is 64 KB).`)
			case a.Title != nil && utf8.RuneCountInString(*a.Title) > maxAnnotationTitle:
				return fail(where + `"title" is too long (maximum is 255 characters).`)
			}
			anns = append(anns, &github.CheckRunAnnotation{
				Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine, StartColumn: a.StartColumn, EndColumn: a.EndColumn,
				AnnotationLevel: a.AnnotationLevel, Message: a.Message, Title: a.Title, RawDetails: a.RawDetails,
			})
		}
	}
	if len(req.Actions) > 3 {
		return fail(`For 'properties/actions', more than 3 items.`)
	}
	return anns, true
}

// apply sets the request's fields on cr (validated already).
func (req *checkRunReq) apply(w http.ResponseWriter, cr *checkRun, anns []*github.CheckRunAnnotation, doc string) bool {
	if req.Name != nil {
		cr.name = *req.Name
	}
	if req.DetailsURL != nil {
		cr.detailsURL = *req.DetailsURL
	}
	if req.ExternalID != nil {
		cr.externalID = *req.ExternalID
	}
	if req.StartedAt != nil {
		t := req.StartedAt.UTC()
		cr.startedAt = &t
	}
	if req.Status != nil {
		cr.status = *req.Status
	}
	if req.Conclusion != nil && *req.Conclusion != "" {
		// "Providing conclusion will automatically set the status parameter to completed."
		cr.conclusion = *req.Conclusion
		cr.status = "completed"
	}
	if req.CompletedAt != nil {
		t := req.CompletedAt.UTC()
		cr.completedAt = &t
	}
	if (cr.status == "completed" || req.CompletedAt != nil) && cr.conclusion == "" {
		writeJSON(w, http.StatusUnprocessableEntity, invalidRequest(doc, `"conclusion" wasn't supplied.`, `"conclusion" is required when status is completed or completed_at is given.`))
		return false
	}
	if cr.status == "completed" && cr.completedAt == nil {
		t := now()
		cr.completedAt = &t
	}
	if cr.status != "completed" {
		cr.conclusion = ""
		cr.completedAt = nil
	}
	if o := req.Output; o != nil {
		cr.hasOutput = true
		cr.title = *o.Title
		cr.summary = *o.Summary
		if o.Text != nil {
			cr.text = *o.Text
		}
		// "Each time you update the check run, annotations are appended."
		cr.annotations = append(cr.annotations, anns...)
	}
	if req.Actions != nil {
		cr.actions = req.Actions
	}
	return true
}

func (s *Server) createCheckRun(w http.ResponseWriter, rp *repo, body []byte) {
	doc := docCheckRuns + "#create-a-check-run"
	var req checkRunReq
	if !decodeBody(w, body, &req, doc) {
		return
	}
	anns, ok := req.validate(w, true, doc)
	if !ok {
		return
	}
	sha := *req.HeadSHA
	if !commitExists(rp.dir, sha) || len(sha) != 40 {
		s.mu.Lock()
		known := false
		for _, p := range s.pulls[rp.key()] {
			if p.headSHA == sha && len(sha) == 40 {
				known = true
			}
		}
		s.mu.Unlock()
		if !known {
			writeJSON(w, http.StatusUnprocessableEntity, validationFailed(doc,
				&github.Error{Resource: "CheckRun", Code: "invalid", Field: "head_sha", Message: "No commit found for SHA: " + sha}))
			return
		}
	}
	t := now()
	cr := &checkRun{repoKey: rp.key(), headSHA: strings.ToLower(sha), status: "queued", created: t}
	if !req.apply(w, cr, anns, doc) {
		return
	}
	if cr.startedAt == nil {
		cr.startedAt = &t
	}
	tips := branchTips(rp.dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshHeads(rp, tips)
	cr.id = s.newID()
	sk := rp.key() + "@" + cr.headSHA
	if s.suites[sk] == 0 {
		s.suites[sk] = s.newID()
	}
	cr.suiteID = s.suites[sk]
	s.checkRuns = append(s.checkRuns, cr)
	writeJSON(w, http.StatusCreated, s.checkRunJSON(rp, cr))
}

func (s *Server) findCheckRun(rp *repo, id int64) *checkRun {
	for _, cr := range s.checkRuns {
		if cr.id == id && cr.repoKey == rp.key() {
			return cr
		}
	}
	return nil
}

func (s *Server) getCheckRun(w http.ResponseWriter, rp *repo, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cr := s.findCheckRun(rp, id)
	if cr == nil {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	writeJSON(w, http.StatusOK, s.checkRunJSON(rp, cr))
}

func (s *Server) updateCheckRun(w http.ResponseWriter, rp *repo, id int64, body []byte) {
	doc := docCheckRuns + "#update-a-check-run"
	var req checkRunReq
	if !decodeBody(w, body, &req, doc) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cr := s.findCheckRun(rp, id)
	if cr == nil {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	anns, ok := req.validate(w, false, doc)
	if !ok {
		return
	}
	next := *cr
	next.annotations = append([]*github.CheckRunAnnotation(nil), cr.annotations...)
	if !req.apply(w, &next, anns, doc) {
		return
	}
	*cr = next
	writeJSON(w, http.StatusOK, s.checkRunJSON(rp, cr))
}

func (s *Server) listAnnotations(w http.ResponseWriter, r *http.Request, rp *repo, id int64) {
	s.mu.Lock()
	cr := s.findCheckRun(rp, id)
	var anns []*github.CheckRunAnnotation
	if cr != nil {
		anns = copyAnnotations(cr.annotations)
	}
	s.mu.Unlock()
	if cr == nil {
		writeJSON(w, http.StatusNotFound, notFoundBody)
		return
	}
	type ann struct {
		*github.CheckRunAnnotation
		BlobHRef string `json:"blob_href"`
	}
	lo, hi := paginate(w, r, len(anns))
	out := []ann{}
	for _, a := range anns[lo:hi] {
		out = append(out, ann{a, s.WebURL() + rp.fullName() + "/blob/" + cr.headSHA + "/" + a.GetPath()})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listCheckRunsForRef(w http.ResponseWriter, r *http.Request, rp *repo, ref string) {
	sha := strings.ToLower(ref)
	if resolved, ok := revParse(rp.dir, ref); ok {
		sha = resolved
	}
	q := r.URL.Query()
	filter := q.Get("filter")
	if filter == "" {
		filter = "latest"
	}
	if filter != "latest" && filter != "all" {
		writeJSON(w, http.StatusUnprocessableEntity, invalidRequest(docCheckRuns, fmt.Sprintf(`%q is not a member of ["latest", "all"].`, filter)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var runs []*checkRun
	for _, cr := range s.checkRuns {
		if cr.repoKey != rp.key() || cr.headSHA != sha {
			continue
		}
		if v := q.Get("check_name"); v != "" && cr.name != v {
			continue
		}
		if v := q.Get("status"); v != "" && cr.status != v {
			continue
		}
		if v := q.Get("app_id"); v != "" && v != strconv.FormatInt(s.appID, 10) {
			continue
		}
		runs = append(runs, cr)
	}
	// Newest first; "latest" keeps the newest run of each name.
	sort.Slice(runs, func(i, j int) bool { return runs[i].id > runs[j].id })
	if filter == "latest" {
		seen := map[string]bool{}
		kept := runs[:0]
		for _, cr := range runs {
			if !seen[cr.name] {
				seen[cr.name] = true
				kept = append(kept, cr)
			}
		}
		runs = kept
	}
	lo, hi := paginate(w, r, len(runs))
	list := []*github.CheckRun{}
	for _, cr := range runs[lo:hi] {
		list = append(list, s.checkRunJSON(rp, cr))
	}
	writeJSON(w, http.StatusOK, &github.ListCheckRunsResults{Total: github.Int(len(runs)), CheckRuns: list})
}

// --- pull requests ---

const docPulls = "https://docs.github.com/rest/pulls/pulls"

func (s *Server) getPull(w http.ResponseWriter, rp *repo, number int) {
	tips := branchTips(rp.dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pulls[rp.key()] {
		if p.number == number {
			writeJSON(w, http.StatusOK, s.pullJSON(rp, p, tips))
			return
		}
	}
	writeJSON(w, http.StatusNotFound, notFoundBody)
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request, rp *repo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		writeJSON(w, http.StatusUnprocessableEntity, validationFailed(docPulls+"#list-pull-requests",
			&github.Error{Resource: "PullRequest", Field: "state", Code: "invalid"}))
		return
	}
	headOwner, headRef := "", ""
	if h := q.Get("head"); h != "" {
		var ok bool
		headOwner, headRef, ok = strings.Cut(h, ":")
		if !ok {
			headOwner, headRef = rp.owner, h
		}
	}
	base := q.Get("base")
	tips := branchTips(rp.dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*github.PullRequest
	for _, p := range s.sortedPulls(rp.key()) {
		if state != "all" && p.state != state {
			continue
		}
		if base != "" && p.baseRef != base {
			continue
		}
		if headRef != "" {
			owner := rp.owner
			if p.headRepo != "" {
				owner, _, _ = strings.Cut(p.headRepo, "/")
			}
			if !strings.EqualFold(owner, headOwner) || p.headRef != headRef {
				continue
			}
		}
		list = append(list, s.pullJSON(rp, p, tips))
	}
	// Default sort: created, newest first.
	desc := q.Get("direction") != "asc"
	sort.SliceStable(list, func(i, j int) bool {
		if desc {
			return list[i].GetNumber() > list[j].GetNumber()
		}
		return list[i].GetNumber() < list[j].GetNumber()
	})
	lo, hi := paginate(w, r, len(list))
	out := list[lo:hi]
	if out == nil {
		out = []*github.PullRequest{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listPullsForCommit(w http.ResponseWriter, r *http.Request, rp *repo, sha string) {
	tips := branchTips(rp.dir)
	s.mu.Lock()
	var list []*github.PullRequest
	s.refreshHeads(rp, tips)
	for _, p := range s.sortedPulls(rp.key()) {
		if strings.EqualFold(p.headSHA, sha) || (p.mergeCommitSHA != "" && strings.EqualFold(p.mergeCommitSHA, sha)) {
			list = append(list, s.pullJSON(rp, p, tips))
		}
	}
	s.mu.Unlock()
	if len(list) == 0 && !commitExists(rp.dir, sha) {
		writeJSON(w, http.StatusUnprocessableEntity, validationFailed(docPulls,
			&github.Error{Resource: "Commit", Code: "invalid", Field: "commit_sha", Message: "No commit found for SHA: " + sha}))
		return
	}
	lo, hi := paginate(w, r, len(list))
	out := list[lo:hi]
	if out == nil {
		out = []*github.PullRequest{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createPull(w http.ResponseWriter, rp *repo, body []byte) {
	doc := docPulls + "#create-a-pull-request"
	var req struct {
		Title               *string `json:"title"`
		Head                *string `json:"head"`
		HeadRepo            *string `json:"head_repo"`
		Base                *string `json:"base"`
		Body                *string `json:"body"`
		Draft               *bool   `json:"draft"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
		Issue               *int    `json:"issue"`
	}
	if !decodeBody(w, body, &req, doc) {
		return
	}
	missing := func(field string) {
		writeJSON(w, http.StatusUnprocessableEntity, validationFailed(doc, &github.Error{Resource: "PullRequest", Code: "missing_field", Field: field}))
	}
	invalid := func(field string) {
		writeJSON(w, http.StatusUnprocessableEntity, validationFailed(doc, &github.Error{Resource: "PullRequest", Code: "invalid", Field: field}))
	}
	custom := func(msg string) {
		writeJSON(w, http.StatusUnprocessableEntity, validationFailed(doc, &github.Error{Resource: "PullRequest", Code: "custom", Message: msg}))
	}
	if req.Head == nil || *req.Head == "" {
		missing("head")
		return
	}
	if req.Base == nil || *req.Base == "" {
		missing("base")
		return
	}
	if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
		missing("title")
		return
	}
	headOwner, headRef, fork := strings.Cut(*req.Head, ":")
	if !fork {
		headOwner, headRef = rp.owner, *req.Head
	}
	headRepo := rp
	if !strings.EqualFold(headOwner, rp.owner) {
		// A fork's branch: the fork must be known to the server.
		s.mu.Lock()
		headRepo = nil
		for _, other := range s.repos {
			if strings.EqualFold(other.owner, headOwner) && strings.EqualFold(other.name, rp.name) {
				headRepo = other
			}
		}
		s.mu.Unlock()
		if headRepo == nil {
			invalid("head")
			return
		}
	}
	headSHA, ok := revParse(headRepo.dir, "refs/heads/"+headRef)
	if !ok {
		invalid("head")
		return
	}
	baseSHA, ok := revParse(rp.dir, "refs/heads/"+*req.Base)
	if !ok {
		invalid("base")
		return
	}
	if headRepo == rp {
		if headSHA == baseSHA {
			custom(fmt.Sprintf("No commits between %s and %s", *req.Base, headRef))
			return
		}
		if _, err := runGit(rp.dir, "merge-base", "--is-ancestor", headSHA, baseSHA); err == nil {
			custom(fmt.Sprintf("No commits between %s and %s", *req.Base, headRef))
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	headRepoName := ""
	if headRepo != rp {
		headRepoName = headRepo.fullName()
	}
	for _, p := range s.pulls[rp.key()] {
		if p.state == "open" && p.headRef == headRef && strings.EqualFold(p.headRepo, headRepoName) && p.baseRef == *req.Base {
			custom(fmt.Sprintf("A pull request already exists for %s:%s.", headRepo.owner, headRef))
			return
		}
	}
	t := now()
	p := &pull{
		id: s.newID(), number: s.nextNumber(rp.key()), title: *req.Title, user: BotLogin, state: "open",
		headRef: headRef, headSHA: headSHA, headRepo: headRepoName, baseRef: *req.Base, baseSHA: baseSHA,
		followHead: headRepo == rp, created: t, updated: t,
	}
	if req.Body != nil {
		p.body = *req.Body
	}
	if req.Draft != nil {
		p.draft = *req.Draft
	}
	s.pulls[rp.key()] = append(s.pulls[rp.key()], p)
	s.addIssueLocked(rp.key(), p.number, p.title, p.user)
	_, _ = runGit(rp.dir, "update-ref", fmt.Sprintf("refs/pull/%d/head", p.number), headSHA)
	writeJSON(w, http.StatusCreated, s.pullJSON(rp, p, map[string]string{headRef: headSHA}))
}

func (s *Server) updatePull(w http.ResponseWriter, rp *repo, number int, body []byte) {
	doc := docPulls + "#update-a-pull-request"
	var req struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !decodeBody(w, body, &req, doc) {
		return
	}
	if req.Base != nil {
		if _, ok := revParse(rp.dir, "refs/heads/"+*req.Base); !ok {
			writeJSON(w, http.StatusUnprocessableEntity, validationFailed(doc, &github.Error{Resource: "PullRequest", Code: "invalid", Field: "base"}))
			return
		}
	}
	tips := branchTips(rp.dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pulls[rp.key()] {
		if p.number != number {
			continue
		}
		if req.State != nil && *req.State != "open" && *req.State != "closed" {
			writeJSON(w, http.StatusUnprocessableEntity, validationFailed(doc, &github.Error{Resource: "PullRequest", Code: "invalid", Field: "state"}))
			return
		}
		if req.Title != nil {
			p.title = *req.Title
		}
		if req.Body != nil {
			p.body = *req.Body
		}
		if req.Base != nil {
			p.baseRef = *req.Base
		}
		if req.State != nil && !p.merged {
			p.state = *req.State
			if p.state == "closed" {
				t := now()
				p.closedAt = &t
			} else {
				p.closedAt = nil
			}
		}
		p.updated = now()
		writeJSON(w, http.StatusOK, s.pullJSON(rp, p, tips))
		return
	}
	writeJSON(w, http.StatusNotFound, notFoundBody)
}

// --- collaborators and branches ---

// permissionOf is the user's role on rp; the caller holds s.mu.
func (s *Server) permissionOf(rp *repo, user string) string {
	if p, ok := rp.perms[strings.ToLower(user)]; ok {
		return p
	}
	if strings.EqualFold(user, rp.owner) {
		return "admin"
	}
	return "none"
}

func (s *Server) collaboratorPermission(w http.ResponseWriter, rp *repo, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	role := s.permissionOf(rp, user)
	// GitHub's "permission" is one of admin, write, read, none; role_name is the finer role.
	perm := map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read", "none": "none"}[role]
	u := s.userJSON(user)
	writeJSON(w, http.StatusOK, struct {
		*github.RepositoryPermissionLevel
		RoleName string `json:"role_name"`
	}{&github.RepositoryPermissionLevel{Permission: github.String(perm), User: u}, role})
}

func (s *Server) getBranch(w http.ResponseWriter, rp *repo, branch string) {
	sha, ok := revParse(rp.dir, "refs/heads/"+branch)
	if !ok {
		writeJSON(w, http.StatusNotFound, errBody("Branch not found", docsREST+"/branches/branches#get-a-branch"))
		return
	}
	s.mu.Lock()
	protected := rp.protected[branch]
	s.mu.Unlock()
	api := s.APIURL() + "repos/" + rp.fullName()
	type branchOut struct {
		*github.Branch
		Protection    map[string]any    `json:"protection"`
		ProtectionURL string            `json:"protection_url"`
		Links         map[string]string `json:"_links"`
	}
	out := branchOut{
		Branch: &github.Branch{
			Name: github.String(branch),
			Commit: &github.RepositoryCommit{
				SHA:     github.String(sha),
				NodeID:  github.String("C_" + sha[:12]),
				URL:     github.String(api + "/commits/" + sha),
				HTMLURL: github.String(s.WebURL() + rp.fullName() + "/commit/" + sha),
			},
			Protected: github.Bool(protected),
		},
		Protection:    map[string]any{"enabled": protected, "required_status_checks": map[string]any{"enforcement_level": "off", "contexts": []string{}, "checks": []string{}}},
		ProtectionURL: api + "/branches/" + url.PathEscape(branch) + "/protection",
		Links:         map[string]string{"self": api + "/branches/" + url.PathEscape(branch), "html": s.WebURL() + rp.fullName() + "/tree/" + branch},
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getBranchProtection(w http.ResponseWriter, rp *repo, branch string) {
	if _, ok := revParse(rp.dir, "refs/heads/"+branch); !ok {
		writeJSON(w, http.StatusNotFound, errBody("Branch not found", docsREST))
		return
	}
	s.mu.Lock()
	protected := rp.protected[branch]
	s.mu.Unlock()
	if !protected {
		writeJSON(w, http.StatusNotFound, errBody("Branch not protected", docsREST+"/branches/branch-protection#get-branch-protection"))
		return
	}
	api := s.APIURL() + "repos/" + rp.fullName() + "/branches/" + url.PathEscape(branch) + "/protection"
	writeJSON(w, http.StatusOK, &github.Protection{
		URL:                  github.String(api),
		AllowForcePushes:     &github.AllowForcePushes{Enabled: false},
		AllowDeletions:       &github.AllowDeletions{Enabled: false},
		RequireLinearHistory: &github.RequireLinearHistory{Enabled: false},
		EnforceAdmins:        &github.AdminEnforcement{URL: github.String(api + "/enforce_admins"), Enabled: true},
		RequiredPullRequestReviews: &github.PullRequestReviewsEnforcement{
			RequiredApprovingReviewCount: 1,
		},
	})
}
