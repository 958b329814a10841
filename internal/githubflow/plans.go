package githubflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/jobs"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/prcomment"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// Open pull requests' plans: each is stored (open_plans) with the system
// revision it was made at and the resources it touches, so that a change
// in the system to one of them plans the pull request again (the follower
// tells PlansMoved), and a merge over such a change is a conflict rather
// than an apply of what nobody saw planned.

// openPlan is one stored plan: a stage's plan of a pull request.
type openPlan struct {
	repoKey      string // lower-case owner/name
	number       int
	stage        string
	head         string
	installation int64
	repo         repository
	keys         []spec.Key
	revision     int64
	merged       bool
}

// keysJSON is a key as open_plans keeps it.
type keysJSON struct {
	Kind    string `json:"kind"`
	Project string `json:"project,omitempty"`
	Name    string `json:"name"`
}

func repoKeyOf(r repository) string { return strings.ToLower(r.FullName) }

// touched returns the resources a plan would change in the system.
func touched(p *reconcile.Plan) []spec.Key {
	var out []spec.Key
	for _, c := range p.Changes {
		switch c.Action {
		case reconcile.Create, reconcile.Update, reconcile.Delete, reconcile.Conflict:
			out = append(out, c.Key)
		}
	}
	return out
}

// savePlan stores stage's plan of pull request number at head, made at
// the system's revision, touching keys. A plan that touches nothing, or
// whose revision is unknown, cannot go stale: it is forgotten.
func (a *App) savePlan(ctx context.Context, repo repository, inst int64, number int, stage, head string, keys []spec.Key, revision int64) error {
	if len(keys) == 0 || revision <= 0 {
		_, err := a.db.Exec(ctx, `DELETE FROM open_plans WHERE repository = ? AND number = ? AND stage = ?`, repoKeyOf(repo), number, stage)
		if err != nil {
			return fmt.Errorf("forget the plan of #%d: %w", number, err)
		}
		return nil
	}
	list := make([]keysJSON, len(keys))
	for i, k := range keys {
		list[i] = keysJSON{Kind: k.Kind, Project: k.Project, Name: k.Name}
	}
	keysData, err := json.Marshal(list)
	if err != nil {
		return err
	}
	repoData, err := encodeJob(repo)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = a.db.Exec(ctx, `INSERT INTO open_plans (repository, number, stage, head, installation, repo, keys, revision, merged, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repository, number, stage) DO UPDATE SET head = excluded.head, installation = excluded.installation, repo = excluded.repo,
			keys = excluded.keys, revision = excluded.revision, merged = excluded.merged, updated_at = excluded.updated_at`,
		repoKeyOf(repo), number, stage, head, inst, string(repoData), string(keysData), revision, false, now.Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record the plan of #%d: %w", number, err)
	}
	// A merged pull request's plans are kept for the merge's push; one
	// whose push never came (another branch) goes after a day.
	_, err = a.db.Exec(ctx, `DELETE FROM open_plans WHERE merged = ? AND updated_at < ?`, true, now.Add(-24*time.Hour).Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("forget old merged plans: %w", err)
	}
	return nil
}

// planClosed stops following the plans of a closed pull request: an
// unmerged one's are forgotten, a merged one's kept (no longer planned
// again) until the merge's push has read them.
func (a *App) planClosed(ctx context.Context, repo repository, number int, merged bool) error {
	var err error
	if merged {
		_, err = a.db.Exec(ctx, `UPDATE open_plans SET merged = ?, updated_at = ? WHERE repository = ? AND number = ?`,
			true, time.Now().UTC().Format(time.RFC3339Nano), repoKeyOf(repo), number)
	} else {
		_, err = a.db.Exec(ctx, `DELETE FROM open_plans WHERE repository = ? AND number = ?`, repoKeyOf(repo), number)
	}
	if err != nil {
		return fmt.Errorf("the plans of closed #%d: %w", number, err)
	}
	return nil
}

// loadPlans returns the stored plans; where ("" for all) filters them.
func (a *App) loadPlans(ctx context.Context, where string, args ...any) ([]openPlan, error) {
	q := `SELECT repository, number, stage, head, installation, repo, keys, revision, merged FROM open_plans`
	if where != "" {
		q += ` WHERE ` + where
	}
	rows, err := a.db.Query(ctx, q+` ORDER BY repository, number, stage`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the open plans: %w", err)
	}
	defer rows.Close()
	var out []openPlan
	for rows.Next() {
		var p openPlan
		var repoData, keysData string
		if err := rows.Scan(&p.repoKey, &p.number, &p.stage, &p.head, &p.installation, &repoData, &keysData, &p.revision, &p.merged); err != nil {
			return nil, fmt.Errorf("read the open plans: %w", err)
		}
		var keys []keysJSON
		if json.Unmarshal([]byte(repoData), &p.repo) != nil || json.Unmarshal([]byte(keysData), &keys) != nil {
			continue // not written by this version: it is planned afresh on the next push to its pull request
		}
		for _, k := range keys {
			p.keys = append(p.keys, spec.Key{Kind: k.Kind, Project: k.Project, Name: k.Name})
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// replanEvent names the internal job that plans a pull request again;
// GitHub never delivers it (the webhook knows only App.events).
const replanEvent = "systemsync_replan"

// replanJob is what a stale plan's job stores: the pull request, the
// stage, and the system's changes that made the plan stale.
type replanJob struct {
	Repository   repository        `json:"repository"`
	Installation installation      `json:"installation"`
	Number       int               `json:"number"`
	Stage        string            `json:"stage"`
	Moved        []pipeline.Change `json:"moved"`
}

// PlansMoved plans again, through a job stored in q, every open pull
// request whose stored plan touches a resource among changes (the
// system's, as the follower reads them from the event log) changed after
// the plan's revision. It is a pipeline.Follower's Changed.
func (a *App) PlansMoved(ctx context.Context, q Enqueuer, changes []pipeline.Change) error {
	if len(changes) == 0 {
		return nil
	}
	plans, err := a.loadPlans(ctx, `merged = ?`, false)
	if err != nil {
		return err
	}
	for _, p := range plans {
		mine := map[spec.Key]bool{}
		for _, k := range p.keys {
			mine[k] = true
		}
		var moved []pipeline.Change
		last := int64(0)
		for _, c := range changes {
			if mine[c.Key] && c.Revision > p.revision {
				moved = append(moved, c)
				last = max(last, c.Revision)
			}
		}
		if len(moved) == 0 {
			continue
		}
		job, err := encodeJob(replanJob{Repository: p.repo, Installation: installation{ID: p.installation}, Number: p.number, Stage: p.stage, Moved: moved})
		if err != nil {
			return err
		}
		delivery := fmt.Sprintf("replan:%s#%d:%s:%d", p.repoKey, p.number, p.stage, last)
		if _, err := q.Enqueue(ctx, jobs.EventArgs{DeliveryID: delivery, Event: replanEvent, Job: job}); err != nil {
			return err
		}
		a.log.Info("a pull request's plan is stale: planning it again", "repo", p.repo.FullName, "pr", p.number, "stage", p.stage, "moved", len(moved), "plan_revision", p.revision)
	}
	return nil
}

// replanHandler does the jobs PlansMoved stores.
type replanHandler struct{ *App }

func (replanHandler) Handles() []string { return []string{replanEvent} }

// accept is never called for a delivery: the webhook does not know the event.
func (replanHandler) accept(event string, payload []byte) (any, string, error) {
	return nil, "", fmt.Errorf("%s is not a GitHub event", event)
}

// work plans the pull request again at its current head, if it is still
// open, saying what moved since the plan that was reviewed (the stored
// plan's revision, which a plan made again this way keeps: only a person's
// new push, /systemsync plan or a re-run takes the system as it is now).
func (h replanHandler) work(ctx context.Context, log *slog.Logger, event string, data []byte) error {
	job, err := decodeJob[replanJob](event, data)
	if err != nil {
		return err
	}
	plans, err := h.loadPlans(ctx, `repository = ? AND number = ? AND stage = ? AND merged = ?`, repoKeyOf(job.Repository), job.Number, job.Stage, false)
	if err != nil || len(plans) == 0 {
		return err // closed or merged meanwhile: nothing to plan again
	}
	plan := plans[0]
	gh, err := h.installationClient(job.Installation.ID)
	if err != nil {
		return err
	}
	owner, name := job.Repository.ownerName()
	pr, _, err := gh.PullRequests.Get(ctx, owner, name, job.Number)
	if err != nil {
		return fmt.Errorf("pull request #%d: %w", job.Number, err)
	}
	if pr.GetState() != "open" {
		log.Info("a stale plan's pull request is closed: not planned again", "pr", job.Number)
		return nil
	}
	keys := map[spec.Key]bool{}
	for _, k := range plan.keys {
		keys[k] = true
	}
	moved, err := h.runner.ChangesSince(ctx, plan.revision, keys)
	if err != nil {
		return err
	}
	if len(moved) == 0 {
		moved = job.Moved
	}
	stale := map[string]stalePlan{job.Stage: {revision: plan.revision, keys: plan.keys, moved: moved}}
	return h.planPR(ctx, log, job.Installation.ID, job.Repository, job.Number, pr.GetHead().GetSHA(), pr.GetBase().GetRef(), stale)
}

// stalePlan is a stage's plan of a pull request that the system's
// changes made stale: the revision and resources of the plan that was
// reviewed, and what moved since.
type stalePlan struct {
	revision int64
	keys     []spec.Key
	moved    []pipeline.Change
}

// movedReasons is why each moved resource is a conflict.
func movedReasons(number int, moved []pipeline.Change) map[spec.Key]string {
	out := map[spec.Key]string{}
	for _, c := range moved {
		by := c.User
		if by == "" {
			by = "someone"
		}
		out[c.Key] = fmt.Sprintf("changed in the system after the plan of pull request #%d (%s by %s at %s, revision %d); neither side is overwritten",
			number, c.Type, by, c.Time.UTC().Format(time.RFC3339), c.Revision)
	}
	return out
}

// movedOf is changes as a plan comment shows them.
func movedOf(changes []pipeline.Change) []prcomment.Moved {
	out := make([]prcomment.Moved, len(changes))
	for i, c := range changes {
		out[i] = prcomment.Moved{Key: c.Key, Type: c.Type, User: c.User, Time: c.Time}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out
}

// movedSince returns, for a push of sha to st's branch that merges pull
// requests prs, the resources their plans touch that the system changed
// after the plan was made, each with what moved: what the merge must not
// apply over. The plans are forgotten: their pull requests are merged.
func (a *App) movedSince(ctx context.Context, repo repository, st pipeline.Stage, prs []int) (map[spec.Key]string, error) {
	if len(prs) == 0 {
		return nil, nil
	}
	out := map[spec.Key]string{}
	for _, number := range prs {
		plans, err := a.loadPlans(ctx, `repository = ? AND number = ? AND stage = ?`, repoKeyOf(repo), number, st.ID())
		if err != nil {
			return nil, err
		}
		for _, p := range plans {
			keys := map[spec.Key]bool{}
			for _, k := range p.keys {
				keys[k] = true
			}
			changes, err := a.runner.ChangesSince(ctx, p.revision, keys)
			if err != nil {
				return nil, err
			}
			for k, why := range movedReasons(number, changes) {
				out[k] = why
			}
		}
		if _, err := a.db.Exec(ctx, `DELETE FROM open_plans WHERE repository = ? AND number = ? AND stage = ?`, repoKeyOf(repo), number, st.ID()); err != nil {
			return nil, fmt.Errorf("forget the plan of merged #%d: %w", number, err)
		}
	}
	return out, nil
}
