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
	"github.com/systemsync/systemsync/internal/spec"
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
	// Bot is who the bot commits as: the committer of every commit it makes
	// (bot_email), and the author of those no person's change made. A push
	// whose new commits are all the bot's own (committed by Bot, with a
	// Systemsync-Run trailer) starts no run.
	Bot Identity
	// Open opens a pull request for a branch the bot pushed for people to
	// decide on (a review or conflict branch); nil leaves the branch, as
	// with plain Git.
	Open ReviewOpener
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
	// Revision is the controller's event log revision the plan was made
	// at: a change of the system after it may be missing from the plan.
	// 0 when unknown (a controller without an event log).
	Revision int64
}

// Plan fetches ref (a branch, refs/pull/N/head or a SHA) of the stage's
// source repository and plans the folder there against the system and the
// sync state. It changes nothing. Planned.Revision is the event log's
// revision before the system was read.
func (r *Runner) Plan(ctx context.Context, st Stage, ref string) (*Planned, error) {
	rev := r.systemRevision(ctx)
	sys := r.readSystem(ctx, st, st.ID()) // while Git fetches
	repo, sha, err := r.fetch(ctx, st.Source.URL, ref)
	if err != nil {
		sys.abandon()
		return nil, err
	}
	planned, err := r.planWith(ctx, st, repo, sha, st.Source.Path, reconcile.GitWins, sys)
	if err != nil {
		return nil, err
	}
	planned.Revision = rev
	return planned, nil
}

// systemRevision is the controller's event log revision, 0 when it has
// no event log or cannot say.
func (r *Runner) systemRevision(ctx context.Context) int64 {
	list, err := r.System.Events(ctx, 1<<62, 0)
	if err != nil {
		r.Log.Debug("no event log revision: the plan cannot tell when it is stale", "err", err)
		return 0
	}
	return list.Revision
}

// maxEventPages bounds the pages of the event log ChangesSince reads.
const maxEventPages = 100

// ChangesSince returns the system's changes to keys after the event log's
// revision since, one per key (its latest change, with who and when), as
// the log tells them.
func (r *Runner) ChangesSince(ctx context.Context, since int64, keys map[spec.Key]bool) ([]Change, error) {
	var out []Change
	index := map[spec.Key]int{}
	for page := 0; page < maxEventPages; page++ {
		list, err := r.System.Events(ctx, since, 0)
		if err != nil {
			return nil, fmt.Errorf("read the event log after %d: %w", since, err)
		}
		if len(list.Items) == 0 {
			break
		}
		for _, e := range list.Items {
			k := spec.Key{Kind: e.Kind, Project: e.Project, Name: e.Name}
			if !keys[k] {
				continue
			}
			c := Change{Key: k, Type: e.Type, User: e.User, Time: e.Time, Revision: e.Revision, Own: e.User == r.Bot.Email}
			if i, ok := index[k]; ok {
				out[i] = c
				continue
			}
			index[k] = len(out)
			out = append(out, c)
		}
		since = list.Items[len(list.Items)-1].Revision
	}
	return out, nil
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

// maxOwnCommits is how many new commits of a push NeedsRun looks at for
// one that is not the bot's own; a longer push runs.
const maxOwnCommits = 1000

// NeedsRun fetches two commits of the stage's source and reports whether a
// push from before to after (before "" or all zeros: a new branch) asks
// for a run of st: a file its PushPaths watch (its Webhook triggers'
// paths, or else its folder) changed, and not every new commit is the
// bot's own (see Runner.Bot). why says why not.
func (r *Runner) NeedsRun(ctx context.Context, st Stage, before, after string) (need bool, why string, err error) {
	touched, err := r.changed(ctx, st.Source.URL, before, after, st.PushPaths())
	if err != nil {
		return false, "", err
	}
	if !touched {
		return false, "nothing the stage's triggers watch changed", nil
	}
	if r.Bot.Email == "" {
		return true, "", nil
	}
	repo, _, err := r.fetch(ctx, st.Source.URL, after)
	if err != nil {
		return false, "", err
	}
	if before == "" || strings.Trim(before, "0") == "" {
		before = ""
	} else if _, _, err := r.fetch(ctx, st.Source.URL, before); err != nil {
		if !errors.Is(err, gitrepo.ErrRefNotFound) {
			return false, "", err
		}
		before = "" // history rewritten: every commit of after is new
	}
	// Most pushes are a person's: their tip says so without a walk of before's history.
	tipOwn := false
	if _, err := repo.Commits(ctx, "", after, 1, func(c gitrepo.CommitInfo) bool { tipOwn = r.ownCommit(c); return false }); err != nil {
		return false, "", err
	}
	if !tipOwn {
		return true, "", nil
	}
	seen := 0
	allOwn, err := repo.Commits(ctx, before, after, maxOwnCommits, func(c gitrepo.CommitInfo) bool { seen++; return r.ownCommit(c) })
	if err != nil {
		return false, "", err
	}
	if allOwn && seen > 0 { // a branch moved back to an older commit has no new ones, and runs
		return false, "every new commit is the bot's own", nil
	}
	return true, "", nil
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

// committer is who pushed sha, as far as plain Git tells: its committer's
// email ("" when it cannot be read). A poll's run names it as its user.
func (r *Runner) committer(ctx context.Context, st Stage, sha string) string {
	repo, err := r.Git.Repo(ctx, st.Source.URL)
	if err != nil {
		return ""
	}
	who := ""
	_, _ = repo.Commits(ctx, "", sha, 1, func(c gitrepo.CommitInfo) bool { who = c.CommitterEmail; return false })
	return who
}

// tip returns the commit to apply for a push of sha to the stage's
// branch: the branch's tip when sha is behind it (a late delivery, a poll
// that an export overtook, the bot's own commit on top), so that a run
// never applies an older tree over a newer one, whose resources the
// system already holds and the sync state records; sha otherwise (the
// branch moved elsewhere, or is gone). ApplyWith calls it under the
// stage's lock, so an export cannot land between the two.
func (r *Runner) tip(ctx context.Context, st Stage, repo *gitrepo.Repo, sha string) (string, error) {
	_, tip, err := r.fetch(ctx, st.Source.URL, st.Source.Revision)
	if errors.Is(err, gitrepo.ErrRefNotFound) {
		return sha, nil
	}
	if err != nil || tip == sha {
		return sha, err
	}
	ahead := 0 // commits of sha the tip lacks
	if _, err := repo.Commits(ctx, tip, sha, 1, func(gitrepo.CommitInfo) bool { ahead++; return false }); err != nil {
		return "", err
	}
	if ahead > 0 {
		return sha, nil
	}
	r.Log.Info("the branch moved on since the commit: applying its tip", "stage", st.ID(), "commit", sha, "tip", tip)
	return tip, nil
}

// ownCommit reports whether c is the bot's: committed by r.Bot, with a
// Systemsync-Run trailer.
func (r *Runner) ownCommit(c gitrepo.CommitInfo) bool {
	if !strings.EqualFold(c.CommitterEmail, r.Bot.Email) {
		return false
	}
	paragraphs := strings.Split(strings.TrimSpace(strings.ReplaceAll(c.Message, "\r\n", "\n")), "\n\n")
	for _, line := range strings.Split(paragraphs[len(paragraphs)-1], "\n") {
		if strings.HasPrefix(line, "Systemsync-Run:") {
			return true
		}
	}
	return false
}

// Applied is the outcome of an apply run.
type Applied struct {
	Run     *Run
	Planned *Planned
	Results []reconcile.Result
}

// ApplyOptions are the less common settings of an apply.
type ApplyOptions struct {
	// Moved names resources the system changed after the plan people
	// reviewed (a merged pull request's), with what moved: each such
	// resource that the apply would change is a conflict instead, never a
	// silent overwrite.
	Moved map[spec.Key]string
	// KeepOpen leaves a run that applied without an error In Progress,
	// its rows in Applied.Run only: the export half of a manual sync
	// finishes it (ExportOptions.RunID and PriorRows), so that nobody sees
	// it end before it has.
	KeepOpen bool
}

// Apply fetches ref, plans it with Git winning first syncs, applies the
// git → system half and records a run with trigger and the event payload.
// A plan that changes the system is recorded In Progress before anything
// is applied, and finished even when the apply fails part-way. A plan with
// nothing to report (the bot's own export commit, a comment-only edit)
// records no run unless the trigger is manual: Applied.Run is then nil.
//
// A problem the run only carries over (an invalid, blocked, skipped or
// ignored file unchanged since the commit the stage last applied; a
// conflict an earlier run found, still open) is a row with the outcome
// Unchanged, which neither makes the run Failed nor, alone, records one.
// A new conflict is put on a branch of its own (see Conflict).
func (r *Runner) Apply(ctx context.Context, st Stage, ref, trigger string, payload []byte) (*Applied, error) {
	return r.ApplyWith(ctx, st, ref, trigger, payload, ApplyOptions{})
}

// MarkMoved makes every change of p that would apply Git to a resource
// of moved (the system changed it after the plan people reviewed) a
// conflict, whose reason is what moved: neither side is overwritten.
func MarkMoved(p *reconcile.Plan, moved map[spec.Key]string) {
	if len(moved) == 0 {
		return
	}
	for _, c := range p.Changes {
		why, ok := moved[c.Key]
		if ok && (c.Action == reconcile.Create || c.Action == reconcile.Update || c.Action == reconcile.Delete) {
			c.Action, c.Diff, c.Reason = reconcile.Conflict, nil, why
		}
	}
}

// appliedPosition names the stored commit a stage last applied.
func appliedPosition(stageID string) string { return "applied:" + stageID }

// ApplyWith is Apply with options.
func (r *Runner) ApplyWith(ctx context.Context, st Stage, ref, trigger string, payload []byte, opt ApplyOptions) (*Applied, error) {
	defer r.lock(st.ID())()
	sys := r.readSystem(ctx, st, st.ID()) // while Git fetches
	repo, sha, err := r.fetch(ctx, st.Source.URL, ref)
	if err == nil && ref == sha && ref != st.Source.Revision {
		sha, err = r.tip(ctx, st, repo, sha)
	}
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
	open, err := openConflicts(ctx, r.DB, st.ID())
	if err != nil {
		return nil, err
	}
	gate := conflictGate{open: open}
	for _, c := range planned.Plan.Changes {
		gate.blocks(c, reconcile.Create, reconcile.Update, reconcile.Delete)
	}
	MarkMoved(planned.Plan, opt.Moved)
	carried := r.carriedPaths(ctx, repo, st, sha)
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
	var fresh []*reconcile.Change
	for i := range rows {
		row := &rows[i]
		k := spec.Key{Kind: row.Kind, Project: row.Project, Name: row.Name}
		switch row.Action {
		case string(reconcile.Conflict):
			if cf, open := gate.carried(k); open {
				row.Outcome, row.Message = Unchanged, carriedMessage(cf)
			}
		case string(reconcile.Invalid), string(reconcile.Blocked), string(reconcile.Skip), string(reconcile.Ignored):
			if carried(row.Path) {
				row.Outcome = Unchanged
			}
		}
	}
	for _, c := range planned.Plan.Changes {
		if _, open := gate.carried(c.Key); c.Action == reconcile.Conflict && !open {
			fresh = append(fresh, c)
		}
	}
	if id == 0 && countNew(rows) > 0 && err == nil {
		if id, err = r.Runs.Start(ctx, st.PipelineName(), trigger, sha, payload); err != nil {
			return nil, err
		}
	}
	if id == 0 {
		if err != nil {
			return nil, fmt.Errorf("apply %s at %s: %w", st.ID(), sha, err)
		}
		if len(open) > 0 {
			r.agreed(ctx, st.ID(), gate, planned.Plan, 0)
		}
		r.appliedAt(ctx, st, sha)
		return &Applied{Planned: planned, Results: results}, nil
	}
	if err == nil && len(fresh) > 0 {
		var note string
		auth, aerr := r.auth(ctx, st.Source.URL)
		if aerr == nil {
			note, aerr = r.pushConflicts(ctx, repo, auth, st, st.Source, st.ID(), sha, id, fresh)
		}
		if aerr != nil {
			note = "the system's version could not be put on a branch: " + firstLine(aerr.Error())
			r.Log.Warn("conflict branch not pushed", "stage", st.ID(), "run", id, "err", aerr)
		}
		for i := range rows {
			if rows[i].Action == string(reconcile.Conflict) && rows[i].Outcome != Unchanged {
				rows[i].Message = joinMessage(rows[i].Message, note)
			}
		}
	}
	if err == nil && len(open) > 0 {
		r.agreed(ctx, st.ID(), gate, planned.Plan, id)
	}
	status := StatusOf(rows)
	msg := ""
	if err != nil {
		status, msg = StatusFailed, err.Error()
	}
	if err == nil && opt.KeepOpen {
		r.appliedAt(ctx, st, sha)
		run, err := r.Runs.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		run.Rows = rows
		return &Applied{Run: run, Planned: planned, Results: results}, nil
	}
	if ferr := r.Runs.Finish(context.WithoutCancel(ctx), id, status, sha, msg, rows); ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	if err != nil {
		return nil, fmt.Errorf("apply %s at %s: %w", st.ID(), sha, err)
	}
	r.appliedAt(ctx, st, sha)
	run, err := r.Runs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	r.Log.Info("applied", "stage", st.ID(), "commit", sha, "run", id, "status", status, "rows", len(rows))
	return &Applied{Run: run, Planned: planned, Results: results}, nil
}

// carriedPaths returns whether a path is unchanged between the commit
// the stage last applied and sha: what a problem of that file only
// carries over. With no such commit (the stage's first apply), or one that
// cannot be read, every path counts as changed. The commits are compared
// when it is first asked, so a run with no problem to judge compares none.
func (r *Runner) carriedPaths(ctx context.Context, repo *gitrepo.Repo, st Stage, sha string) func(path string) bool {
	carried := sync.OnceValue(func() func(string) bool { return r.readCarried(ctx, repo, st, sha) })
	return func(path string) bool { return carried()(path) }
}

// readCarried is carriedPaths' answer, read now.
func (r *Runner) readCarried(ctx context.Context, repo *gitrepo.Repo, st Stage, sha string) func(path string) bool {
	none := func(string) bool { return false }
	last, err := r.DB.Position(ctx, appliedPosition(st.ID()))
	if err != nil || last == "" || sha == "" {
		return none
	}
	if last == sha {
		return func(string) bool { return true }
	}
	paths, err := repo.ChangedPaths(ctx, last, sha)
	if err != nil {
		r.Log.Debug("the commit last applied is not readable: every problem counts as new", "stage", st.ID(), "commit", last, "err", err)
		return none
	}
	changed := make(map[string]bool, len(paths))
	for _, p := range paths {
		changed[p] = true
	}
	return func(path string) bool { return path != "" && !changed[path] && !changedUnder(changed, path) }
}

// changedUnder reports whether a path below path changed (a row's path
// may be a folder: an odd tree entry, a misspelt kind folder).
func changedUnder(changed map[string]bool, path string) bool {
	for p := range changed {
		if strings.HasPrefix(p, path+"/") {
			return true
		}
	}
	return false
}

// appliedAt stores sha as the commit the stage last applied.
func (r *Runner) appliedAt(ctx context.Context, st Stage, sha string) {
	if sha == "" {
		return
	}
	if err := r.DB.SetPosition(context.WithoutCancel(ctx), appliedPosition(st.ID()), sha); err != nil {
		r.Log.Warn("the commit applied was not recorded: the next run counts its problems as new", "stage", st.ID(), "err", err)
	}
}

// countNew is how many rows report something this run did or found.
func countNew(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.Outcome != Unchanged {
			n++
		}
	}
	return n
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
