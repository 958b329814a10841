package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
)

type pipelinesPage struct {
	Pipelines []pipelineRow
	CanManage bool
}

type pipelineRow struct {
	Project, Name string
	Active        bool
	LastRun       *pipeline.Run
}

func (pipelinesPage) title() string { return "Pipelines" }
func (pipelinesPage) nav() string   { return "pipelines" }

// projectNames lists the projects, by name.
func (c *Console) projectNames(ctx context.Context) ([]string, error) {
	list, _, err := c.opt.Store.List(ctx, "Project", "", controller.MaxLimit, 0)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range list {
		out = append(out, p.Key.Name)
	}
	return out, nil
}

// pipelines is GET /pipelines: every pipeline with its last run.
func (c *Console) pipelines(w http.ResponseWriter, r *http.Request, v *viewer) {
	projects, err := c.projectNames(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page := pipelinesPage{CanManage: v.Role.Can(access.ManagePipelines)}
	for _, project := range projects {
		list, _, err := c.opt.Store.List(r.Context(), "Pipeline", project, controller.MaxLimit, 0)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		for _, p := range list {
			row := pipelineRow{Project: project, Name: p.Key.Name, Active: isActive(p.Object)}
			runs, err := c.opt.Runs.List(r.Context(), project+"/"+p.Key.Name, 1)
			if err != nil {
				c.fail(w, r, v, err)
				return
			}
			if len(runs) > 0 {
				row.LastRun = runs[0]
			}
			page.Pipelines = append(page.Pipelines, row)
		}
	}
	c.render(w, r, http.StatusOK, "pipelines", v, page)
}

func specOf(obj map[string]any) map[string]any {
	s, _ := obj["spec"].(map[string]any)
	return s
}

func isActive(obj map[string]any) bool {
	a, ok := specOf(obj)["active"].(bool)
	return !ok || a
}

// stageView is one stage as the pipeline page shows it.
type stageView struct {
	Name, Type               string
	GitToSystem, SystemToGit bool
	Source, Dest             string
	SourceAsDest             bool
	Included, Excluded       []string
	PreConditions            []string
	Next                     []string // the stages that run after it
}

// triggerView is one of spec.triggers.
type triggerView struct {
	Name, Type, Repository, Revision, Cron string
	Paths                                  []string
}

type pipelineDetail struct {
	Project, Name string
	Active        bool
	Description   string
	Stages        []stageView
	Problems      []string
	Triggers      []triggerView
	Sharing       string
	Runs          []*pipeline.Run
	CanRun        bool
	CanManage     bool
}

func (p pipelineDetail) title() string { return "Pipeline " + p.Project + "/" + p.Name }
func (pipelineDetail) nav() string     { return "pipelines" }

func names(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, it := range l {
		if n, _ := it.(map[string]any)["name"].(string); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func repoText(v any) string {
	m, _ := v.(map[string]any)
	repo, _ := m["repository"].(string)
	if repo == "" {
		return ""
	}
	rev, _ := m["revision"].(string)
	p, _ := m["path"].(map[string]any)
	folder, _ := p["name"].(string)
	s := repo
	if rev != "" {
		s += " @ " + rev
	}
	if folder != "" {
		s += " : " + folder
	}
	return s
}

func sharingText(obj map[string]any) string {
	sh, _ := specOf(obj)["sharing"].(map[string]any)
	if sh == nil || sh["enabled"] != true {
		return "None"
	}
	ps := names(sh["projects"])
	if slices.Contains(ps, "*") {
		return "All projects"
	}
	if len(ps) == 0 {
		return "None"
	}
	return "Projects " + strings.Join(ps, ", ")
}

func (c *Console) loadPipeline(r *http.Request) (controller.Stored, error) {
	return c.opt.Store.Get(r.Context(), spec.Key{Kind: "Pipeline", Project: r.PathValue("project"), Name: r.PathValue("name")})
}

// repositories returns the Repository resources of project: name → endpoint.
func (c *Console) repositories(ctx context.Context, project string) (map[string]string, error) {
	list, _, err := c.opt.Store.List(ctx, "Repository", project, controller.MaxLimit, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, rp := range list {
		ep, _ := specOf(rp.Object)["endpoint"].(string)
		out[rp.Key.Name] = ep
	}
	return out, nil
}

// pipelinePage is GET /pipelines/{project}/{name}: stages, triggers,
// sharing, runs, and the Run button.
func (c *Console) pipelinePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	st, err := c.loadPipeline(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	obj := st.Object
	page := pipelineDetail{Project: st.Key.Project, Name: st.Key.Name, Active: isActive(obj), Sharing: sharingText(obj),
		CanRun: v.Role.Can(access.RunPipelines), CanManage: v.Role.Can(access.ManagePipelines)}
	page.Description, _ = obj["metadata"].(map[string]any)["description"].(string)
	spc := specOf(obj)
	stages, _ := spc["stages"].([]any)
	for _, s := range stages {
		sm, _ := s.(map[string]any)
		cfg, _ := sm["config"].(map[string]any)
		sv := stageView{Type: fmt.Sprint(sm["type"]), Next: names(sm["next"])}
		sv.Name, _ = sm["name"].(string)
		if sv.Type == "SystemSync" {
			sv.GitToSystem, sv.SystemToGit = cfg["gitToSystemSync"] == true, cfg["systemToGitSync"] == true
			sv.SourceAsDest = cfg["sourceAsDestination"] == true
			sv.Source, sv.Dest = repoText(cfg["sourceRepo"]), repoText(cfg["destinationRepo"])
			sv.Included, sv.Excluded = names(cfg["includedResources"]), names(cfg["excludedResources"])
		}
		if pcs, ok := sm["preConditions"].([]any); ok {
			for _, pc := range pcs {
				pcm, _ := pc.(map[string]any)
				pcc, _ := pcm["config"].(map[string]any)
				if e, ok := pcc["expression"].(string); ok {
					sv.PreConditions = append(sv.PreConditions, e)
				}
			}
		}
		page.Stages = append(page.Stages, sv)
	}
	page.Triggers = triggersOf(obj)
	repos, err := c.repositories(r.Context(), st.Key.Project)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	if _, errs := pipeline.Stages(obj, repos); len(errs) > 0 {
		for _, e := range errs {
			page.Problems = append(page.Problems, e.Error())
		}
	}
	if page.Runs, err = c.opt.Runs.List(r.Context(), st.Key.Project+"/"+st.Key.Name, 20); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "pipeline", v, page)
}

func triggersOf(obj map[string]any) []triggerView {
	var out []triggerView
	for _, t := range pipeline.TriggersOf(obj) {
		out = append(out, triggerView{Name: t.Name, Type: t.Type, Repository: t.Repo.Repository, Revision: t.Repo.Revision,
			Cron: t.Schedule, Paths: t.Repo.Paths})
	}
	return out
}

// triggerRow is one recent trigger of a pipeline: a run and what started it.
type triggerRow struct {
	Run *pipeline.Run
	Who string
}

type triggersPage struct {
	Project, Name string
	Configured    []triggerView
	Recent        []triggerRow
	WebhookURL    string
	GitHub        bool
	PollInterval  string
	CanManage     bool
}

func (p triggersPage) title() string { return "Triggers of " + p.Project + "/" + p.Name }
func (triggersPage) nav() string     { return "pipelines" }

// triggers is GET /pipelines/{project}/{name}/triggers: the recent
// triggers, newest first, and the webhook URL to give GitHub.
func (c *Console) triggers(w http.ResponseWriter, r *http.Request, v *viewer) {
	st, err := c.loadPipeline(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	runs, err := c.opt.Runs.Triggers(r.Context(), st.Key.Project+"/"+st.Key.Name, 50)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page := triggersPage{Project: st.Key.Project, Name: st.Key.Name, Configured: triggersOf(st.Object),
		WebhookURL: c.base + "/api/github/hook", GitHub: !c.opt.LocalMode, PollInterval: c.opt.PollInterval.String(),
		CanManage: v.Role.Can(access.ManagePipelines)}
	for _, run := range runs {
		page.Recent = append(page.Recent, triggerRow{Run: run, Who: whoStarted(run)})
	}
	c.render(w, r, http.StatusOK, "triggers", v, page)
}

// whoStarted reads from a run's payload who or what started it: a person
// (manual runs, system changes), a GitHub pusher or sender, a poll, or a
// Cron trigger's tick.
func whoStarted(run *pipeline.Run) string {
	var p map[string]any
	if json.Unmarshal(run.Payload, &p) != nil || p == nil {
		return ""
	}
	str := func(m any, keys ...string) string {
		for _, k := range keys {
			mm, _ := m.(map[string]any)
			m = mm[k]
		}
		s, _ := m.(string)
		return s
	}
	if u := str(p, "user"); u != "" {
		return u
	}
	if u := str(p, "pusher", "name"); u != "" {
		return u + " (push)"
	}
	if u := str(p, "sender", "login"); u != "" {
		return u
	}
	if poll, ok := p["poll"].(map[string]any); ok {
		return "poll of " + str(poll, "repository") + " " + strings.TrimPrefix(str(poll, "ref"), "refs/heads/")
	}
	if cron, ok := p["cron"].(map[string]any); ok {
		return "Cron " + str(cron, "schedule") + " at " + str(cron, "tick")
	}
	if changes, ok := p["changes"].([]any); ok {
		var users []string
		for _, ch := range changes {
			u := str(ch, "user")
			if u == "" {
				u = str(ch, "User")
			}
			if u != "" && !slices.Contains(users, u) {
				users = append(users, u)
			}
		}
		if len(users) > 0 {
			return strings.Join(users, ", ")
		}
	}
	if p["manual"] == true {
		return "manual run"
	}
	return ""
}

// runPipeline is the Run button, POST /pipelines/{project}/{name}/run: a
// Manually Triggered run of the pipeline (the same sync as POST
// /api/pipelines/{project}/{name}/run), whose page opens as soon as it is
// recorded while it goes on.
func (c *Console) runPipeline(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.RunPipelines); err != nil {
		c.fail(w, r, v, err)
		return
	}
	project, name := r.PathValue("project"), r.PathValue("name")
	started := make(chan int64, 1)
	done := make(chan error, 1)
	// The run outlives the request: it carries the viewer but not the
	// request's end; Wait waits for it at shutdown.
	ctx := pipeline.WithRunStarted(context.WithoutCancel(r.Context()), func(id int64) {
		select {
		case started <- id:
		default:
		}
	})
	c.runs.Add(1)
	go func() {
		defer c.runs.Done()
		ids, err := c.opt.Sync(ctx, project, name)
		if err != nil && !errors.Is(err, pipeline.ErrPipelineNotFound) {
			c.opt.Log.ErrorContext(ctx, "manual run from the console", "project", project, "pipeline", name, "runs", ids, "err", err)
		}
		done <- err
	}()
	c.opt.Log.InfoContext(r.Context(), "console run", "project", project, "pipeline", name, "user", v.Email)
	select {
	case id := <-started:
		http.Redirect(w, r, "/runs/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	case err := <-done:
		select {
		case id := <-started:
			http.Redirect(w, r, "/runs/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
			return
		default:
		}
		switch {
		case errors.Is(err, pipeline.ErrPipelineNotFound):
			c.fail(w, r, v, notFound("%v", err))
		case err != nil:
			c.fail(w, r, v, fmt.Errorf("manual run of %s/%s: %w", project, name, err))
		default:
			c.flash(r, "The run recorded nothing.")
			http.Redirect(w, r, "/pipelines/"+url.PathEscape(project)+"/"+url.PathEscape(name), http.StatusSeeOther)
		}
	case <-r.Context().Done():
	}
}
