package pipeline

import (
	"context"
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
	RunID     int64 // record into this run (a manual sync's), not a new one
	PriorRows []Row // that run's rows so far
}

// ReviewOpener opens a pull request from branch to the revision of repo
// (GitHub): a review branch's, or a conflict branch's. nil for plain Git,
// where the branch is left for people to merge.
type ReviewOpener func(ctx context.Context, repo RepoRef, branch, title, body string) error

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
// (opened as a pull request by r.Open, when set). A resource holding a
// clear-text secret is not written: its row fails and points at the Secret
// Sealer. A conflict is put on a branch of its own (see Conflict) when the
// change that makes it arrives (any conflict not open yet, for a manual
// run); an open conflict's resource is not written, and its row's outcome
// is Unchanged. Nothing to write records no run (unless the trigger is
// manual).
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
	bot := r.Bot
	payload := changesPayload(changes)
	if trigger == TriggerManual {
		payload = manualPayload(ctx)
	}
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
		open, err := openConflicts(ctx, r.DB, st.DestStateID())
		if err != nil {
			return nil, err
		}
		gate := conflictGate{open: open}
		for _, c := range planned.Plan.Changes {
			gate.blocks(c, reconcile.Export, reconcile.ExportDelete) // neither side is overwritten while in conflict
		}
		steps.done("plan")
		files, rows, saves := r.exportFiles(ctx, repo, base, planned, trigger == TriggerManual)
		steps.done("render")
		if art, err := r.artifactFiles(ctx, st, repo, base, planned, files, trigger == TriggerManual); err != nil {
			r.Log.Warn("artifacts not copied to the destination; a manual run copies them", "stage", st.ID(), "err", err)
		} else {
			files = append(files, art...)
		}
		fresh := newConflicts(planned, gate, changes, opt.PriorRows)
		rows = conflictRows(rows, gate, fresh, opt.PriorRows)
		rows = append(append([]Row(nil), opt.PriorRows...), rows...)
		if len(fresh) > 0 {
			if err := start(base); err != nil {
				return nil, err
			}
			msg, err := r.pushConflicts(ctx, repo, auth, st, st.Dest, st.DestStateID(), base, id, fresh)
			if err != nil {
				return r.failExport(ctx, id, base, rows, err)
			}
			for i := range rows {
				if rows[i].Action == string(reconcile.Conflict) && rows[i].Outcome == string(reconcile.Skipped) {
					rows[i].Message = joinMessage(rows[i].Message, msg)
				}
			}
		}
		if len(open) > 0 {
			r.agreed(ctx, st.DestStateID(), gate, planned.Plan, id)
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
			if err = repo.Push(ctx, auth, sha, out.Branch, true); err == nil && r.Open != nil {
				err = r.Open(ctx, st.Dest, out.Branch, firstLine(msg), reviewBody(reason, changes, rows))
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

// newConflicts are the plan's conflicts to put on a branch: those the
// changes being exported made (a conflict is shown once, when the change
// that makes it arrives, not on every export), and any not open yet; for a
// manual run (no changes), those not open yet. A conflict the run's Git →
// system half put on a branch already (priorRows) is not put again.
func newConflicts(p *Planned, gate conflictGate, changes []Change, priorRows []Row) []*reconcile.Change {
	changed := map[spec.Key]bool{}
	for _, c := range changes {
		changed[c.Key] = true
	}
	prior := map[spec.Key]bool{}
	for _, r := range priorRows {
		if r.Action == string(reconcile.Conflict) {
			prior[spec.Key{Kind: r.Kind, Project: r.Project, Name: r.Name}] = true
		}
	}
	var out []*reconcile.Change
	for _, c := range p.Plan.Changes {
		if c.Action != reconcile.Conflict || prior[c.Key] {
			continue
		}
		if _, open := gate.carried(c.Key); !open || changed[c.Key] {
			out = append(out, c)
		}
	}
	return out
}

// conflictRows gives the conflicts an earlier run found, still open and
// not made anew now, the outcome Unchanged, and leaves out those the run's
// Git → system half reported already.
func conflictRows(rows []Row, gate conflictGate, fresh []*reconcile.Change, priorRows []Row) []Row {
	isFresh := map[spec.Key]bool{}
	for _, c := range fresh {
		isFresh[c.Key] = true
	}
	prior := map[spec.Key]bool{}
	for _, r := range priorRows {
		if r.Action == string(reconcile.Conflict) {
			prior[spec.Key{Kind: r.Kind, Project: r.Project, Name: r.Name}] = true
		}
	}
	out := rows[:0]
	for _, r := range rows {
		k := spec.Key{Kind: r.Kind, Project: r.Project, Name: r.Name}
		if r.Action == string(reconcile.Conflict) {
			if prior[k] {
				continue
			}
			if cf, open := gate.carried(k); open && !isFresh[k] {
				r.Outcome, r.Message = Unchanged, carriedMessage(cf)
			}
		}
		out = append(out, r)
	}
	return out
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
	seal := r.sealers(p.Plan)
	parallel.For(len(p.Plan.Changes), func(i int) {
		if c := p.Plan.Changes[i]; c.Action == reconcile.Export {
			rendered[i] = renderFile(ctx, repo, base, c, c.SystemHash(), seal)
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
			if out.artifact != nil {
				files = append(files, *out.artifact)
			}
			saves = append(saves, StateChange{Key: c.Key, State: reconcile.State{Path: c.Path, GitHash: out.hash, SystemHash: out.hash}})
			row(c, string(reconcile.Applied), "")
		case reconcile.ExportDelete:
			files = append(files, gitrepo.FileChange{Path: c.Path, Delete: true})
			if gone := seal.artifactGone(base, c); gone != nil {
				files = append(files, *gone)
			}
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
	data     []byte
	hash     string              // reconcile.Hash of the object, which Git now holds too
	failed   string              // why it is not written, when it is not
	artifact *gitrepo.FileChange // to its sealed secrets' artifact, if any
}

// renderFile writes the system's object of an Export change as its file:
// Git's file edited in place when Git has one, else rendered anew. An
// object holding a clear-text secret has it sealed by its project's sealer
// (seal; the artifact changes only when a value does), or is not written
// when there is none; one over spec.MaxResourceBytes is not written; a
// file that editing in place would take over the limit is written anew.
// hash is the object's reconcile.Hash when known ("": computed here),
// secrets unsealed. Safe for concurrent use.
func renderFile(ctx context.Context, repo *gitrepo.Repo, base string, c *reconcile.Change, hash string, seal *exportSealers) renderedFile {
	obj := c.System()
	probs := spec.Secrets(&spec.Resource{Object: obj})
	if len(probs) > 0 && seal == nil {
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
	var artifact *gitrepo.FileChange
	if seal != nil {
		var failed string
		if artifact, failed = seal.seal(ctx, repo, base, c, canon, probs, existing); failed != "" {
			return renderedFile{failed: failed}
		}
	}
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
	return renderedFile{data: data, hash: hash, artifact: artifact}
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

// authorOf is the user of the latest change (the bot's own applies do
// not count); the bot when none is known.
func authorOf(changes []Change, bot Identity) Identity {
	for i := len(changes) - 1; i >= 0; i-- {
		if u := changes[i].User; u != "" && !changes[i].Own {
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
		if c.User != "" && !c.Own && !seen[c.User] {
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
