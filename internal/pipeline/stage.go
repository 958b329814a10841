// Package pipeline turns Pipeline resources into System Sync stages,
// matches Git events to them, and runs them: a trigger becomes a reconcile
// and a stored run record.
package pipeline

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// Trigger types, as Rafay names them.
const (
	TriggerWebhook  = "Webhook"
	TriggerInternal = "Internally Triggered"
	TriggerManual   = "Manually Triggered"
	TriggerCron     = "Cron"
)

// Run statuses.
const (
	StatusInProgress = "In Progress"
	StatusSuccess    = "Success"
	StatusFailed     = "Failed"
	StatusPartial    = "Partial"
)

// RepoRef is a place in a Git repository: the Repository resource that
// names it, the branch, and the folder ("" for the root).
type RepoRef struct {
	Repository string // name of a Repository resource
	Revision   string // branch
	Path       string // folder
	URL        string // the Repository's spec.endpoint
}

// Stage is one System Sync stage of a pipeline.
type Stage struct {
	Pipeline    spec.Key // Kind Pipeline
	Name        string
	GitToSystem bool
	SystemToGit bool
	Source      RepoRef
	Dest        RepoRef // the source itself when sourceAsDestination
	Scope       reconcile.Scope
	// Review asks system → Git changes to go through a pull request.
	Review bool
	// Triggers are the pipeline's spec.triggers (the same for each of its
	// stages): what starts a run of the stage.
	Triggers []Trigger
	// Index is the stage's place in spec.stages.
	Index int
	// exprs are the pipeline's compiled expressions and its stages' order.
	exprs *pipelineExprs
}

// Trigger is one of a pipeline's spec.triggers.
type Trigger struct {
	Index int    // its place in spec.triggers
	Name  string // may be empty
	Type  string // TriggerWebhook, TriggerCron, or another type as written
	// Repo is what the trigger watches: config.repo (a Cron trigger's
	// config.cron.repo.git in the shape of Rafay's API).
	Repo TriggerRepo
	// Schedule is a Cron trigger's cronExpression as written.
	Schedule string
	// cron is Schedule parsed; nil when it is missing or does not parse
	// (the pipeline's validation says why): such a trigger never fires.
	cron cron.Schedule
}

// TriggerRepo is what a trigger watches: a Repository resource, its
// branch, and the paths whose change starts a run. An empty Repository
// or Revision is that of the stage's source.
type TriggerRepo struct {
	Repository string
	Revision   string
	URL        string // the Repository's spec.endpoint; "" when Repository is empty or unknown
	Paths      Paths  // config.repo.paths[].name, as written less a leading "/" or "./"; none: any path
}

// ID names the trigger among its pipeline's: its name, or #index.
func (t Trigger) ID() string {
	if t.Name != "" {
		return t.Name
	}
	return "#" + strconv.Itoa(t.Index)
}

// CronOnly reports whether the stage's pipeline has triggers and every
// one is Cron: such a stage syncs Git into the system on its ticks only,
// never on a push or a poll. A pipeline without triggers syncs on pushes.
func (s Stage) CronOnly() bool {
	for _, t := range s.Triggers {
		if t.Type != TriggerCron {
			return false
		}
	}
	return len(s.Triggers) > 0
}

// PushPaths are the paths whose change in a push to the stage's source
// starts a run: those of the Webhook triggers that watch the source
// (config.repo naming its repository and branch, or neither), or the
// stage's folder when none of them lists paths.
func (s Stage) PushPaths() Paths {
	var out Paths
	for _, t := range s.Triggers {
		if t.Type != TriggerWebhook || !s.watchesSource(t.Repo) {
			continue
		}
		if len(t.Repo.Paths) == 0 {
			return Paths{s.Source.Path}
		}
		out = append(out, t.Repo.Paths...)
	}
	if len(out) == 0 {
		return Paths{s.Source.Path}
	}
	return out
}

// watchesSource reports whether r names the stage's source repository and
// branch (an empty field names the source's).
func (s Stage) watchesSource(r TriggerRepo) bool {
	return (r.Repository == "" || r.Repository == s.Source.Repository) && (r.Revision == "" || r.Revision == s.Source.Revision)
}

// TriggersOf reads a Pipeline object's spec.triggers, as runs read them
// (their Repo.URL left empty).
func TriggersOf(pipelineObj map[string]any) []Trigger {
	spc, _ := pipelineObj["spec"].(map[string]any)
	trs, _ := triggers(spec.Key{}, spc["triggers"], nil)
	return trs
}

// triggers reads spec.triggers. repos maps a Repository name to its
// endpoint. A Cron trigger naming a repository that is not there is an
// error; the trigger is kept, and never fires.
func triggers(key spec.Key, v any, repos map[string]string) ([]Trigger, []error) {
	var out []Trigger
	var errs []error
	for i, it := range list(v) {
		tm, _ := it.(map[string]any)
		if tm == nil {
			continue
		}
		t := Trigger{Index: i}
		t.Name, _ = tm["name"].(string)
		t.Type, _ = tm["type"].(string)
		cfg, _ := tm["config"].(map[string]any)
		expr, repo := spec.TriggerConfig(cfg)
		t.Repo.Repository, _ = repo["repository"].(string)
		t.Repo.Revision, _ = repo["revision"].(string)
		for _, p := range list(repo["paths"]) {
			if name, _ := p.(map[string]any)["name"].(string); name != "" {
				t.Repo.Paths = append(t.Repo.Paths, cleanPath(name))
			}
		}
		if t.Type == TriggerCron {
			t.Schedule, _ = expr.(string)
			t.cron, _ = spec.ParseCron(t.Schedule)
			if t.Repo.Repository != "" {
				var ok bool
				if t.Repo.URL, ok = repos[t.Repo.Repository]; !ok {
					errs = append(errs, fmt.Errorf("pipeline %s trigger %s (spec.triggers[%d]): repository %q not found", key, t.ID(), i, t.Repo.Repository))
				}
			}
		}
		out = append(out, t)
	}
	return out, errs
}

// Paths are the paths a trigger watches, relative to the repository's
// root: each a folder (every file under it), a file, or a glob
// (path.Match: `apps/*/values.yaml`) matched against a file's path and
// each folder above it. A trailing "/", "/*" or "/**" names the folder;
// "" (or "/", ".") is the whole repository.
type Paths []string

// Match reports whether file (a path from the repository's root) is
// watched.
func (ps Paths) Match(file string) bool {
	for _, p := range ps {
		if matchPath(p, file) {
			return true
		}
	}
	return false
}

// cleanPath reads a path as triggers write it: "./a/b/", "/a/b/*" and
// "a/b" are the folder a/b.
func cleanPath(p string) string {
	p = strings.TrimSpace(p)
	for _, suffix := range []string{"/**", "/*"} {
		p = strings.TrimSuffix(p, suffix)
	}
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

func matchPath(pattern, file string) bool {
	if pattern == "" {
		return true
	}
	if !strings.ContainsAny(pattern, "*?[\\") {
		return file == pattern || strings.HasPrefix(file, pattern+"/")
	}
	// A glob matches the file or a folder above it: as many segments.
	n := strings.Count(pattern, "/") + 1
	segs := strings.Split(file, "/")
	if len(segs) < n {
		return false
	}
	ok, err := path.Match(pattern, strings.Join(segs[:n], "/"))
	return ok && err == nil
}

// ID names the stage in runs and sync state: project/pipeline/stage.
func (s Stage) ID() string { return s.Pipeline.Project + "/" + s.Pipeline.Name + "/" + s.Name }

// SeparateDest reports whether the stage writes the system's changes to
// another place than the one it reads Git from (a destinationRepo, not
// sourceAsDestination).
func (s Stage) SeparateDest() bool { return s.Dest != s.Source }

// DestStateID names the sync state of the stage's destination: the stage's
// own (ID) when it writes where it reads, else one of its own, since the
// destination holds what the system has, not what the source asks for.
func (s Stage) DestStateID() string {
	if !s.SeparateDest() {
		return s.ID()
	}
	return s.ID() + " → " + s.Dest.Repository + "@" + s.Dest.Revision + ":" + s.Dest.Path
}

// PipelineName is project/pipeline, as runs are listed under.
func (s Stage) PipelineName() string { return s.Pipeline.Project + "/" + s.Pipeline.Name }

// Stages reads the SystemSync stages of one Pipeline object. repos maps a
// Repository name to its endpoint, for the pipeline's project (and those
// shared with it). A stage naming an unknown repository is an error; the
// pipeline's other stages are still returned. Fields written with
// variables ({{ .variables.NAME }}) are written with the pipeline's and
// stage's variables; Runner.LoadStages adds the organization's and the
// projects'.
func Stages(pipelineObj map[string]any, repos map[string]string) ([]Stage, []error) {
	return stagesOf(pipelineObj, repos, nil)
}

func stagesOf(pipelineObj map[string]any, repos map[string]string, x *Expressions) ([]Stage, []error) {
	r := &spec.Resource{Object: pipelineObj}
	spc, _ := pipelineObj["spec"].(map[string]any)
	if active, ok := spc["active"].(bool); ok && !active {
		return nil, nil
	}
	projects := map[string]bool{r.Project(): true}
	if sharing, _ := spc["sharing"].(map[string]any); sharing != nil && sharing["enabled"] == true {
		for _, p := range list(sharing["projects"]) {
			name, _ := p.(map[string]any)["name"].(string)
			if name == "*" {
				projects = nil
				break
			}
			if name != "" {
				projects[name] = true
			}
		}
	}
	trs, errs := triggers(r.Key(), spc["triggers"], repos)
	exprs := x.compiled(pipelineObj)
	var out []Stage
	for i, st := range list(spc["stages"]) {
		sm, _ := st.(map[string]any)
		if sm["type"] != "SystemSync" {
			continue
		}
		cfg, _ := sm["config"].(map[string]any)
		name, _ := sm["name"].(string)
		s := Stage{
			Pipeline:    r.Key(),
			Name:        name,
			GitToSystem: cfg["gitToSystemSync"] == true,
			SystemToGit: cfg["systemToGitSync"] == true,
			Source:      repoRef(cfg["sourceRepo"]),
			Review:      cfg["review"] == true || cfg["createPullRequest"] == true,
			Triggers:    trs,
			Index:       i,
			exprs:       exprs,
		}
		s.Scope = reconcile.Scope{Projects: projects, Kinds: kindSet(cfg["includedResources"]), Excluded: kindSet(cfg["excludedResources"])}
		if s.Scope.Excluded == nil {
			s.Scope.Excluded = map[string]bool{}
		}
		dest := repoRef(cfg["destinationRepo"])
		separate := cfg["sourceAsDestination"] != true && dest.Repository != ""
		s.Dest = dest
		if err := exprs.renderFields(&s, separate); err != nil {
			errs = append(errs, fmt.Errorf("pipeline %s stage %s (spec.stages[%d]): %w", r.Key(), name, i, err))
			continue
		}
		if !separate {
			s.Dest = s.Source
		}
		var ok bool
		if s.Source.URL, ok = repos[s.Source.Repository]; !ok {
			errs = append(errs, fmt.Errorf("pipeline %s stage %s (spec.stages[%d]): source repository %q not found", r.Key(), name, i, s.Source.Repository))
			continue
		}
		if s.Dest.URL, ok = repos[s.Dest.Repository]; !ok {
			errs = append(errs, fmt.Errorf("pipeline %s stage %s (spec.stages[%d]): destination repository %q not found", r.Key(), name, i, s.Dest.Repository))
			continue
		}
		out = append(out, s)
	}
	return out, errs
}

func list(v any) []any { l, _ := v.([]any); return l }

// kindSet reads [{name: Kind}…]; nil (every kind) when absent, empty, or it names "*".
func kindSet(v any) map[string]bool {
	items := list(v)
	if len(items) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, it := range items {
		name, _ := it.(map[string]any)["name"].(string)
		if name == "*" {
			return nil
		}
		out[name] = true
	}
	return out
}

func repoRef(v any) RepoRef {
	m, _ := v.(map[string]any)
	ref := RepoRef{}
	ref.Repository, _ = m["repository"].(string)
	ref.Revision, _ = m["revision"].(string)
	if p, ok := m["path"].(map[string]any); ok {
		ref.Path, _ = p["name"].(string)
	}
	ref.Path = cleanFolder(ref.Path)
	return ref
}

// LoadStages reads every active SystemSync stage from the controller.
// Problems with single pipelines are returned beside the stages that work.
// It knows no organization or project variables: Runner.LoadStages does.
func LoadStages(ctx context.Context, sys *controllerapi.Client) ([]Stage, []error, error) {
	return loadStages(ctx, sys, nil)
}

// LoadStages reads every active SystemSync stage from the controller, as
// LoadStages does, with the runner's Expressions: the organization's and
// projects' variables, and each pipeline revision's expressions compiled
// once.
func (r *Runner) LoadStages(ctx context.Context) ([]Stage, []error, error) {
	return loadStages(ctx, r.System, r.Expressions)
}

func loadStages(ctx context.Context, sys *controllerapi.Client, x *Expressions) ([]Stage, []error, error) {
	projects, err := sys.ListAll(ctx, "Project", "")
	if err != nil {
		return nil, nil, fmt.Errorf("load pipelines: %w", err)
	}
	endpoints := map[string]map[string]string{} // project → repository name → URL
	var pipelines []map[string]any
	for _, p := range projects {
		name := (&spec.Resource{Object: p}).Name()
		repos, err := sys.ListAll(ctx, "Repository", name)
		if err != nil {
			return nil, nil, fmt.Errorf("load repositories of %s: %w", name, err)
		}
		endpoints[name] = map[string]string{}
		for _, r := range repos {
			spc, _ := r["spec"].(map[string]any)
			ep, _ := spc["endpoint"].(string)
			endpoints[name][(&spec.Resource{Object: r}).Name()] = ep
		}
		ps, err := sys.ListAll(ctx, "Pipeline", name)
		if err != nil {
			return nil, nil, fmt.Errorf("load pipelines of %s: %w", name, err)
		}
		pipelines = append(pipelines, ps...)
	}
	var stages []Stage
	var problems []error
	for _, p := range pipelines {
		s, errs := stagesOf(p, endpoints[(&spec.Resource{Object: p}).Project()], x)
		stages = append(stages, s...)
		problems = append(problems, errs...)
	}
	sort.Slice(stages, func(i, j int) bool { return stages[i].ID() < stages[j].ID() })
	return stages, problems, nil
}

// NormalizeURL reduces a Git URL to host/path for matching: no scheme, no
// credentials, no port for the default ones, no trailing ".git" or "/",
// lower-case host. git@host:owner/repo forms are understood.
func NormalizeURL(raw string) string {
	s := strings.TrimSpace(raw)
	if i := strings.Index(s, "@"); i >= 0 && !strings.Contains(s, "://") && strings.Contains(s[i:], ":") {
		s = "ssh://" + s[:i+1] + strings.Replace(s[i+1:], ":", "/", 1)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		if strings.HasPrefix(s, "/") {
			return "file:" + strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
		}
		return strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git"))
	}
	if u.Scheme == "file" {
		return "file:" + strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	}
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && p != "443" && p != "80" && p != "22" {
		host += ":" + p
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	return host + strings.ToLower(p)
}

// MatchPush returns the git → system stages whose source is repoURL at branch.
func MatchPush(stages []Stage, repoURLs []string, branch string) []Stage {
	want := map[string]bool{}
	for _, u := range repoURLs {
		if u != "" {
			want[NormalizeURL(u)] = true
		}
	}
	var out []Stage
	for _, s := range stages {
		if s.GitToSystem && s.Source.Revision == branch && want[NormalizeURL(s.Source.URL)] {
			out = append(out, s)
		}
	}
	return out
}
