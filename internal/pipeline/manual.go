package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/systemsync/systemsync/internal/access"
)

// manualPayload is the event payload of a manual run: who pressed Run
// (the request's principal, when ctx carries one).
func manualPayload(ctx context.Context) []byte {
	p, _ := access.FromContext(ctx)
	b, _ := json.Marshal(map[string]any{"manual": true, "user": p.Email})
	return b
}

// ErrPipelineNotFound is returned for a pipeline with no active SystemSync stage.
var ErrPipelineNotFound = errors.New("pipeline not found")

// SyncNow runs a full sync of every SystemSync stage of one pipeline, both
// ways, as the Run button does: Git → system first (when the stage does
// it), then system → Git, recorded as one run per stage with trigger
// Manually Triggered. Stages run as their next orders them (EachStage);
// one a pre-condition skips records a Skipped run. It returns the run
// ids, in the order the runs started.
func (r *Runner) SyncNow(ctx context.Context, project, name string) ([]int64, error) {
	stages, _, err := r.LoadStages(ctx)
	if err != nil {
		return nil, err
	}
	var mine []Stage
	for _, st := range stages {
		if st.Pipeline.Project == project && st.Pipeline.Name == name {
			mine = append(mine, st)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("%w: no active SystemSync stage in pipeline %s/%s", ErrPipelineNotFound, project, name)
	}
	var mu sync.Mutex
	var ids []int64
	err = r.EachStage(ctx, mine, func(ctx context.Context, st Stage) error {
		var o ExportOptions
		if st.GitToSystem {
			// The run stays In Progress until its export half ends it.
			applied, err := r.ApplyWith(ctx, st, st.Source.Revision, TriggerManual, manualPayload(ctx), ApplyOptions{KeepOpen: st.SystemToGit})
			if err != nil {
				return err
			}
			o.RunID, o.PriorRows = applied.Run.ID, applied.Run.Rows
			if applied.Planned == nil { // skipped, or its variables failed: no export either
				st.SystemToGit = false
			}
		}
		if st.SystemToGit {
			out, err := r.Export(ctx, st, TriggerManual, nil, o)
			if err != nil {
				r.endOpenRun(ctx, o, err)
				return err
			}
			if out.Run != nil {
				o.RunID = out.Run.ID
			}
		}
		if o.RunID != 0 {
			mu.Lock()
			ids = append(ids, o.RunID)
			mu.Unlock()
		}
		return nil
	})
	slices.Sort(ids)
	return ids, err
}

// endOpenRun ends as Failed, with what it had applied, the run of a
// manual sync whose export failed before recording its end.
func (r *Runner) endOpenRun(ctx context.Context, o ExportOptions, err error) {
	if o.RunID == 0 {
		return
	}
	run, gerr := r.Runs.Get(ctx, o.RunID)
	if gerr != nil || run.EndedAt != nil {
		return
	}
	if ferr := r.Runs.Finish(context.WithoutCancel(ctx), o.RunID, StatusFailed, "", err.Error(), o.PriorRows); ferr != nil {
		r.Log.Warn("end the manual run", "run", o.RunID, "err", ferr)
	}
}
