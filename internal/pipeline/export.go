package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/gitrepo"
	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/parallel"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// Change is one change the system made, as its event log tells it.
type Change struct {
	Key  spec.Key
	Type string // Create, Update or Delete
	User string // who made it (email); "" when unknown or the bot
	Own  bool   `json:",omitempty"` // the bot's own apply of a Git change
}

// Identity is who the bot commits as.
type Identity struct {
	Name  string
	Email string
}

// Exported is the outcome of an export run.
type Exported struct {
	Run    *Run
	Commit string // the commit pushed, "" when nothing was written
	Branch string // where it was pushed
	Review bool   // pushed to a review branch instead of the stage's branch
}

// ExportOptions are the less common settings of an export.
type ExportOptions struct {
	Open      ReviewOpener // opens a pull request for a review branch; nil leaves the branch
	Bot       Identity     // the committer
	RunID     int64        // record into this run (a manual sync's), not a new one
	PriorRows []Row        // that run's rows so far
}

// ReviewOpener opens a pull request for a review branch (GitHub); nil for
// plain Git, where the branch is left for people to merge.
type ReviewOpener func(ctx context.Context, st Stage, branch, title, body string) error

// maxPushTries bounds how often a non-fast-forward push is retried on the new tip.
const maxPushTries = 5

// Export writes the system's changes of the stage's scope to its
// destination branch in one commit: changed resources are edited in place
// (spec.Update keeps comments and key order), deleted ones removed, new
// ones written Rafay-style, each project's .gitkeep restored. The author is
// the user who made the changes (the latest, others as Co-authored-by), the
// committer the bot, with a Systemsync-Run trailer. A push that is not a
// fast-forward is retried on the new tip; one the remote refuses, or a
// stage that asks for review, goes to the branch systemsync/<run id>
// (opened as a pull request by open, when set). A resource holding a
// clear-text secret is not written: its row fails and points at the Secret
// Sealer. Nothing to write records no run (unless the trigger is manual).
func (r *Runner) Export(ctx context.Context, st Stage, trigger string, changes []Change, opt ExportOptions) (*Exported, error) {
	defer r.lock(st.ID())()
	defer func(t0 time.Time) { r.Metrics.Stage(metrics.StepExport, time.Since(t0)) }(time.Now())
	repo, err := r.Git.Repo(ctx, st.Dest.URL)
	if err != nil {
		return nil, err
	}
	auth, err := r.auth(ctx, st.Dest.URL)
	if err != nil {
		return nil, err
	}
	open, bot := opt.Open, opt.Bot
	payload, _ := json.Marshal(map[string]any{"changes": changes})
	if opt.RunID == 0 { // a manual sync's run was gated by its apply
		var g *gateResult
		if ctx, g = r.gate(ctx, st, trigger, payload, nil); g.stopped() {
			run, err := r.stopRun(ctx, st, trigger, "", g)
			return &Exported{Run: run}, err
		}
		payload = g.payload
	}
	id := opt.RunID
	start := func(sha string) error {
		if id != 0 {
			return nil
		}
		id, err = r.Runs.Start(ctx, st.PipelineName(), trigger, sha, payload)
		return err
	}
	if trigger == TriggerManual {
		if err := start(""); err != nil {
			return nil, err
		}
	}
	steps := newStepTimer()
	defer func() { r.Log.Debug("export steps", append([]any{"stage", st.ID(), "run", id}, steps.attrs()...)...) }()
	for try := 1; ; try++ {
		base, err := repo.Fetch(ctx, auth, st.Dest.Revision)
		if err != nil && !errors.Is(err, gitrepo.ErrRefNotFound) {
			if id != 0 { // a manual run, recorded already
				return r.failExport(ctx, id, "", opt.PriorRows, err)
			}
			return nil, err
		}
		steps.done("fetch")
		planned, err := r.planAt(ctx, st, repo, base, st.Dest.Path, st.DestStateID(), reconcile.SystemWins)
		if err != nil {
			return nil, err
		}
		steps.done("plan")
		files, rows, saves := r.exportFiles(ctx, repo, base, planned, trigger == TriggerManual)
		steps.done("render")
		if art, err := r.artifactFiles(ctx, st, repo, base, planned, files, trigger == TriggerManual); err != nil {
			r.Log.Warn("artifacts not copied to the destination; a manual run copies them", "stage", st.ID(), "err", err)
		} else {
			files = append(files, art...)
		}
		rows = append(append([]Row(nil), opt.PriorRows...), rows...)
		conflicts := conflictFiles(ctx, repo, base, planned, changes)
		if len(conflicts) > 0 {
			if err := start(base); err != nil {
				return nil, err
			}
			if msg, err := r.pushConflicts(ctx, repo, auth, st, base, id, conflicts, opt); err != nil {
				return r.failExport(ctx, id, base, rows, err)
			} else {
				for i := range rows {
					if rows[i].Action == string(reconcile.Conflict) {
						rows[i].Message += "; " + msg
					}
				}
			}
		}
		if len(files) == 0 && len(rows) == 0 {
			if id == 0 {
				return &Exported{}, nil
			}
			return r.finishExport(ctx, id, base, "", rows, &Exported{})
		}
		if err := start(base); err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return r.finishExport(ctx, id, base, "", rows, &Exported{})
		}
		author := authorOf(changes, bot)
		now := time.Now()
		msg := commitMessage(trigger, withPlanned(changes, planned), rows, id, bot)
		sha, err := repo.Commit(ctx, base, files, gitrepo.Signature{Name: author.Name, Email: author.Email, When: now},
			gitrepo.Signature{Name: bot.Name, Email: bot.Email, When: now}, msg)
		steps.done("commit")
		if errors.Is(err, gitrepo.ErrNoChanges) {
			return r.finishExport(ctx, id, base, "", rows, &Exported{})
		}
		if err != nil {
			return r.failExport(ctx, id, base, rows, err)
		}
		out := &Exported{Commit: sha, Branch: st.Dest.Revision}
		if !st.Review {
			err = repo.Push(ctx, auth, sha, st.Dest.Revision, false)
			if errors.Is(err, gitrepo.ErrNonFastForward) && try < maxPushTries {
				continue // someone pushed meanwhile: plan again on the new tip
			}
		}
		if st.Review || errors.Is(err, gitrepo.ErrPushRejected) {
			reason := "the pipeline asks for review"
			if err != nil {
				reason = "the push to " + st.Dest.Revision + " was refused: " + firstLine(err.Error())
			}
			out.Branch, out.Review = fmt.Sprintf("systemsync/%d", id), true
			if err = repo.Push(ctx, auth, sha, out.Branch, true); err == nil && open != nil {
				err = open(ctx, st, out.Branch, firstLine(msg), reviewBody(reason, changes, rows))
			}
		}
		steps.done("push")
		if err != nil {
			return r.failExport(ctx, id, base, rows, err)
		}
		if !out.Review {
			// Both sides now hold these resources: record them as synced.
			if err := NewSyncState(r.DB, st.DestStateID()).SaveAll(ctx, saves); err != nil {
				return r.failExport(ctx, id, sha, rows, err)
			}
			steps.done("state")
		}
		exported, err := r.finishExport(ctx, id, sha, out.Branch, rows, out)
		steps.done("record")
		return exported, err
	}
}

// stepTimer adds up how long each named step of a run took (a retried
// step counts every time), for the debug log.
type stepTimer struct {
	last  time.Time
	names []string
	took  map[string]time.Duration
}

func newStepTimer() *stepTimer {
	return &stepTimer{last: time.Now(), took: map[string]time.Duration{}}
}

// done ends the step name: it took the time since the previous one ended.
func (t *stepTimer) done(name string) {
	now := time.Now()
	if _, ok := t.took[name]; !ok {
		t.names = append(t.names, name)
	}
	t.took[name] += now.Sub(t.last)
	t.last = now
}

// attrs are the steps in the order they first ended, as log attributes.
func (t *stepTimer) attrs() []any {
	out := make([]any, 0, 2*len(t.names))
	for _, n := range t.names {
		out = append(out, n, t.took[n])
	}
	return out
}

// conflictFiles are the system's versions of the keys in conflict.
// Only keys among changes count (all, for a manual run): a conflict is
// shown once, when the change that made it arrives, not on every export.
func conflictFiles(ctx context.Context, repo *gitrepo.Repo, base string, p *Planned, changes []Change) []gitrepo.FileChange {
	var out []gitrepo.FileChange
	changed := map[spec.Key]bool{}
	for _, c := range changes {
		changed[c.Key] = true
	}
	for _, c := range p.Plan.Changes {
		if c.Action != reconcile.Conflict || (changes != nil && !changed[c.Key]) {
			continue
		}
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

// pushConflicts puts the system's versions of conflicting resources on the
// branch systemsync/conflict-<run id> (a pull request on GitHub) for people
// to decide; neither side is overwritten.
func (r *Runner) pushConflicts(ctx context.Context, repo *gitrepo.Repo, auth gitrepo.Auth, st Stage, base string, id int64, files []gitrepo.FileChange, opt ExportOptions) (string, error) {
	branch := fmt.Sprintf("systemsync/conflict-%d", id)
	now := time.Now()
	sig := gitrepo.Signature{Name: opt.Bot.Name, Email: opt.Bot.Email, When: now}
	msg := fmt.Sprintf("System Sync: the system's version of %d resource(s) in conflict\n\nThese resources changed in Git and in the system since the last sync.\nMerge this branch to keep the system's version; close it to keep Git's.\n\nSystemsync-Run: %d\n", len(files), id)
	sha, err := repo.Commit(ctx, base, files, sig, sig, msg)
	if errors.Is(err, gitrepo.ErrNoChanges) {
		return "no difference left to show", nil
	}
	if err != nil {
		return "", err
	}
	if err := repo.Push(ctx, auth, sha, branch, true); err != nil {
		return "", err
	}
	if opt.Open != nil {
		if err := opt.Open(ctx, st, branch, firstLine(msg), msg); err != nil {
			return "", err
		}
	}
	return "the system's version is on branch " + branch, nil
}

// exportFiles turns the plan's system → Git changes into file changes.
func (r *Runner) exportFiles(ctx context.Context, repo *gitrepo.Repo, base string, p *Planned, full bool) ([]gitrepo.FileChange, []Row, []StateChange) {
	var files []gitrepo.FileChange
	var rows []Row
	var saves []StateChange
	projects := map[string]bool{}
	row := func(c *reconcile.Change, outcome, msg string) {
		rows = append(rows, Row{Kind: c.Key.Kind, Project: c.Key.Project, Name: c.Key.Name, Path: c.Path,
			Action: string(c.Action), Outcome: outcome, Message: msg})
	}
	// Rendering is most of an export's own work: it runs on every core,
	// and the results are gathered in the plan's order.
	rendered := make([]renderedFile, len(p.Plan.Changes))
	parallel.For(len(p.Plan.Changes), func(i int) {
		if c := p.Plan.Changes[i]; c.Action == reconcile.Export {
			rendered[i] = renderFile(ctx, repo, base, c, c.SystemHash())
		}
	})
	for i, c := range p.Plan.Changes {
		if c.Key.Project != "" && c.System() != nil {
			projects[c.Key.Project] = true
		}
		switch c.Action {
		case reconcile.Export:
			out := rendered[i]
			if out.failed != "" {
				row(c, string(reconcile.Failed), out.failed)
				continue
			}
			files = append(files, gitrepo.FileChange{Path: c.Path, Data: out.data})
			saves = append(saves, StateChange{Key: c.Key, State: reconcile.State{Path: c.Path, GitHash: out.hash, SystemHash: out.hash}})
			row(c, string(reconcile.Applied), "")
		case reconcile.ExportDelete:
			files = append(files, gitrepo.FileChange{Path: c.Path, Delete: true})
			saves = append(saves, StateChange{Key: c.Key, Remove: true})
			row(c, string(reconcile.Applied), "")
		case reconcile.Conflict:
			row(c, string(reconcile.Skipped), c.Reason)
		}
	}
	// Every project with resources keeps its .gitkeep, as Rafay writes it:
	// a deleted one comes back with the next commit, or a full (manual) run.
	if len(files) > 0 || full {
		var ps []string
		for proj := range projects {
			ps = append(ps, proj)
		}
		sort.Strings(ps)
		for _, proj := range ps {
			if !p.Plan.HasGitkeep(proj) {
				path := spec.GitkeepPath(proj)
				if p.Folder != "" {
					path = p.Folder + "/" + path
				}
				files = append(files, gitrepo.FileChange{Path: path, Data: []byte{}})
			}
		}
	}
	return files, rows, saves
}

// renderedFile is the system's version of one resource, written for Git.
type renderedFile struct {
	data   []byte
	hash   string // reconcile.Hash of the object, which Git now holds too
	failed string // why it is not written, when it is not
}

// renderFile writes the system's object of an Export change as its file:
// Git's file edited in place when Git has one, else rendered anew. An
// object holding a clear-text secret, or over spec.MaxResourceBytes, is not
// written; a file that editing in place would take over the limit is
// written anew. hash is the object's reconcile.Hash when known ("":
// computed here). Safe for concurrent use.
func renderFile(ctx context.Context, repo *gitrepo.Repo, base string, c *reconcile.Change, hash string) renderedFile {
	obj := c.System()
	if probs := spec.Secrets(&spec.Resource{Object: obj}); len(probs) > 0 {
		return renderedFile{failed: "not written to Git: " + probs[0].Field + ": " + probs[0].Message}
	}
	var existing []byte
	if base != "" && c.Desired() != nil { // Git has the file: edit it rather than write anew
		data, err := repo.ReadFile(ctx, base, c.Path)
		if err != nil && !errors.Is(err, gitrepo.ErrNotFound) {
			return renderedFile{failed: err.Error()}
		}
		existing = data
	}
	if err := spec.CheckSize(obj); err != nil {
		return renderedFile{failed: "not written to Git: " + err.Error()}
	}
	canon := spec.Canonical(obj)
	data, err := spec.Update(existing, canon)
	if err == nil && len(data) > spec.MaxResourceBytes {
		// Git's file, edited in place, keeps comments and layout that
		// take it over the limit: the resource is written anew, within it.
		data, err = spec.Update(nil, canon)
	}
	if err != nil {
		return renderedFile{failed: err.Error()}
	}
	if hash == "" {
		hash = reconcile.Hash(obj)
	}
	return renderedFile{data: data, hash: hash}
}

func (r *Runner) finishExport(ctx context.Context, id int64, sha, branch string, rows []Row, out *Exported) (*Exported, error) {
	status := StatusOf(rows)
	msg := ""
	if branch != "" && out.Review {
		msg = "pushed to " + branch + " for review"
	}
	if err := r.Runs.Finish(context.WithoutCancel(ctx), id, status, sha, msg, rows); err != nil {
		return nil, err
	}
	run, err := r.Runs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	out.Run = run
	r.Log.Info("exported", "run", id, "commit", sha, "branch", branch, "status", status, "rows", len(rows))
	return out, nil
}

func (r *Runner) failExport(ctx context.Context, id int64, sha string, rows []Row, err error) (*Exported, error) {
	if ferr := r.Runs.Finish(context.WithoutCancel(ctx), id, StatusFailed, sha, err.Error(), rows); ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	return nil, err
}

// authorOf is the user of the latest change; the bot when none is known.
func authorOf(changes []Change, bot Identity) Identity {
	for i := len(changes) - 1; i >= 0; i-- {
		if u := changes[i].User; u != "" {
			return Identity{Name: u, Email: u}
		}
	}
	return bot
}

// commitMessage follows Rafay's System Sync: "Resource <Kind>/<name>,
// <Create|Update|Delete>" for one change, a summary and a list for several,
// "Manually Triggered System Sync" for a manual run; then who else changed
// things (Co-authored-by) and the run.
func commitMessage(trigger string, changes []Change, rows []Row, runID int64, bot Identity) string {
	var b strings.Builder
	var written []Row
	for _, r := range rows {
		if r.Outcome == string(reconcile.Applied) {
			written = append(written, r)
		}
	}
	switch {
	case trigger == TriggerManual:
		b.WriteString("Manually Triggered System Sync\n")
	case len(written) == 1:
		r := written[0]
		fmt.Fprintf(&b, "Resource %s/%s, %s\n", r.Kind, r.Name, changeType(r, changes))
	default:
		fmt.Fprintf(&b, "System Sync: %d resources changed in the system\n", len(written))
	}
	if trigger == TriggerManual || len(written) != 1 {
		b.WriteString("\n")
		for _, r := range rows {
			if r.Outcome == string(reconcile.Applied) {
				fmt.Fprintf(&b, "- %s %s/%s\n", r.Action, r.Kind, r.Name)
			}
		}
	}
	b.WriteString("\n")
	author := authorOf(changes, bot)
	seen := map[string]bool{author.Email: true}
	for _, c := range changes {
		if c.User != "" && !seen[c.User] {
			seen[c.User] = true
			fmt.Fprintf(&b, "Co-authored-by: %s <%s>\n", c.User, c.User)
		}
	}
	fmt.Fprintf(&b, "Systemsync-Run: %d\n", runID)
	return b.String()
}

// changeType is how the system's change of row's resource is named: the
// type of the latest change reported for it.
func changeType(r Row, changes []Change) string {
	k := spec.Key{Kind: r.Kind, Project: r.Project, Name: r.Name}
	for i := len(changes) - 1; i >= 0; i-- {
		if changes[i].Key == k {
			return changes[i].Type
		}
	}
	return ""
}

// withPlanned adds to changes, with no user, the exports the plan found that
// no reported change names: a change made after the ones being exported
// (a list taken earlier, an event not yet read) is written with them.
func withPlanned(changes []Change, p *Planned) []Change {
	reported := make(map[spec.Key]bool, len(changes))
	for _, c := range changes {
		reported[c.Key] = true
	}
	out := changes[:len(changes):len(changes)] // appends never write into the caller's array
	for _, c := range p.Plan.Changes {
		if reported[c.Key] {
			continue
		}
		switch {
		case c.Action == reconcile.ExportDelete:
			out = append(out, Change{Key: c.Key, Type: "Delete"})
		case c.Action == reconcile.Export && c.Desired() == nil:
			out = append(out, Change{Key: c.Key, Type: "Create"})
		case c.Action == reconcile.Export:
			out = append(out, Change{Key: c.Key, Type: "Update"})
		}
	}
	return out
}

func reviewBody(reason string, changes []Change, rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "System Sync wrote these changes made in the system to a branch because %s.\n\n", reason)
	b.WriteString("| change | resource | by |\n| --- | --- | --- |\n")
	by := map[spec.Key]string{}
	for _, c := range changes {
		by[c.Key] = c.User
	}
	for _, r := range rows {
		if r.Outcome == string(reconcile.Applied) {
			k := spec.Key{Kind: r.Kind, Project: r.Project, Name: r.Name}
			fmt.Fprintf(&b, "| %s | %s `%s` | %s |\n", r.Action, r.Kind, r.Name, by[k])
		}
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
