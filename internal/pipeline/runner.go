package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/store"
)

// Runner runs stages: fetch, plan, apply, record. Runs of one stage never
// overlap in a process.
type Runner struct {
	DB     *store.DB
	Git    *gitrepo.Manager
	Loader *reconcile.Loader
	System *controllerapi.Client
	Runs   *Runs
	Log    *slog.Logger
	// Snapshot, when set, keeps the system's objects between runs and
	// follows the controller's event log instead of listing everything.
	Snapshot *reconcile.Snapshot
	Metrics  *metrics.Metrics // plan, apply and export durations; nil records none
	// Credentials says how to authenticate to each remote; nil: no remote
	// gets credentials.
	Credentials Credentials
	// Expressions are the organization's name and the organization's and
	// projects' variables, and the pipelines' compiled expressions; nil:
	// organization "default", no such variables.
	Expressions *Expressions

	locks sync.Map // stage ID → *sync.Mutex
}

// Credentials returns how to authenticate to the Git remote remoteURL: an
// installation token for a repository of the configured GitHub that the
// app's installation covers, nothing (a zero Auth) for any other remote.
// The runner asks it before every fetch and push, with that remote's URL,
// so a remote only ever receives its own credentials.
type Credentials func(ctx context.Context, remoteURL string) (gitrepo.Auth, error)

// auth returns the credentials for remoteURL.
func (r *Runner) auth(ctx context.Context, remoteURL string) (gitrepo.Auth, error) {
	if r.Credentials == nil {
		return gitrepo.Auth{}, nil
	}
	a, err := r.Credentials(ctx, remoteURL)
	if err != nil {
		return gitrepo.Auth{}, fmt.Errorf("credentials for %s: %w", gitrepo.RedactURL(remoteURL), err)
	}
	return a, nil
}

// fetch fetches ref (a branch, refs/pull/N/head or a SHA) into the cached
// clone of remoteURL, with that remote's own credentials.
func (r *Runner) fetch(ctx context.Context, remoteURL, ref string) (*gitrepo.Repo, string, error) {
	repo, err := r.Git.Repo(ctx, remoteURL)
	if err != nil {
		return nil, "", err
	}
	auth, err := r.auth(ctx, remoteURL)
	if err != nil {
		return nil, "", err
	}
	sha, err := repo.Fetch(ctx, auth, ref)
	return repo, sha, err
}

func (r *Runner) lock(id string) func() {
	m, _ := r.locks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// RepoSource returns a cached clone as the tree source reconcile reads.
func RepoSource(repo *gitrepo.Repo) reconcile.TreeSource { return repoSource{repo} }

// repoSource adapts a cached clone to reconcile.TreeSource.
type repoSource struct{ repo *gitrepo.Repo }

func (s repoSource) Entries(ctx context.Context, commit, folder string) ([]reconcile.TreeEntry, error) {
	entries, err := s.repo.ReadTree(ctx, commit, folder)
	if err != nil {
		return nil, err
	}
	out := make([]reconcile.TreeEntry, len(entries))
	for i, e := range entries {
		out[i] = reconcile.TreeEntry{Path: e.Path, BlobSHA: e.BlobSHA, Size: e.Size,
			Symlink: e.Mode == gitrepo.Symlink, Submodule: e.Mode == gitrepo.Submodule, Problem: e.Problem}
	}
	return out, nil
}

func (s repoSource) Blob(ctx context.Context, sha string, maxSize int64) ([]byte, error) {
	return s.repo.Blob(ctx, sha, maxSize)
}

// emptyTree is the folder of a repository with no commits yet.
type emptyTree struct{}

func (emptyTree) Entries(context.Context, string, string) ([]reconcile.TreeEntry, error) {
	return nil, nil
}
func (emptyTree) Blob(context.Context, string, int64) ([]byte, error) {
	return nil, errors.New("empty repository")
}

// Planned is a plan of one stage at one commit.
type Planned struct {
	Stage  Stage
	Commit string
	Folder string // the folder planned, repository-relative
	Plan   *reconcile.Plan
}

// Plan fetches ref (a branch, refs/pull/N/head or a SHA) of the stage's
// source repository and plans the folder there against the system and the
// sync state. It changes nothing.
func (r *Runner) Plan(ctx context.Context, st Stage, ref string) (*Planned, error) {
	sys := r.readSystem(ctx, st, st.ID()) // while Git fetches
	repo, sha, err := r.fetch(ctx, st.Source.URL, ref)
	if err != nil {
		sys.abandon()
		return nil, err
	}
	return r.planWith(ctx, st, repo, sha, st.Source.Path, reconcile.GitWins, sys)
}

// planAt plans folder of repo at sha (sha "" is an empty repository)
// against the system and the sync state named stateID.
func (r *Runner) planAt(ctx context.Context, st Stage, repo *gitrepo.Repo, sha, folder, stateID string, dir reconcile.Direction) (*Planned, error) {
	return r.planWith(ctx, st, repo, sha, folder, dir, r.readSystem(ctx, st, stateID))
}

// planWith is planAt with the system already being read.
func (r *Runner) planWith(ctx context.Context, st Stage, repo *gitrepo.Repo, sha, folder string, dir reconcile.Direction, sys *systemRead) (*Planned, error) {
	defer func(t0 time.Time) { r.Metrics.Stage(metrics.StepPlan, time.Since(t0)) }(time.Now())
	var src reconcile.TreeSource = repoSource{repo}
	if sha == "" {
		src = emptyTree{}
	}
	desired, err := r.Loader.Load(ctx, src, sha, folder, st.Scope)
	if err != nil {
		sys.abandon()
		return nil, err
	}
	in, err := sys.wait()
	if err != nil {
		return nil, err
	}
	in.Desired, in.FirstSync, in.SystemToGit = desired, dir, st.SystemToGit
	plan := reconcile.MakePlan(in)
	return &Planned{Stage: st, Commit: sha, Folder: folder, Plan: plan}, nil
}

// systemRead is the system's objects in a stage's scope (from the
// snapshot, or listed) and the stage's sync state, read in the background
// so that reading Git and the system overlap.
type systemRead struct {
	done   chan struct{}
	cancel context.CancelFunc
	in     reconcile.Input // Actual or System, and State
	err    error
}

// readSystem starts reading the system and the sync state named stateID for st.
func (r *Runner) readSystem(ctx context.Context, st Stage, stateID string) *systemRead {
	ctx, cancel := context.WithCancel(ctx)
	s := &systemRead{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		if r.Snapshot != nil {
			s.in.System, s.err = r.Snapshot.Objects(ctx, r.System, r.System, st.Scope)
		} else {
			s.in.Actual, s.err = reconcile.LoadActual(ctx, r.System, st.Scope)
		}
		if s.err != nil {
			s.err = fmt.Errorf("plan %s: %w", st.ID(), s.err)
			return
		}
		s.in.State, s.err = NewSyncState(r.DB, stateID).Load(ctx)
	}()
	return s
}

// wait returns what was read.
func (s *systemRead) wait() (reconcile.Input, error) {
	<-s.done
	s.cancel()
	return s.in, s.err
}

// abandon stops the read and waits for it to end.
func (s *systemRead) abandon() {
	s.cancel()
	<-s.done
}

// Touches fetches two commits of the stage's source and reports whether
// the change between them starts a run on a push: whether it touches the
// stage's PushPaths (its Webhook triggers' paths, or else its folder).
// A before of "" or all zeros: yes.
func (r *Runner) Touches(ctx context.Context, st Stage, before, after string) (bool, error) {
	return r.changed(ctx, st.Source.URL, before, after, st.PushPaths())
}

// changed fetches two commits of remoteURL and reports whether a file
// that watch matches changed between them (before "" or all zeros, or no
// longer there: yes).
func (r *Runner) changed(ctx context.Context, remoteURL, before, after string, watch Paths) (bool, error) {
	repo, _, err := r.fetch(ctx, remoteURL, after)
	if err != nil {
		return false, err
	}
	if before == "" || strings.Trim(before, "0") == "" {
		return true, nil
	}
	if _, _, err := r.fetch(ctx, remoteURL, before); err != nil {
		if errors.Is(err, gitrepo.ErrRefNotFound) {
			return true, nil // history rewritten: treat as touched
		}
		return false, err
	}
	paths, err := repo.ChangedPaths(ctx, before, after)
	if err != nil {
		return false, err
	}
	for _, p := range paths {
		if watch.Match(p) {
			return true, nil
		}
	}
	return false, nil
}

// Applied is the outcome of an apply run.
type Applied struct {
	Run     *Run
	Planned *Planned
	Results []reconcile.Result
}

// Apply fetches ref, plans it with Git winning first syncs, applies the
// git → system half and records a run with trigger and the event payload.
// A plan that changes the system is recorded In Progress before anything
// is applied, and finished even when the apply fails part-way. A plan with
// nothing to report (the bot's own export commit, a comment-only edit)
// records no run unless the trigger is manual: Applied.Run is then nil.
func (r *Runner) Apply(ctx context.Context, st Stage, ref, trigger string, payload []byte) (*Applied, error) {
	defer r.lock(st.ID())()
	sys := r.readSystem(ctx, st, st.ID()) // while Git fetches
	repo, sha, err := r.fetch(ctx, st.Source.URL, ref)
	if err != nil {
		sys.abandon()
		return nil, err
	}
	ctx, g := r.gate(ctx, st, trigger, payload, repo)
	if g.stopped() { // skipped by a pre-condition, or a variable failed: recorded, nothing planned
		sys.abandon()
		run, err := r.stopRun(ctx, st, trigger, sha, g)
		return &Applied{Run: run}, err
	}
	payload = g.payload
	planned, err := r.planWith(ctx, st, repo, sha, st.Source.Path, reconcile.GitWins, sys)
	if err != nil {
		_, _ = r.Runs.Failed(ctx, st.PipelineName(), trigger, sha, payload, err.Error())
		return nil, err
	}
	var id int64
	changesSystem := planned.Plan.Count(reconcile.Create)+planned.Plan.Count(reconcile.Update)+planned.Plan.Count(reconcile.Delete) > 0
	if changesSystem || trigger == TriggerManual {
		if id, err = r.Runs.Start(ctx, st.PipelineName(), trigger, sha, payload); err != nil {
			return nil, err
		}
	}
	applyStart := time.Now()
	results, err := reconcile.ApplyToSystem(ctx, planned.Plan, r.System, NewSyncState(r.DB, st.ID()))
	r.Metrics.Stage(metrics.StepApply, time.Since(applyStart))
	rows := RowsOf(results)
	if id == 0 && len(rows) > 0 && err == nil {
		if id, err = r.Runs.Start(ctx, st.PipelineName(), trigger, sha, payload); err != nil {
			return nil, err
		}
	}
	if id == 0 {
		if err != nil {
			return nil, fmt.Errorf("apply %s at %s: %w", st.ID(), sha, err)
		}
		return &Applied{Planned: planned, Results: results}, nil
	}
	status := StatusOf(rows)
	msg := ""
	if err != nil {
		status, msg = StatusFailed, err.Error()
	}
	if ferr := r.Runs.Finish(context.WithoutCancel(ctx), id, status, sha, msg, rows); ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	if err != nil {
		return nil, fmt.Errorf("apply %s at %s: %w", st.ID(), sha, err)
	}
	run, err := r.Runs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	r.Log.Info("applied", "stage", st.ID(), "commit", sha, "run", id, "status", status, "rows", len(rows))
	return &Applied{Run: run, Planned: planned, Results: results}, nil
}

// RowsOf turns results into run rows, leaving out keys with nothing to do.
func RowsOf(results []reconcile.Result) []Row {
	var rows []Row
	for _, res := range results {
		c := res.Change
		if c.Action == reconcile.NoOp || res.Outcome == reconcile.Pending {
			continue // nothing done, or left to the system → Git export
		}
		rows = append(rows, Row{Kind: c.Key.Kind, Project: c.Key.Project, Name: c.Key.Name, Path: c.Path,
			Action: string(c.Action), Outcome: string(res.Outcome), Message: res.Message})
	}
	return rows
}
