package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
)

// runRowsPerPage is how many Output rows a run page shows.
const runRowsPerPage = 100

// maxPayloadShown bounds the Event Payload a run page shows.
const maxPayloadShown = 256 << 10

// outputRow is one row of a run's Output, with where to see its file.
type outputRow struct {
	pipeline.Row
	Link     string // the file on GitHub
	Resource string // the resource's console page
}

// payloadChange is one resource change of an event payload.
type payloadChange struct {
	Resource, Operation, User string
}

type runPage struct {
	Run        *pipeline.Run
	Project    string
	Pipeline   string
	Duration   string
	Rows       []outputRow
	Total      int
	Page, Last int
	From, To   int
	Live       bool
	// Event Payload: a summary, then the JSON.
	Trigger   string
	User      string
	Changes   []payloadChange
	Payload   string
	Truncated bool
	// Conflicts the run found, with how each was resolved; CanResolve
	// says whether the viewer may end the open ones here.
	Conflicts  []conflictRow
	CanResolve bool
}

// conflictRow is one conflict on the run page.
type conflictRow struct {
	pipeline.Conflict
	Action string // where its resolve form posts
}

func (p runPage) title() string { return fmt.Sprintf("Run %d", p.Run.ID) }
func (runPage) nav() string     { return "pipelines" }

// PageURL is the run's page n of Output rows.
func (p runPage) PageURL(n int) string {
	if n <= 1 {
		return fmt.Sprintf("/runs/%d", p.Run.ID)
	}
	return fmt.Sprintf("/runs/%d?page=%d", p.Run.ID, n)
}

func runID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("run id must be a number")
	}
	return id, nil
}

// runPage is GET /runs/{id}: status (live while In Progress), trigger,
// start, duration, commit; Output, 100 rows a page; Event Payload.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, err := runID(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	n := 1
	if s := r.URL.Query().Get("page"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 1<<20 {
			c.fail(w, r, v, badRequest("page must be a whole number from 1"))
			return
		}
	}
	run, total, err := c.opt.Runs.Page(r.Context(), id, (n-1)*runRowsPerPage, runRowsPerPage)
	if errors.Is(err, pipeline.ErrRunNotFound) {
		c.fail(w, r, v, notFound("run %d not found", id))
		return
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page := runPage{Run: run, Total: total, Page: n, Last: max(1, (total+runRowsPerPage-1)/runRowsPerPage),
		Live: run.Status == pipeline.StatusInProgress, Trigger: run.Trigger}
	page.Project, page.Pipeline, _ = strings.Cut(run.Pipeline, "/")
	end := time.Now()
	if run.EndedAt != nil {
		end = *run.EndedAt
	}
	page.Duration = end.Sub(run.StartedAt).Round(time.Millisecond).String()
	repo, rev := c.repoOfRun(r, run)
	for _, row := range run.Rows {
		o := outputRow{Row: row}
		if row.Path != "" && repo != "" {
			o.Link = c.fileLink(repo, rev, row.Path)
		}
		if k, ok := spec.LookupKind(row.Kind); ok && k.ProjectScoped && row.Project != "" {
			o.Resource = "/projects/" + url.PathEscape(row.Project) + "/" + k.Plural + "/" + url.PathEscape(row.Name)
		}
		page.Rows = append(page.Rows, o)
	}
	if len(run.Rows) > 0 {
		page.From, page.To = (n-1)*runRowsPerPage+1, (n-1)*runRowsPerPage+len(run.Rows)
	}
	page.readPayload(run)
	conflicts, err := c.opt.Runs.Conflicts(r.Context(), id)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	for _, cf := range conflicts {
		project := cf.Project
		if cf.Kind == "Project" {
			project = cf.Name
		}
		page.Conflicts = append(page.Conflicts, conflictRow{Conflict: cf,
			Action: fmt.Sprintf("/runs/%d/conflicts/%s/%s/%s", id, url.PathEscape(cf.Kind), url.PathEscape(project), url.PathEscape(cf.Name))})
	}
	page.CanResolve = c.opt.Resolve != nil && access.Check(v.Principal, access.WriteResources) == nil
	c.render(w, r, http.StatusOK, "run", v, page)
}

// resolveConflict is POST /runs/{id}/conflicts/{kind}/{project}/{name}
// (form field keep: git or system): the API's resolve, as the signed-in
// person, then back to the run page, which says how it was resolved.
func (c *Console) resolveConflict(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, err := runID(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	if _, err := ResolveConflict(r.Context(), c.opt.Resolve, v.Principal, id, r.PathValue("kind"), r.PathValue("project"),
		r.PathValue("name"), r.PostFormValue("keep"), "console"); err != nil {
		c.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/runs/%d#conflicts", id), http.StatusSeeOther)
}

// repoOfRun is the repository (URL) and revision a run's files are in:
// its pipeline's first SystemSync stage's source, at the run's commit.
func (c *Console) repoOfRun(r *http.Request, run *pipeline.Run) (string, string) {
	if c.opt.Stages == nil || c.opt.LocalMode { // no GitHub: no file pages to link
		return "", ""
	}
	stages, err := c.opt.Stages(r.Context())
	if err != nil {
		return "", ""
	}
	for _, st := range stages {
		if st.PipelineName() == run.Pipeline {
			rev := run.Commit
			if rev == "" {
				rev = st.Source.Revision
			}
			return st.Source.URL, rev
		}
	}
	return "", ""
}

// readPayload fills the Event Payload: the JSON indented, and what it
// tells of who did what.
func (p *runPage) readPayload(run *pipeline.Run) {
	raw := []byte(run.Payload)
	if len(raw) > maxPayloadShown {
		p.Payload, p.Truncated = string(raw[:maxPayloadShown]), true
	} else {
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") == nil {
			p.Payload = buf.String()
		} else {
			p.Payload = string(raw)
		}
	}
	p.User = whoStarted(run)
	var payload struct {
		Changes []map[string]any `json:"changes"`
	}
	if json.Unmarshal(raw, &payload) != nil {
		return
	}
	for _, ch := range payload.Changes {
		get := func(keys ...string) string {
			for _, k := range keys {
				if s, ok := ch[k].(string); ok {
					return s
				}
			}
			return ""
		}
		res := ""
		if k, ok := ch["Key"].(map[string]any); ok {
			res = spec.Key{Kind: fmt.Sprint(k["Kind"]), Project: fmt.Sprint(k["Project"]), Name: fmt.Sprint(k["Name"])}.String()
		} else if get("kind") != "" {
			res = spec.Key{Kind: get("kind"), Project: get("project"), Name: get("name")}.String()
		}
		p.Changes = append(p.Changes, payloadChange{Resource: res, Operation: get("Type", "type"), User: get("User", "user")})
	}
}

// runStatus is what the live updates of a run page send.
type runStatus struct {
	Status   string `json:"status"`
	Duration string `json:"duration"`
	Rows     int    `json:"rows"`
	Done     bool   `json:"done"`
}

// runEvents is GET /runs/{id}/events: server-sent events "status" with
// the run's status, each time it changes, until it is no longer In
// Progress (then the page reloads to show its Output).
func (c *Console) runEvents(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, err := runID(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	ctx := r.Context()
	var last runStatus
	first := true
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	poll := time.NewTicker(time.Second) // runs of other processes are not told
	defer poll.Stop()
	for {
		changed := c.opt.Runs.Changed()
		run, total, err := c.opt.Runs.Page(ctx, id, 0, 0)
		if err != nil {
			if first {
				c.fail(w, r, v, notFound("run %d: %v", id, err))
			}
			return
		}
		end := time.Now()
		if run.EndedAt != nil {
			end = *run.EndedAt
		}
		st := runStatus{Status: run.Status, Duration: end.Sub(run.StartedAt).Round(time.Second).String(), Rows: total,
			Done: run.Status != pipeline.StatusInProgress}
		if first || st.Status != last.Status || st.Rows != last.Rows {
			b, _ := json.Marshal(st)
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			last, first = st, false
		}
		if st.Done {
			return
		}
		select {
		case <-changed:
		case <-poll.C:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
		case <-ctx.Done():
			return
		case <-c.draining.Done():
			return
		}
	}
}
