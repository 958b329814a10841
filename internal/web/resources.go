package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
)

// pageSize is how many resources a list page shows.
const pageSize = 50

// maxYAML bounds the yaml field of an edit form (the API's body limit).
const maxYAML = controller.MaxBodyBytes

type projectsPage struct {
	Projects []projectRow
}

type projectRow struct {
	Name, Description string
	Resources         int
}

func (projectsPage) title() string { return "Projects" }
func (projectsPage) nav() string   { return "projects" }

func (c *Console) projects(w http.ResponseWriter, r *http.Request, v *viewer) {
	list, _, err := c.opt.Store.List(r.Context(), "Project", "", controller.MaxLimit, 0)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	var page projectsPage
	for _, p := range list {
		res := &spec.Resource{Object: p.Object}
		counts, err := c.opt.Store.Counts(r.Context(), res.Name())
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		n := 0
		for _, k := range counts {
			n += k
		}
		desc, _ := p.Object["metadata"].(map[string]any)["description"].(string)
		page.Projects = append(page.Projects, projectRow{Name: res.Name(), Description: desc, Resources: n})
	}
	c.render(w, r, http.StatusOK, "projects", v, page)
}

type projectPage struct {
	Project string
	Kinds   []kindRow
}

type kindRow struct {
	Kind  *spec.Kind
	Count int
}

func (p projectPage) title() string { return "Project " + p.Project }
func (projectPage) nav() string     { return "projects" }

func (c *Console) project(w http.ResponseWriter, r *http.Request, v *viewer) {
	project := r.PathValue("project")
	if _, err := c.opt.Store.Get(r.Context(), spec.Key{Kind: "Project", Name: project}); err != nil {
		c.fail(w, r, v, err)
		return
	}
	counts, err := c.opt.Store.Counts(r.Context(), project)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page := projectPage{Project: project}
	for _, k := range spec.Kinds() {
		if k.ProjectScoped {
			page.Kinds = append(page.Kinds, kindRow{Kind: k, Count: counts[k.Name]})
		}
	}
	c.render(w, r, http.StatusOK, "project", v, page)
}

// target reads {project} and {plural}: a project-scoped kind of a
// project that exists.
func (c *Console) target(r *http.Request) (*spec.Kind, string, error) {
	project := r.PathValue("project")
	k, ok := spec.LookupPlural(r.PathValue("plural"))
	if !ok || !k.ProjectScoped {
		return nil, "", notFound("no resource type %q", r.PathValue("plural"))
	}
	if _, err := c.opt.Store.Get(r.Context(), spec.Key{Kind: "Project", Name: project}); err != nil {
		return nil, "", err
	}
	return k, project, nil
}

// named is the kind and key the request's path names; with a method, it
// refuses first a viewer who may not make that request of that kind.
func (c *Console) named(r *http.Request, v *viewer, method string) (*spec.Kind, spec.Key, error) {
	k, project, err := c.target(r)
	if err != nil {
		return nil, spec.Key{}, err
	}
	if method != "" {
		if err := access.Check(v.Principal, access.ForResource(method, k.Name)); err != nil {
			return nil, spec.Key{}, err
		}
	}
	return k, spec.Key{Kind: k.Name, Project: project, Name: r.PathValue("name")}, nil
}

type resourcesPage struct {
	Kind       *spec.Kind
	Project    string
	Query      string
	Items      []controller.Summary
	Total      int
	Page, Last int
	From, To   int
	CanWrite   bool
}

func (p resourcesPage) title() string { return p.Kind.Plural + " in " + p.Project }
func (resourcesPage) nav() string     { return "projects" }

// PageURL is the list's address at page n, keeping the filter.
func (p resourcesPage) PageURL(n int) string {
	q := url.Values{}
	if p.Query != "" {
		q.Set("q", p.Query)
	}
	if n > 1 {
		q.Set("page", strconv.Itoa(n))
	}
	u := "/projects/" + url.PathEscape(p.Project) + "/" + p.Kind.Plural
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// resources is GET /projects/{project}/{plural}: 50 a page, by name,
// filtered by a part of the name (q).
func (c *Console) resources(w http.ResponseWriter, r *http.Request, v *viewer) {
	k, project, err := c.target(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 253 {
		c.fail(w, r, v, badRequest("the name filter is longer than a name can be (253)"))
		return
	}
	n := 1
	if s := r.URL.Query().Get("page"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 1<<20 {
			c.fail(w, r, v, badRequest("page must be a whole number from 1"))
			return
		}
	}
	items, total, err := c.opt.Store.Summaries(r.Context(), k.Name, project, q, pageSize, (n-1)*pageSize)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page := resourcesPage{Kind: k, Project: project, Query: q, Items: items, Total: total, Page: n,
		Last: max(1, (total+pageSize-1)/pageSize), CanWrite: v.Role.Can(access.ForResource(http.MethodPost, k.Name))}
	if len(items) > 0 {
		page.From, page.To = (n-1)*pageSize+1, (n-1)*pageSize+len(items)
	}
	c.render(w, r, http.StatusOK, "resources", v, page)
}

// gitPlace is where a resource lives in Git for one stage that owns it.
type gitPlace struct {
	Pipeline, Stage string
	Role            string // "source" or "destination"
	Repository      string
	URL, Revision   string
	Path, Link      string
	Synced          *pipeline.Synced
}

type resourcePage struct {
	Kind      *spec.Kind
	Key       spec.Key
	Stored    controller.Stored
	YAML      string
	Masked    bool // YAML shows its secrets masked
	Places    []gitPlace
	PlacesErr string
	LastRun   *pipeline.Run
	LastRow   *pipeline.Row
	CanWrite  bool
}

func (p resourcePage) title() string { return p.Kind.Name + " " + p.Key.Name }
func (resourcePage) nav() string     { return "projects" }

// resource is GET /projects/{project}/{plural}/{name}: the YAML, where it
// lives in Git, its last sync and run.
func (c *Console) resource(w http.ResponseWriter, r *http.Request, v *viewer) {
	k, key, err := c.named(r, v, "")
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	st, err := c.opt.Store.Get(r.Context(), key)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	obj, masked := shown(v, st.Object)
	page := resourcePage{Kind: k, Key: key, Stored: st, YAML: renderYAML(obj), Masked: masked,
		CanWrite: v.Role.Can(access.ForResource(http.MethodPost, k.Name))}
	page.Places, err = c.placesOf(r, key)
	if err != nil {
		page.PlacesErr = err.Error()
	}
	if page.LastRun, page.LastRow, err = c.opt.Runs.LastFor(r.Context(), key); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "resource", v, page)
}

// shown is obj as v may see it: with its secrets masked
// (spec.MaskSecrets) unless v's role may read secrets; masked says
// whether anything was.
func shown(v *viewer, obj map[string]any) (_ map[string]any, masked bool) {
	if v.Role.Can(access.ReadSecrets) {
		return obj, false
	}
	if len(spec.SecretFields(obj)) == 0 {
		return obj, false
	}
	return spec.MaskSecrets(obj), true
}

// placesOf returns where key lives in Git: the file of each stage that
// owns it, in its source and (a separate one) its destination, with the
// stage's last sync of it.
func (c *Console) placesOf(r *http.Request, key spec.Key) ([]gitPlace, error) {
	if c.opt.Stages == nil {
		return nil, nil
	}
	stages, err := c.opt.Stages(r.Context())
	if err != nil {
		return nil, fmt.Errorf("the pipelines could not be read: %w", err)
	}
	var out []gitPlace
	for _, st := range stages {
		if !st.Scope.Owns(key) {
			continue
		}
		refs := []struct {
			role, state string
			ref         pipeline.RepoRef
		}{{"source", st.ID(), st.Source}}
		if st.SeparateDest() {
			refs = append(refs, struct {
				role, state string
				ref         pipeline.RepoRef
			}{"destination", st.DestStateID(), st.Dest})
		}
		for _, ref := range refs {
			p := path.Join(ref.ref.Path, spec.PathFor(key))
			place := gitPlace{Pipeline: st.PipelineName(), Stage: st.Name, Role: ref.role, Repository: ref.ref.Repository,
				URL: gitrepo.RedactURL(ref.ref.URL), Revision: ref.ref.Revision, Path: p, Link: c.fileLink(ref.ref.URL, ref.ref.Revision, p)}
			synced, ok, err := pipeline.NewSyncState(c.opt.DB, ref.state).Get(r.Context(), key)
			if err != nil {
				return out, err
			}
			if ok {
				place.Synced = &synced
			}
			out = append(out, place)
		}
	}
	return out, nil
}

// fileLink is the file's page on GitHub, when the repository is on the
// configured GitHub; "" otherwise.
func (c *Console) fileLink(repoURL, rev, file string) string {
	web := strings.TrimSuffix(c.opt.GitHubWebURL, "/")
	host := pipeline.NormalizeURL(web)
	repo := pipeline.NormalizeURL(repoURL)
	if web == "" || host == "" || !strings.HasPrefix(repo, host+"/") || rev == "" {
		return ""
	}
	return web + "/" + strings.TrimPrefix(repo, host+"/") + "/blob/" + url.PathEscape(rev) + "/" + file
}

// editPage is the form that edits (or creates) a resource as YAML.
type editPage struct {
	Kind            *spec.Kind
	Project, Name   string
	New             bool
	YAML            string
	ResourceVersion string
	// After a review: the lines with the problems on them, and the
	// problems of no line; or (no problems) the diff to save.
	Lines     []numberedLine
	Problems  []spec.Problem
	Review    bool
	Diff      []diffLine
	Unchanged bool
	// Conflict says the resource changed since the form was opened.
	Conflict string
	// Warnings are the doubtful but applicable things the review found:
	// saved with the resource, as the API's Warning headers are.
	Warnings []spec.Problem
	// Masked says the YAML shows the stored secrets masked: left as they
	// are, they are kept.
	Masked bool
}

func (p editPage) title() string {
	if p.New {
		return "New " + p.Kind.Name
	}
	return "Edit " + p.Kind.Name + " " + p.Name
}
func (editPage) nav() string { return "projects" }

// Action is where the form posts.
func (p editPage) Action() string {
	base := "/projects/" + url.PathEscape(p.Project) + "/" + p.Kind.Plural + "/"
	if p.New {
		return base + "new"
	}
	return base + url.PathEscape(p.Name)
}

func (c *Console) editResource(w http.ResponseWriter, r *http.Request, v *viewer) {
	k, key, err := c.named(r, v, http.MethodPost)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	st, err := c.opt.Store.Get(r.Context(), key)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	obj, masked := shown(v, st.Object)
	c.render(w, r, http.StatusOK, "edit", v, editPage{Kind: k, Project: key.Project, Name: key.Name, Masked: masked,
		YAML: renderYAML(obj), ResourceVersion: strconv.FormatInt(st.ResourceVersion, 10)})
}

func (c *Console) newResource(w http.ResponseWriter, r *http.Request, v *viewer) {
	k, key, err := c.named(r, v, http.MethodPost)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	project := key.Project
	skeleton := fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: \n  project: %s\nspec: {}\n", k.APIVersion(), k.Name, project)
	c.render(w, r, http.StatusOK, "edit", v, editPage{Kind: k, Project: project, New: true, YAML: skeleton})
}

func (c *Console) createResource(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.postResource(w, r, v, true)
}

func (c *Console) saveResource(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.postResource(w, r, v, false)
}

// postResource is the edit form's POST: the field yaml is the whole
// resource. action=review (the default) checks it as the API would and
// shows each problem on its line, or the diff against the stored version;
// action=save applies it through the controller as the viewer, with the
// resourceVersion the form was opened at; action=edit goes back to the
// form. A resource changed meanwhile is shown with the diff against what
// is stored now.
func (c *Console) postResource(w http.ResponseWriter, r *http.Request, v *viewer, create bool) {
	k, key, err := c.named(r, v, http.MethodPost)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	project := key.Project
	r.Body = http.MaxBytesReader(w, r.Body, maxYAML+64<<10)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.fail(w, r, v, &controller.Error{Code: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the YAML is over the limit of %d bytes", maxYAML)})
			return
		}
		c.fail(w, r, v, badRequest("read the form: %v", err))
		return
	}
	text := strings.ReplaceAll(r.PostForm.Get("yaml"), "\r\n", "\n")
	page := editPage{Kind: k, Project: project, New: create, YAML: text, ResourceVersion: r.PostForm.Get("resourceVersion")}
	if !create {
		page.Name = key.Name
	}
	at := spec.Context{Kind: k.Name, Project: project, Name: page.Name}
	action := r.PostForm.Get("action")
	if action == "edit" {
		c.render(w, r, http.StatusOK, "edit", v, page)
		return
	}
	res, warnings, err := controller.CheckBody(at, "application/yaml", []byte(text))
	if err != nil {
		c.showProblems(w, r, v, page, err)
		return
	}
	page.Warnings = warnings
	key = res.Key() // what the YAML names (CheckBody holds it to the path)
	current, err := c.opt.Store.Get(r.Context(), key)
	var apiErr *controller.Error
	exists := err == nil
	if err != nil && !(errors.As(err, &apiErr) && apiErr.Code == http.StatusNotFound) {
		c.fail(w, r, v, err)
		return
	}
	if create && exists {
		c.showProblems(w, r, v, page, &controller.Error{Code: http.StatusConflict, Message: "exists already",
			Problems: []spec.Problem{{Line: res.LineOf("metadata.name"), Field: "metadata.name",
				Message: fmt.Sprintf("%s %q exists already in project %q: edit it instead", k.Name, key.Name, project)}}})
		return
	}
	// The form shows a viewer who may not read secrets the stored ones
	// masked: each mask left in its place is the stored secret again.
	posted := res.Object
	var stored map[string]any
	if exists {
		stored = current.Object
	}
	restored := false
	if spec.HoldsSecretMask(text) {
		if res.Object, err = spec.RestoreSecrets(res.Object, stored); err != nil {
			c.showProblems(w, r, v, page, &controller.Error{Code: http.StatusBadRequest, Message: "masked secrets",
				Problems: []spec.Problem{{Message: err.Error() + ": the form shows stored secrets masked, and keeps each where it was"}}})
			return
		}
		restored = true
	}
	old := ""
	if exists {
		shownCurrent, masked := shown(v, current.Object)
		old, page.Masked = renderYAML(shownCurrent), masked
		if !create && page.ResourceVersion != strconv.FormatInt(current.ResourceVersion, 10) {
			page.Conflict = fmt.Sprintf("%s %s changed since you opened it (resourceVersion %s, now %d, modified %s): the diff below is against what is stored now. Saving replaces it.",
				k.Name, key.Name, page.ResourceVersion, current.ResourceVersion, current.ModifiedAt.Format(time.RFC3339))
			page.ResourceVersion = strconv.FormatInt(current.ResourceVersion, 10)
			action = "review"
		}
	} else if !create {
		c.fail(w, r, v, notFound("%s %q was deleted since you opened it", k.Name, page.Name))
		return
	}
	page.Diff, _ = lineDiff(old, renderYAML(posted))
	page.Unchanged = exists && spec.Equal(spec.Canonical(current.Object), spec.Canonical(res.Object))
	if action != "save" {
		page.Review = true
		c.render(w, r, http.StatusOK, "edit", v, page)
		return
	}
	body := []byte(text)
	if restored {
		// What is saved holds the secrets again: Git's rendering of it,
		// which reads back as the same resource.
		if body, err = spec.Render(spec.Canonical(res.Object)); err != nil {
			c.fail(w, r, v, fmt.Errorf("render %s: %w", key, err))
			return
		}
	}
	st, outcome, _, err := c.opt.Store.ApplyBody(r.Context(), at, "application/yaml", body, v.Email, page.ResourceVersion)
	if errors.As(err, &apiErr) && apiErr.Code == http.StatusConflict {
		// Changed between the review and the save: review again.
		if current, gerr := c.opt.Store.Get(r.Context(), key); gerr == nil {
			page.Conflict = fmt.Sprintf("%s %s changed while you reviewed it (now resourceVersion %d): the diff below is against what is stored now. Saving replaces it.",
				k.Name, key.Name, current.ResourceVersion)
			page.ResourceVersion = strconv.FormatInt(current.ResourceVersion, 10)
			shownCurrent, _ := shown(v, current.Object)
			page.Diff, _ = lineDiff(renderYAML(shownCurrent), renderYAML(posted))
			page.Review = true
			c.render(w, r, http.StatusConflict, "edit", v, page)
			return
		}
	}
	if err != nil {
		c.showProblems(w, r, v, page, err)
		return
	}
	c.opt.Log.InfoContext(r.Context(), "console apply", "key", key.String(), "outcome", outcome, "user", v.Email, "resource_version", st.ResourceVersion)
	switch outcome {
	case controller.Unchanged:
		c.flash(r, "Nothing changed: %s %s is as it was.", k.Name, key.Name)
	default:
		c.flash(r, "%s %s %s (resourceVersion %d): it goes to Git as your change.", k.Name, key.Name, outcome, st.ResourceVersion)
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(project)+"/"+k.Plural+"/"+url.PathEscape(key.Name), http.StatusSeeOther)
}

// showProblems shows the form again with err's problems on their lines.
func (c *Console) showProblems(w http.ResponseWriter, r *http.Request, v *viewer, page editPage, err error) {
	var apiErr *controller.Error
	if !errors.As(err, &apiErr) || len(apiErr.Problems) == 0 {
		c.fail(w, r, v, err)
		return
	}
	page.Lines, page.Problems = withProblems(page.YAML, apiErr.Problems)
	c.render(w, r, apiErr.Code, "edit", v, page)
}

type deletePage struct {
	Kind          *spec.Kind
	Project, Name string
	YAML          string
}

func (p deletePage) title() string { return "Delete " + p.Kind.Name + " " + p.Name }
func (deletePage) nav() string     { return "projects" }

func (c *Console) confirmDelete(w http.ResponseWriter, r *http.Request, v *viewer) {
	k, key, err := c.named(r, v, http.MethodDelete)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	st, err := c.opt.Store.Get(r.Context(), key)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	obj, _ := shown(v, st.Object)
	c.render(w, r, http.StatusOK, "delete", v, deletePage{Kind: k, Project: key.Project, Name: key.Name, YAML: renderYAML(obj)})
}

// deleteResource is the confirmed delete, as the viewer.
func (c *Console) deleteResource(w http.ResponseWriter, r *http.Request, v *viewer) {
	k, key, err := c.named(r, v, http.MethodDelete)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	if err := c.opt.Store.Delete(r.Context(), key, v.Email); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.opt.Log.InfoContext(r.Context(), "console delete", "key", key.String(), "user", v.Email)
	c.flash(r, "%s %s deleted: the file goes from Git as your change.", k.Name, key.Name)
	http.Redirect(w, r, "/projects/"+url.PathEscape(key.Project)+"/"+k.Plural, http.StatusSeeOther)
}
