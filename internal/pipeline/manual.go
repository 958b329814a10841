package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
// Manually Triggered. It returns the run ids.
func (r *Runner) SyncNow(ctx context.Context, project, name string) ([]int64, error) {
	stages, _, err := LoadStages(ctx, r.System)
	if err != nil {
		return nil, err
	}
	var ids []int64
	found := false
	for _, st := range stages {
		if st.Pipeline.Project != project || st.Pipeline.Name != name {
			continue
		}
		found = true
		var o ExportOptions
		if st.GitToSystem {
			applied, err := r.Apply(ctx, st, st.Source.Revision, TriggerManual, manualPayload(ctx))
			if err != nil {
				return ids, err
			}
			o.RunID, o.PriorRows = applied.Run.ID, applied.Run.Rows
		}
		if st.SystemToGit {
			out, err := r.Export(ctx, st, TriggerManual, nil, o)
			if err != nil {
				return ids, err
			}
			if out.Run != nil {
				o.RunID = out.Run.ID
			}
		}
		if o.RunID != 0 {
			ids = append(ids, o.RunID)
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no active SystemSync stage in pipeline %s/%s", ErrPipelineNotFound, project, name)
	}
	return ids, nil
}
