package reconcile

import (
	"context"
	"fmt"

	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/spec"
)

// Outcome is what happened to one change when a plan was carried out.
type Outcome string

// Outcomes of carrying out a change.
const (
	Applied Outcome = "applied" // the system now matches Git (or both were recorded as synced)
	Failed  Outcome = "failed"  // the system refused or could not be reached
	Skipped Outcome = "skipped" // nothing to do, or nothing may be done (invalid, blocked, conflict, ignored)
	Pending Outcome = "pending" // a system → Git change, left to the export
)

// Result is one change and what became of it.
type Result struct {
	Change  *Change
	Outcome Outcome
	Message string
}

// StateStore keeps the sync state of one pipeline stage.
type StateStore interface {
	Load(ctx context.Context) (map[spec.Key]State, error)
	Save(ctx context.Context, k spec.Key, s State) error
	Remove(ctx context.Context, k spec.Key) error
}

// ApplyToSystem carries out the git → system half of plan: creates and
// updates with Projects first, then deletes with Projects last, one
// resource at a time, going on past failures. The sync state is updated
// after each resource that succeeds, so a crash loses at most the one in
// flight. Record and first-sync NoOp changes are saved as synced.
func ApplyToSystem(ctx context.Context, plan *Plan, sys System, states StateStore) ([]Result, error) {
	results := make([]Result, 0, len(plan.Changes))
	order := func(pass int, c *Change) bool {
		isProject := c.Key.Kind == "Project"
		switch pass {
		case 0:
			return (c.Action == Create || c.Action == Update) && isProject
		case 1:
			return (c.Action == Create || c.Action == Update) && !isProject
		case 2:
			return c.Action == Delete && !isProject
		case 3:
			return c.Action == Delete && isProject
		}
		return false
	}
	done := map[*Change]bool{}
	for pass := 0; pass < 4; pass++ {
		for _, c := range plan.Changes {
			if !order(pass, c) {
				continue
			}
			done[c] = true
			if err := ctx.Err(); err != nil {
				return results, err
			}
			r := applyOne(ctx, c, sys, states)
			results = append(results, r)
		}
	}
	for _, c := range plan.Changes {
		if done[c] {
			continue
		}
		r := Result{Change: c, Outcome: Skipped}
		switch c.Action {
		case Record:
			if c.inGit() || c.sysHash != "" {
				if err := states.Save(ctx, c.Key, State{Path: c.Path, GitHash: c.gitHash, SystemHash: c.sysHash}); err != nil {
					return results, err
				}
			} else if err := states.Remove(ctx, c.Key); err != nil {
				return results, err
			}
			r.Outcome, r.Message = Applied, c.Reason
		case NoOp:
			if !c.hadState && c.inGit() && c.sysHash != "" {
				if err := states.Save(ctx, c.Key, State{Path: c.Path, GitHash: c.gitHash, SystemHash: c.sysHash}); err != nil {
					return results, err
				}
			}
		case Export, ExportDelete:
			r.Outcome = Pending
		case Invalid, Blocked:
			r.Message = spec.ProblemsText(c.Problems)
		case Conflict, Ignored, Skip:
			r.Message = c.Reason
		}
		results = append(results, r)
	}
	return results, nil
}

func applyOne(ctx context.Context, c *Change, sys System, states StateStore) Result {
	switch c.Action {
	case Delete:
		if err := sys.Delete(ctx, c.Key.Kind, c.Key.Project, c.Key.Name); err != nil && !controllerapi.IsNotFound(err) {
			return Result{Change: c, Outcome: Failed, Message: err.Error()}
		}
		if err := states.Remove(ctx, c.Key); err != nil {
			return Result{Change: c, Outcome: Failed, Message: fmt.Sprintf("deleted, but the sync state was not saved: %v", err)}
		}
		return Result{Change: c, Outcome: Applied}
	default:
		got, err := sys.Apply(ctx, c.Desired())
		if err != nil {
			return Result{Change: c, Outcome: Failed, Message: err.Error()}
		}
		if err := states.Save(ctx, c.Key, State{Path: c.Path, GitHash: c.gitHash, SystemHash: Hash(got)}); err != nil {
			return Result{Change: c, Outcome: Failed, Message: fmt.Sprintf("applied, but the sync state was not saved: %v", err)}
		}
		return Result{Change: c, Outcome: Applied, Message: spec.ProblemsText(c.Problems)} // its warnings
	}
}
