package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// Conflict is a resource a run found changed in Git and in the system
// since the last sync, differently: neither side was overwritten, and the
// system's version went to Branch for people to decide. It stays open, and
// the resource syncs neither way, until it is resolved: by merging the
// branch's pull request (the system's version is kept), closing it
// unmerged (Git's version is applied to the system), POST
// /api/runs/{id}/conflicts/{kind}/{project}/{name}, or both sides coming
// to agree.
type Conflict struct {
	Kind    string `json:"kind"`
	Project string `json:"project,omitempty"`
	Name    string `json:"name"`
	Path    string `json:"path"`  // the file, repository-relative
	Stage   string `json:"stage"` // project/pipeline/stage
	// Branch holds the system's version ("" when there was nothing to
	// show: the system's version could not be written to Git).
	Branch string `json:"branch,omitempty"`
	// Resolution is how the conflict was resolved; nil while it is open.
	Resolution *Resolution `json:"resolution,omitempty"`

	run   int64
	state string // the sync state the conflict is in: the stage's, or its destination's
	repo  string // the remote Branch is on
}

// Key is the conflicting resource's key.
func (c Conflict) Key() spec.Key { return spec.Key{Kind: c.Kind, Project: c.Project, Name: c.Name} }

// Run is the id of the run that found the conflict.
func (c Conflict) Run() int64 { return c.run }

// Which side a resolution keeps.
const (
	KeepGit    = "git"    // Git's version was applied to the system
	KeepSystem = "system" // the system's version was written to Git
	KeepAgreed = "agreed" // both sides came to hold the same content
)

// Resolution is how a conflict ended.
type Resolution struct {
	Keep string    `json:"keep"`          // KeepGit, KeepSystem or KeepAgreed
	By   string    `json:"by,omitempty"`  // who: an email, or a GitHub login
	Via  string    `json:"via"`           // how: "pull request #12 closed unmerged", "API", …
	At   time.Time `json:"at"`            // when
	Run  int64     `json:"run,omitempty"` // the run that carried it out
}

// Errors of Resolve, for callers to answer with.
var (
	ErrConflictNotFound = errors.New("conflict not found")
	ErrConflictResolved = errors.New("conflict already resolved")
	ErrCannotResolve    = errors.New("conflict cannot be resolved so")
)

const conflictColumns = `run_id, kind, project, name, path, stage, state, repository, branch, keep, resolved_by, resolved_via, resolved_at, resolved_run`

func scanConflict(s scanner) (Conflict, error) {
	var c Conflict
	var keep, by, via, at string
	var run int64
	if err := s.Scan(&c.run, &c.Kind, &c.Project, &c.Name, &c.Path, &c.Stage, &c.state, &c.repo, &c.Branch, &keep, &by, &via, &at, &run); err != nil {
		return c, err
	}
	if keep != "" {
		t, _ := time.Parse(time.RFC3339Nano, at)
		c.Resolution = &Resolution{Keep: keep, By: by, Via: via, At: t, Run: run}
	}
	return c, nil
}

func queryConflicts(ctx context.Context, db *store.DB, where string, args ...any) ([]Conflict, error) {
	rows, err := db.Query(ctx, `SELECT `+conflictColumns+` FROM run_conflicts WHERE `+where+` ORDER BY run_id, kind, project, name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		c, err := scanConflict(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Conflicts returns the conflicts run id found, with their resolutions.
func (r *Runs) Conflicts(ctx context.Context, id int64) ([]Conflict, error) {
	out, err := queryConflicts(ctx, r.db, `run_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read the conflicts of run %d: %w", id, err)
	}
	return out, nil
}

// openConflicts returns the open conflicts in the sync state named state, by key.
func openConflicts(ctx context.Context, db *store.DB, state string) (map[spec.Key][]Conflict, error) {
	list, err := queryConflicts(ctx, db, `state = ? AND keep = ''`, state)
	if err != nil {
		return nil, fmt.Errorf("read the open conflicts of %s: %w", state, err)
	}
	out := map[spec.Key][]Conflict{}
	for _, c := range list {
		out[c.Key()] = append(out[c.Key()], c)
	}
	return out, nil
}

// recordConflicts stores the conflicts run id found and put on branch of repo.
func recordConflicts(ctx context.Context, db *store.DB, id int64, st Stage, state, repo, branch string, changes []*reconcile.Change) error {
	return db.InTx(ctx, func(tx *store.Tx) error {
		for _, c := range changes {
			_, err := tx.Exec(ctx, `INSERT INTO run_conflicts (`+conflictColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '', '', 0)
				ON CONFLICT (run_id, kind, project, name) DO UPDATE SET branch = excluded.branch, repository = excluded.repository`,
				id, c.Key.Kind, c.Key.Project, c.Key.Name, c.Path, st.ID(), state, repo, branch)
			if err != nil {
				return fmt.Errorf("record the conflict of %s in run %d: %w", c.Key, id, err)
			}
		}
		return nil
	})
}

// closeConflicts marks every open conflict of k in state resolved as res,
// and returns them.
func closeConflicts(ctx context.Context, db *store.DB, state string, k spec.Key, res Resolution) ([]Conflict, error) {
	var out []Conflict
	err := db.InTx(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE run_conflicts SET keep = ?, resolved_by = ?, resolved_via = ?, resolved_at = ?, resolved_run = ?
			WHERE state = ? AND kind = ? AND project = ? AND name = ? AND keep = '' RETURNING `+conflictColumns,
			res.Keep, res.By, res.Via, stamp(res.At), res.Run, state, k.Kind, k.Project, k.Name)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			c, err := scanConflict(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("resolve the conflicts of %s in %s: %w", k, state, err)
	}
	return out, nil
}

// ConflictsOnBranch returns the conflicts put on branch of the repository
// known by repoURLs (any URL of it), open or resolved.
func (r *Runs) ConflictsOnBranch(ctx context.Context, repoURLs []string, branch string) ([]Conflict, error) {
	list, err := queryConflicts(ctx, r.db, `branch = ?`, branch)
	if err != nil {
		return nil, fmt.Errorf("read the conflicts on %s: %w", branch, err)
	}
	want := map[string]bool{}
	for _, u := range repoURLs {
		if u != "" {
			want[NormalizeURL(u)] = true
		}
	}
	var out []Conflict
	for _, c := range list {
		if want[NormalizeURL(c.repo)] {
			out = append(out, c)
		}
	}
	return out, nil
}

// conflictOf is the conflict of req.Key that run req.Run found;
// ErrConflictNotFound when there is none.
func (r *Runner) conflictOf(ctx context.Context, req ResolveRequest) (Conflict, error) {
	list, err := queryConflicts(ctx, r.DB, `run_id = ? AND kind = ? AND project = ? AND name = ?`, req.Run, req.Key.Kind, req.Key.Project, req.Key.Name)
	if err != nil {
		return Conflict{}, fmt.Errorf("read the conflict of %s in run %d: %w", req.Key, req.Run, err)
	}
	if len(list) == 0 {
		return Conflict{}, fmt.Errorf("%w: run %d has no conflict of %s", ErrConflictNotFound, req.Run, req.Key)
	}
	return list[0], nil
}

// RecordResolution records that the conflict of req.Key found by run
// req.Run was resolved as req says by what people did in Git (a conflict
// pull request merged: the merge's push brings the system's version to
// Git, and its run records the sync state): every open conflict of the
// resource in that sync state is closed, with no run of its own, and their
// branches are deleted. A conflict the merge's run found in agreement
// already (KeepAgreed) is given req's resolution.
func (r *Runner) RecordResolution(ctx context.Context, req ResolveRequest) error {
	cf, err := r.conflictOf(ctx, req)
	if err != nil {
		return err
	}
	if cf.Resolution != nil {
		if cf.Resolution.Keep != KeepAgreed {
			return nil
		}
		_, err := r.DB.Exec(ctx, `UPDATE run_conflicts SET keep = ?, resolved_by = ?, resolved_via = ?
			WHERE state = ? AND kind = ? AND project = ? AND name = ? AND keep = ? AND resolved_run = ?`,
			req.Keep, req.By, req.Via, cf.state, req.Key.Kind, req.Key.Project, req.Key.Name, KeepAgreed, cf.Resolution.Run)
		if err != nil {
			return fmt.Errorf("record the resolution of %s in run %d: %w", req.Key, req.Run, err)
		}
		return nil
	}
	closed, err := closeConflicts(ctx, r.DB, cf.state, req.Key, Resolution{Keep: req.Keep, By: req.By, Via: req.Via, At: time.Now()})
	if err != nil {
		return err
	}
	r.deleteBranches(ctx, closed)
	r.Log.Info("conflict resolved", "run", req.Run, "key", req.Key.String(), "keep", req.Keep, "by", req.By, "via", req.Via)
	return nil
}

// ConflictBranch is the branch on which run id puts the system's version
// of the resources in conflict.
func ConflictBranch(id int64) string { return fmt.Sprintf("systemsync/conflict-%d", id) }

// ConflictRun returns the run id of a conflict branch's name, or false.
func ConflictRun(branch string) (int64, bool) {
	s, ok := strings.CutPrefix(branch, "systemsync/conflict-")
	if !ok {
		return 0, false
	}
	var id int64
	if _, err := fmt.Sscanf(s, "%d", &id); err != nil || id <= 0 || fmt.Sprint(id) != s {
		return 0, false
	}
	return id, true
}

// pushConflicts puts the system's versions of conflicts (found by run id,
// in the sync state state of the side of st at base) on the branch
// ConflictBranch(id) of side (a pull request on GitHub, with r.Open) for
// people to decide, and records them with the run. Neither side is
// overwritten. It returns what the conflicts' rows say of it.
func (r *Runner) pushConflicts(ctx context.Context, repo *gitrepo.Repo, auth gitrepo.Auth, st Stage, side RepoRef, state, base string, id int64, conflicts []*reconcile.Change) (string, error) {
	branch := ConflictBranch(id)
	files := conflictFiles(ctx, repo, base, conflicts)
	now := time.Now()
	sig := gitrepo.Signature{Name: r.Bot.Name, Email: r.Bot.Email, When: now}
	msg := fmt.Sprintf("System Sync: the system's version of %d resource(s) in conflict\n\n"+
		"These resources changed in Git and in the system since the last sync, differently.\n"+
		"Merge this branch to keep the system's version; close it unmerged to keep Git's.\n\n"+
		"Systemsync-Run: %d\n", len(conflicts), id)
	note := "the system's version is on branch " + branch
	sha, err := "", error(nil)
	if len(files) > 0 {
		sha, err = repo.Commit(ctx, base, files, sig, sig, msg)
	}
	switch {
	case len(files) == 0 || errors.Is(err, gitrepo.ErrNoChanges):
		return "no difference left to show on a branch", recordConflicts(ctx, r.DB, id, st, state, side.URL, "", conflicts)
	case err != nil:
		return "", err
	}
	// Recorded before the branch is seen: its pull request may be closed at once.
	if err := recordConflicts(ctx, r.DB, id, st, state, side.URL, branch, conflicts); err != nil {
		return "", err
	}
	if err := repo.Push(ctx, auth, sha, branch, true); err != nil {
		if rerr := recordConflicts(ctx, r.DB, id, st, state, side.URL, "", conflicts); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return "", err
	}
	if r.Open != nil {
		if err := r.Open(ctx, side, branch, firstLine(msg), msg); err != nil {
			return "", err
		}
	}
	return note, nil
}

// conflictFiles are the system's versions of the changes in conflict, as
// their files would be written (a deleted one as the file's deletion); a
// version holding a clear-text secret is left out.
func conflictFiles(ctx context.Context, repo *gitrepo.Repo, base string, conflicts []*reconcile.Change) []gitrepo.FileChange {
	var out []gitrepo.FileChange
	for _, c := range conflicts {
		if c.System() == nil {
			out = append(out, gitrepo.FileChange{Path: c.Path, Delete: true})
			continue
		}
		if len(spec.Secrets(&spec.Resource{Object: c.System()})) > 0 {
			continue
		}
		var existing []byte
		if base != "" {
			existing, _ = repo.ReadFile(ctx, base, c.Path)
		}
		if data, err := spec.Update(existing, spec.Canonical(c.System())); err == nil {
			out = append(out, gitrepo.FileChange{Path: c.Path, Data: data})
		}
	}
	return out
}

// conflictGate is what a run knows of the open conflicts of the sync state
// it plans: a resource with an open conflict syncs neither way until it is
// resolved, and its row says so rather than counting as this run's
// problem.
type conflictGate struct {
	open map[spec.Key][]Conflict
}

// blocks reports whether c, a change the plan would carry out, must wait
// for an open conflict of its key; it turns c into that conflict.
func (g conflictGate) blocks(c *reconcile.Change, actions ...reconcile.Action) bool {
	open := g.open[c.Key]
	if len(open) == 0 {
		return false
	}
	for _, a := range actions {
		if c.Action == a {
			c.Action, c.Diff = reconcile.Conflict, nil
			c.Reason = "in conflict since run " + fmt.Sprint(open[0].run) + "; resolve the conflict first"
			return true
		}
	}
	return false
}

// carried reports whether a conflict of k was found by an earlier run and is still open.
func (g conflictGate) carried(k spec.Key) (Conflict, bool) {
	open := g.open[k]
	if len(open) == 0 {
		return Conflict{}, false
	}
	return open[len(open)-1], true
}

// carriedMessage is the row message of a conflict an earlier run found.
func carriedMessage(c Conflict) string {
	msg := fmt.Sprintf("still in conflict since run %d", c.run)
	if c.Branch != "" {
		msg += "; the system's version is on branch " + c.Branch
	}
	return msg
}

// agreed closes the open conflicts of the keys the plan finds in agreement
// again (no-op or record: both sides hold the same content), as KeepAgreed.
func (r *Runner) agreed(ctx context.Context, state string, g conflictGate, p *reconcile.Plan, runID int64) {
	for _, c := range p.Changes {
		if len(g.open[c.Key]) == 0 || (c.Action != reconcile.NoOp && c.Action != reconcile.Record) {
			continue
		}
		if c.System() == nil && c.Desired() == nil && c.Action == reconcile.NoOp {
			continue // not in this plan's view
		}
		closed, err := closeConflicts(ctx, r.DB, state, c.Key, Resolution{Keep: KeepAgreed, Via: "Git and the system hold the same content again", At: time.Now(), Run: runID})
		if err != nil {
			r.Log.Warn("close an ended conflict", "state", state, "key", c.Key.String(), "err", err)
			continue
		}
		r.deleteBranches(ctx, closed)
	}
}

// deleteBranches deletes the branches of closed conflicts that hold no
// open conflict any more. A branch that cannot be deleted is logged: it
// holds nothing that matters now.
func (r *Runner) deleteBranches(ctx context.Context, closed []Conflict) {
	done := map[string]bool{}
	for _, c := range closed {
		if c.Branch == "" || done[c.repo+" "+c.Branch] {
			continue
		}
		done[c.repo+" "+c.Branch] = true
		var open int
		if err := r.DB.QueryRow(ctx, `SELECT COUNT(*) FROM run_conflicts WHERE repository = ? AND branch = ? AND keep = ''`, c.repo, c.Branch).Scan(&open); err != nil || open > 0 {
			continue
		}
		err := r.deleteBranch(ctx, c.repo, c.Branch)
		if err != nil {
			r.Log.Warn("the resolved conflict's branch was not deleted", "branch", c.Branch, "remote", gitrepo.RedactURL(c.repo), "err", err)
			continue
		}
		r.Log.Info("deleted the resolved conflict's branch", "branch", c.Branch, "remote", gitrepo.RedactURL(c.repo))
	}
}

func (r *Runner) deleteBranch(ctx context.Context, remote, branch string) error {
	repo, err := r.Git.Repo(ctx, remote)
	if err != nil {
		return err
	}
	auth, err := r.auth(ctx, remote)
	if err != nil {
		return err
	}
	return repo.DeleteBranch(ctx, auth, branch)
}

// ResolveRequest asks to resolve the conflict of Key found by run Run.
type ResolveRequest struct {
	Run  int64
	Key  spec.Key
	Keep string // KeepGit or KeepSystem
	By   string // who: an email, or a GitHub login
	Via  string // how: "API", "pull request #12 closed unmerged"
	// Trigger and Payload are the resolving run's (Manually Triggered
	// for the API, Webhook for a pull request); Payload is JSON.
	Trigger string
	Payload []byte
}

// Resolve ends an open conflict as req asks, as a run of its own: KeepGit
// applies Git's version (the stage's branch as it is now) to the system,
// KeepSystem writes the system's version to that branch in a commit
// (author req.By when it is an email, committer the bot). Either records
// the sync state, so that the next run finds both sides in agreement,
// closes every open conflict of the resource in that sync state, and
// deletes their branches once no open conflict is left on them. It returns
// the resolving run. An unknown conflict is ErrConflictNotFound, a closed
// one ErrConflictResolved, a version that cannot be applied or written
// ErrCannotResolve.
func (r *Runner) Resolve(ctx context.Context, req ResolveRequest) (*Run, error) {
	if req.Keep != KeepGit && req.Keep != KeepSystem {
		return nil, fmt.Errorf("%w: keep must be %q or %q, not %q", ErrCannotResolve, KeepGit, KeepSystem, req.Keep)
	}
	cf, err := r.conflictOf(ctx, req)
	if err != nil {
		return nil, err
	}
	if cf.Resolution != nil {
		return nil, fmt.Errorf("%w: the conflict of %s in run %d was resolved (%s) by %s via %s", ErrConflictResolved, req.Key, req.Run, cf.Resolution.Keep, cf.Resolution.By, cf.Resolution.Via)
	}
	stages, _, err := r.LoadStages(ctx)
	if err != nil {
		return nil, err
	}
	var st Stage
	found := false
	for _, s := range stages {
		if s.ID() == cf.Stage {
			st, found = s, true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: the stage %s of the conflict is no longer an active SystemSync stage", ErrCannotResolve, cf.Stage)
	}
	side := st.Source
	if cf.state != st.ID() {
		side = st.Dest
	}
	if req.Keep == KeepSystem && !st.SystemToGit {
		return nil, fmt.Errorf("%w: stage %s does not write to Git (systemToGitSync is off): keep git, or change the file in Git", ErrCannotResolve, st.ID())
	}
	defer r.lock(st.ID())()
	var id int64 // the resolving run, started once the resolution is known to be possible
	fail := func(err error) (*Run, error) {
		if id != 0 {
			_ = r.Runs.Finish(context.WithoutCancel(ctx), id, StatusFailed, "", err.Error(), nil)
		}
		return nil, err
	}
	var rows []Row
	var commit string
	for try := 1; ; try++ {
		repo, sha, err := r.fetch(ctx, side.URL, side.Revision)
		if err != nil && !errors.Is(err, gitrepo.ErrRefNotFound) {
			return fail(err)
		}
		planned, err := r.planAt(ctx, st, repo, sha, side.Path, cf.state, reconcile.GitWins)
		if err != nil {
			return fail(err)
		}
		var c *reconcile.Change
		for _, ch := range planned.Plan.Changes {
			if ch.Key == req.Key {
				c = ch
			}
		}
		var do func() error
		switch {
		case c == nil: // neither side holds it any more
			do = func() error { return NewSyncState(r.DB, cf.state).Remove(ctx, req.Key) }
		case req.Keep == KeepGit:
			if err := canKeepGit(c); err != nil {
				return fail(err)
			}
			do = func() (err error) { rows, err = r.keepGit(ctx, cf, c); return err }
		default:
			out, err := systemFile(ctx, repo, sha, c)
			if err != nil {
				return fail(err)
			}
			do = func() (err error) {
				sha, rows, err = r.keepSystem(ctx, repo, side, cf, c, out, sha, id, req)
				return err
			}
		}
		if id == 0 {
			if id, err = r.Runs.Start(ctx, st.PipelineName(), req.Trigger, sha, req.Payload); err != nil {
				return nil, err
			}
		}
		err = do()
		if errors.Is(err, gitrepo.ErrNonFastForward) && try < maxPushTries {
			continue // someone pushed meanwhile: again on the new tip
		}
		if err != nil {
			return fail(err)
		}
		commit = sha
		break
	}
	closed, err := closeConflicts(ctx, r.DB, cf.state, req.Key, Resolution{Keep: req.Keep, By: req.By, Via: req.Via, At: time.Now(), Run: id})
	if err != nil {
		return fail(err)
	}
	if err := r.Runs.Finish(context.WithoutCancel(ctx), id, StatusOf(rows), commit, "", rows); err != nil {
		return nil, err
	}
	r.deleteBranches(ctx, closed)
	r.Log.Info("conflict resolved", "run", req.Run, "key", req.Key.String(), "keep", req.Keep, "by", req.By, "via", req.Via, "resolving_run", id)
	return r.Runs.Get(ctx, id)
}

// canKeepGit says why Git's version of c cannot be applied, if it cannot.
func canKeepGit(c *reconcile.Change) error {
	switch {
	case c.Action == reconcile.Invalid || c.Action == reconcile.Blocked:
		return fmt.Errorf("%w: Git's version of %s cannot be applied: %s", ErrCannotResolve, c.Key, spec.ProblemsText(c.Problems))
	case c.Action == reconcile.Ignored:
		return fmt.Errorf("%w: %s is outside the stage: %s", ErrCannotResolve, c.Key, c.Reason)
	case c.Desired() != nil:
		if skip := spec.GitSyncSkip(c.Desired()); skip != "" {
			return fmt.Errorf("%w: %s", ErrCannotResolve, skip)
		}
	}
	return nil
}

// systemFile is the system's version of c as its file (nil: the file's
// deletion), or why it cannot be written to Git.
func systemFile(ctx context.Context, repo *gitrepo.Repo, base string, c *reconcile.Change) (*renderedFile, error) {
	if c.System() == nil {
		return nil, nil
	}
	out := renderFile(ctx, repo, base, c, c.SystemHash(), nil) // no sealing on a conflict branch: a secret is refused
	if out.failed != "" {
		return nil, fmt.Errorf("%w: the system's version of %s cannot be written to Git: %s", ErrCannotResolve, c.Key, out.failed)
	}
	return &out, nil
}

// keepGit applies Git's version of c (its file, or its absence) to the
// system and records the sync state.
func (r *Runner) keepGit(ctx context.Context, cf Conflict, c *reconcile.Change) ([]Row, error) {
	msg := fmt.Sprintf("the conflict of run %d resolved: Git's version kept", cf.run)
	switch {
	case c.Desired() != nil:
		c.Action = reconcile.Update
		if c.System() == nil {
			c.Action = reconcile.Create
		}
	case c.System() != nil:
		c.Action = reconcile.Delete
	default:
		return nil, NewSyncState(r.DB, cf.state).Remove(ctx, c.Key)
	}
	results, err := reconcile.ApplyToSystem(ctx, &reconcile.Plan{Changes: []*reconcile.Change{c}}, r.System, NewSyncState(r.DB, cf.state))
	if err != nil {
		return nil, err
	}
	rows := RowsOf(results)
	for i := range rows {
		if rows[i].Outcome == string(reconcile.Failed) {
			return nil, fmt.Errorf("%w: the system refused Git's version of %s: %s", ErrCannotResolve, c.Key, rows[i].Message)
		}
		rows[i].Message = joinMessage(msg, rows[i].Message)
	}
	return rows, nil
}

// keepSystem writes the system's version of c (out, or the file's deletion
// when out is nil) to side's branch at base in a commit of run id, pushes
// it and records the sync state.
func (r *Runner) keepSystem(ctx context.Context, repo *gitrepo.Repo, side RepoRef, cf Conflict, c *reconcile.Change, out *renderedFile, base string, id int64, req ResolveRequest) (string, []Row, error) {
	auth, err := r.auth(ctx, side.URL)
	if err != nil {
		return "", nil, err
	}
	file := gitrepo.FileChange{Path: c.Path, Delete: true}
	state := StateChange{Key: c.Key, Remove: true}
	row := Row{Kind: c.Key.Kind, Project: c.Key.Project, Name: c.Key.Name, Path: c.Path, Action: string(reconcile.ExportDelete),
		Outcome: string(reconcile.Applied), Message: fmt.Sprintf("the conflict of run %d resolved: the system's version kept", cf.run)}
	if out != nil {
		file = gitrepo.FileChange{Path: c.Path, Data: out.data}
		state = StateChange{Key: c.Key, State: reconcile.State{Path: c.Path, GitHash: out.hash, SystemHash: out.hash}}
		row.Action = string(reconcile.Export)
	}
	author := r.Bot
	if strings.Contains(req.By, "@") {
		author = Identity{Name: req.By, Email: req.By}
	}
	now := time.Now()
	msg := fmt.Sprintf("Resolve the conflict of %s/%s: keep the system's version\n\nThe conflict of run %d, resolved by %s via %s.\n\nSystemsync-Run: %d\n",
		c.Key.Kind, c.Key.Name, cf.run, orUnknown(req.By), req.Via, id)
	sha, err := repo.Commit(ctx, base, []gitrepo.FileChange{file}, gitrepo.Signature{Name: author.Name, Email: author.Email, When: now},
		gitrepo.Signature{Name: r.Bot.Name, Email: r.Bot.Email, When: now}, msg)
	switch {
	case errors.Is(err, gitrepo.ErrNoChanges):
		sha = base
	case err != nil:
		return "", nil, err
	default:
		if err := repo.Push(ctx, auth, sha, side.Revision, false); err != nil {
			if errors.Is(err, gitrepo.ErrPushRejected) {
				return "", nil, fmt.Errorf("%w: the push to %s was refused: %v", ErrCannotResolve, side.Revision, err)
			}
			return "", nil, err
		}
	}
	if err := NewSyncState(r.DB, cf.state).SaveAll(ctx, []StateChange{state}); err != nil {
		return "", nil, err
	}
	return sha, []Row{row}, nil
}

func joinMessage(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func orUnknown(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}
