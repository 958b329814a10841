package web

import (
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
	"github.com/systemsync/systemsync/internal/spec"
)

// variableTypes are the types a stage variable may have.
var variableTypes = []string{"String", "Number", "Boolean", "Map", "List", "Time", "Duration"}

// variable is one stage variable.
type variable struct {
	Name, Type, Value string
}

// stageForm is the System Sync stage form: every field of Rafay's, over
// the pipeline's first SystemSync stage. What it saves is the Pipeline
// resource, with the rest of it (other stages, triggers) kept.
type stageForm struct {
	New             bool
	Project, Name   string
	Description     string
	Active          bool
	ResourceVersion string

	StageName      string
	GitToSystem    bool
	SourceRepo     string
	SourceRevision string
	SourcePath     string
	SystemToGit    bool
	DestRepo       string
	DestRevision   string
	DestPath       string
	SourceAsDest   bool
	IncludeAll     bool
	Include        map[string]bool
	Exclude        map[string]bool
	PreConditions  []string
	Variables      []variable
	Sharing        string // all, specific or none
	ShareWith      map[string]bool

	// Choices and what the last save found wrong.
	Repositories []string
	Projects     []string
	Kinds        []string
	VarTypes     []string
	Problems     []spec.Problem
	OtherStages  int
}

func (f stageForm) title() string {
	if f.New {
		return "New pipeline"
	}
	return "Edit pipeline " + f.Project + "/" + f.Name
}
func (stageForm) nav() string { return "pipelines" }

// Action is where the form posts.
func (f stageForm) Action() string {
	if f.New {
		return "/pipelines/new?project=" + url.QueryEscape(f.Project)
	}
	return "/pipelines/" + url.PathEscape(f.Project) + "/" + url.PathEscape(f.Name) + "/edit"
}

// CancelURL is where Cancel goes.
func (f stageForm) CancelURL() string {
	if f.New {
		return "/pipelines"
	}
	return "/pipelines/" + url.PathEscape(f.Project) + "/" + url.PathEscape(f.Name)
}

// firstSystemSync returns the index of the first SystemSync stage, or -1.
func firstSystemSync(stages []any) int {
	for i, s := range stages {
		if sm, _ := s.(map[string]any); sm["type"] == "SystemSync" {
			return i
		}
	}
	return -1
}

// formOf reads a Pipeline object into the form.
func formOf(obj map[string]any) stageForm {
	f := stageForm{Active: isActive(obj), IncludeAll: true, Include: map[string]bool{}, Exclude: map[string]bool{},
		ShareWith: map[string]bool{}, Sharing: "none"}
	meta, _ := obj["metadata"].(map[string]any)
	f.Name, _ = meta["name"].(string)
	f.Project, _ = meta["project"].(string)
	f.Description, _ = meta["description"].(string)
	spc := specOf(obj)
	stages, _ := spc["stages"].([]any)
	if i := firstSystemSync(stages); i >= 0 {
		f.OtherStages = len(stages) - 1
		sm := stages[i].(map[string]any)
		f.StageName, _ = sm["name"].(string)
		cfg, _ := sm["config"].(map[string]any)
		f.GitToSystem, f.SystemToGit = cfg["gitToSystemSync"] == true, cfg["systemToGitSync"] == true
		f.SourceAsDest = cfg["sourceAsDestination"] == true
		f.SourceRepo, f.SourceRevision, f.SourcePath = repoFields(cfg["sourceRepo"])
		f.DestRepo, f.DestRevision, f.DestPath = repoFields(cfg["destinationRepo"])
		if inc := names(cfg["includedResources"]); len(inc) > 0 && !slices.Contains(inc, "*") {
			f.IncludeAll = false
			for _, k := range inc {
				f.Include[k] = true
			}
		}
		for _, k := range names(cfg["excludedResources"]) {
			f.Exclude[k] = true
		}
		pcs, _ := sm["preConditions"].([]any)
		for _, pc := range pcs {
			pcm, _ := pc.(map[string]any)
			pcc, _ := pcm["config"].(map[string]any)
			if e, ok := pcc["expression"].(string); ok {
				f.PreConditions = append(f.PreConditions, e)
			}
		}
		vars, _ := sm["variables"].([]any)
		for _, vv := range vars {
			vm, _ := vv.(map[string]any)
			var x variable
			x.Name, _ = vm["name"].(string)
			x.Type, _ = vm["type"].(string)
			x.Value = fmt.Sprint(vm["value"])
			if vm["value"] == nil {
				x.Value = ""
			}
			f.Variables = append(f.Variables, x)
		}
	} else {
		f.OtherStages = len(stages)
	}
	if sh, _ := spc["sharing"].(map[string]any); sh != nil && sh["enabled"] == true {
		ps := names(sh["projects"])
		switch {
		case slices.Contains(ps, "*"):
			f.Sharing = "all"
		case len(ps) > 0:
			f.Sharing = "specific"
			for _, p := range ps {
				f.ShareWith[p] = true
			}
		}
	}
	return f
}

func repoFields(v any) (repo, rev, folder string) {
	m, _ := v.(map[string]any)
	repo, _ = m["repository"].(string)
	rev, _ = m["revision"].(string)
	p, _ := m["path"].(map[string]any)
	folder, _ = p["name"].(string)
	return repo, rev, folder
}

// readForm reads the posted fields into f (Project and Name as the URL
// or, for a new pipeline, the form says).
func readForm(r *http.Request, f *stageForm) {
	pf := r.PostForm
	get := func(k string) string { return strings.TrimSpace(pf.Get(k)) }
	if f.New {
		f.Name = get("name")
	}
	f.Description = get("description")
	f.Active = pf.Get("active") != ""
	f.ResourceVersion = get("resourceVersion")
	f.StageName = get("stage_name")
	f.GitToSystem = pf.Get("git_to_system") != ""
	f.SourceRepo, f.SourceRevision, f.SourcePath = get("source_repository"), get("source_revision"), get("source_path")
	f.SystemToGit = pf.Get("system_to_git") != ""
	f.DestRepo, f.DestRevision, f.DestPath = get("dest_repository"), get("dest_revision"), get("dest_path")
	f.SourceAsDest = pf.Get("source_as_destination") != ""
	f.IncludeAll = pf.Get("include_mode") != "chosen"
	f.Include, f.Exclude, f.ShareWith = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, k := range pf["include"] {
		f.Include[k] = true
	}
	for _, k := range pf["exclude"] {
		f.Exclude[k] = true
	}
	f.PreConditions = nil
	for _, e := range pf["precondition"] {
		if e = strings.TrimSpace(e); e != "" {
			f.PreConditions = append(f.PreConditions, e)
		}
	}
	f.Variables = nil
	vn, vt, vv := pf["var_name"], pf["var_type"], pf["var_value"]
	for i := range vn {
		x := variable{Name: strings.TrimSpace(vn[i])}
		if i < len(vt) {
			x.Type = vt[i]
		}
		if i < len(vv) {
			x.Value = vv[i]
		}
		if x.Name != "" || x.Value != "" {
			f.Variables = append(f.Variables, x)
		}
	}
	f.Sharing = pf.Get("sharing")
	for _, p := range pf["share_project"] {
		f.ShareWith[p] = true
	}
}

// apply writes the form into obj, a Pipeline object (a copy is changed).
func (f stageForm) apply(obj map[string]any) map[string]any {
	out := spec.Canonical(obj) // a deep copy
	meta, _ := out["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		out["metadata"] = meta
	}
	meta["name"], meta["project"] = f.Name, f.Project
	if f.Description != "" {
		meta["description"] = f.Description
	} else {
		delete(meta, "description")
	}
	spc, _ := out["spec"].(map[string]any)
	if spc == nil {
		spc = map[string]any{}
		out["spec"] = spc
	}
	spc["active"] = f.Active
	stages, _ := spc["stages"].([]any)
	i := firstSystemSync(stages)
	var stage map[string]any
	if i < 0 {
		stage = map[string]any{"type": "SystemSync"}
		stages = append(stages, stage)
	} else {
		stage = stages[i].(map[string]any)
	}
	spc["stages"] = stages
	stage["name"] = f.StageName
	cfg, _ := stage["config"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
		stage["config"] = cfg
	}
	cfg["gitToSystemSync"], cfg["systemToGitSync"] = f.GitToSystem, f.SystemToGit
	cfg["sourceAsDestination"] = f.SourceAsDest
	cfg["sourceRepo"] = repoObject(f.SourceRepo, f.SourceRevision, f.SourcePath)
	if f.SourceAsDest {
		cfg["destinationRepo"] = map[string]any{}
	} else {
		cfg["destinationRepo"] = repoObject(f.DestRepo, f.DestRevision, f.DestPath)
	}
	kinds := func(set map[string]bool) []any {
		var l []any
		for _, k := range spec.Kinds() {
			if set[k.Name] {
				l = append(l, map[string]any{"name": k.Name})
			}
		}
		return l
	}
	if f.IncludeAll || len(f.Include) == 0 {
		delete(cfg, "includedResources")
	} else {
		cfg["includedResources"] = kinds(f.Include)
	}
	if len(f.Exclude) == 0 {
		delete(cfg, "excludedResources")
	} else {
		cfg["excludedResources"] = kinds(f.Exclude)
	}
	if len(f.PreConditions) == 0 {
		delete(stage, "preConditions")
	} else {
		var pcs []any
		for _, e := range f.PreConditions {
			pcs = append(pcs, map[string]any{"type": "Expression", "config": map[string]any{"expression": e}})
		}
		stage["preConditions"] = pcs
	}
	if len(f.Variables) == 0 {
		delete(stage, "variables")
	} else {
		var vars []any
		for _, x := range f.Variables {
			vars = append(vars, map[string]any{"name": x.Name, "type": x.Type, "value": x.Value})
		}
		stage["variables"] = vars
	}
	switch f.Sharing {
	case "all":
		spc["sharing"] = map[string]any{"enabled": true, "projects": []any{map[string]any{"name": "*"}}}
	case "specific":
		var ps []any
		for _, p := range f.Projects {
			if f.ShareWith[p] {
				ps = append(ps, map[string]any{"name": p})
			}
		}
		spc["sharing"] = map[string]any{"enabled": true, "projects": ps}
	default:
		delete(spc, "sharing")
	}
	return out
}

func repoObject(repo, rev, folder string) map[string]any {
	m := map[string]any{"repository": repo}
	if rev != "" {
		m["revision"] = rev
	}
	if folder != "" {
		m["path"] = map[string]any{"name": folder}
	}
	return m
}

// choices fills in the form's lists: the project's Repositories, the
// projects, the kinds, the variable types.
func (c *Console) choices(r *http.Request, f *stageForm) error {
	repos, err := c.repositories(r.Context(), f.Project)
	if err != nil {
		return err
	}
	f.Repositories = f.Repositories[:0]
	for name := range repos {
		f.Repositories = append(f.Repositories, name)
	}
	slices.Sort(f.Repositories)
	if f.Projects, err = c.projectNames(r.Context()); err != nil {
		return err
	}
	f.Kinds = nil
	for _, k := range spec.Kinds() {
		f.Kinds = append(f.Kinds, k.Name)
	}
	f.VarTypes = variableTypes
	return nil
}

// newPipeline is GET /pipelines/new[?project=]: the stage form for a new
// pipeline in project (default, when there is one).
func (c *Console) newPipeline(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManagePipelines); err != nil {
		c.fail(w, r, v, err)
		return
	}
	project := r.URL.Query().Get("project")
	if project == "" {
		project = "default"
	}
	if _, err := c.opt.Store.Get(r.Context(), spec.Key{Kind: "Project", Name: project}); err != nil {
		c.fail(w, r, v, err)
		return
	}
	f := stageForm{New: true, Project: project, Active: true, GitToSystem: true, SystemToGit: true, SourceAsDest: true,
		IncludeAll: true, Include: map[string]bool{}, Exclude: map[string]bool{}, ShareWith: map[string]bool{},
		Sharing: "none", StageName: "system-sync", SourceRevision: "main"}
	if err := c.choices(r, &f); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "pipelineform", v, f)
}

func (c *Console) editPipeline(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManagePipelines); err != nil {
		c.fail(w, r, v, err)
		return
	}
	st, err := c.loadPipeline(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	f := formOf(st.Object)
	f.ResourceVersion = strconv.FormatInt(st.ResourceVersion, 10)
	if err := c.choices(r, &f); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "pipelineform", v, f)
}

// savePipeline is the stage form's POST (new, or edit): the Pipeline
// resource it makes is applied through the controller as the viewer, so
// it goes to Git like any other; Save opens the pipeline, Save and Go To
// Triggers its triggers.
func (c *Console) savePipeline(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := access.Check(v.Principal, access.ManagePipelines); err != nil {
		c.fail(w, r, v, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, v, badRequest("read the form: %v", err))
		return
	}
	var f stageForm
	base := map[string]any{"apiVersion": "gitops.k8smgmt.io/v3", "kind": "Pipeline"}
	if r.PathValue("name") == "" {
		f = stageForm{New: true, Project: r.URL.Query().Get("project")}
		if f.Project == "" {
			f.Project = "default"
		}
	} else {
		st, err := c.loadPipeline(r)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		f = formOf(st.Object)
		base = st.Object
	}
	readForm(r, &f)
	if err := c.choices(r, &f); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if f.New && f.Name != "" {
		if _, err := c.opt.Store.Get(r.Context(), spec.Key{Kind: "Pipeline", Project: f.Project, Name: f.Name}); err == nil {
			f.Problems = []spec.Problem{{Field: "metadata.name", Message: fmt.Sprintf("pipeline %q exists already in project %q: edit it instead", f.Name, f.Project)}}
			c.render(w, r, http.StatusConflict, "pipelineform", v, f)
			return
		}
	}
	if f.StageName == "" {
		f.Problems = append(f.Problems, spec.Problem{Field: "Friendly name", Message: "required: the stage's name"})
	}
	if f.SourceRepo == "" {
		f.Problems = append(f.Problems, spec.Problem{Field: "Git To System Sync: Repository", Message: "required: choose one of the project's repositories (the source of both directions)"})
	}
	if !f.SourceAsDest && f.SystemToGit && f.DestRepo == "" {
		f.Problems = append(f.Problems, spec.Problem{Field: "System To Git Sync: Repository", Message: "required unless Use Source As Destination is checked"})
	}
	if len(f.Problems) > 0 {
		c.render(w, r, http.StatusBadRequest, "pipelineform", v, f)
		return
	}
	obj := f.apply(base)
	body, err := json.Marshal(obj)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	at := spec.Context{Kind: "Pipeline", Project: f.Project, Name: f.Name}
	st, outcome, _, err := c.opt.Store.ApplyBody(r.Context(), at, "application/json", body, v.Email, f.ResourceVersion)
	var apiErr *controller.Error
	if errors.As(err, &apiErr) && (apiErr.Code == http.StatusBadRequest || apiErr.Code == http.StatusConflict || apiErr.Code == http.StatusNotFound) {
		f.Problems = apiErr.Problems
		if len(f.Problems) == 0 {
			f.Problems = []spec.Problem{{Message: apiErr.Message}}
		}
		if apiErr.Code == http.StatusConflict {
			f.Problems[0].Message += " (someone changed the pipeline since you opened the form: open it again)"
		}
		c.render(w, r, apiErr.Code, "pipelineform", v, f)
		return
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.opt.Log.InfoContext(r.Context(), "console pipeline saved", "pipeline", f.Project+"/"+f.Name, "outcome", outcome, "user", v.Email)
	c.flash(r, "Pipeline %s/%s %s (resourceVersion %d).", f.Project, f.Name, outcome, st.ResourceVersion)
	next := "/pipelines/" + url.PathEscape(f.Project) + "/" + url.PathEscape(f.Name)
	if r.PostForm.Get("action") == "save_triggers" {
		next += "/triggers"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}
