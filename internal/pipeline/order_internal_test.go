package pipeline

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
)

func orderStages(graph ...StageNode) []Stage {
	c := &pipelineExprs{graph: graph}
	var out []Stage
	for i, n := range graph {
		if n.Type == "SystemSync" {
			out = append(out, Stage{Pipeline: spec.Key{Kind: "Pipeline", Project: "p", Name: "x"}, Name: n.Name, Index: i, exprs: c})
		}
	}
	return out
}

// Unordered stages run at the same time: each waits, inside run, for the
// other to have started. Ordered ones one after the other, a stage after
// a failed one not at all.
func TestEachStageOrder(t *testing.T) {
	r := &Runner{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	var started sync.WaitGroup
	started.Add(2)
	both := make(chan struct{})
	go func() { started.Wait(); close(both) }()
	err := r.EachStage(ctx, orderStages(StageNode{Name: "a", Type: "SystemSync"}, StageNode{Name: "b", Type: "SystemSync"}),
		func(ctx context.Context, st Stage) error {
			started.Done()
			select {
			case <-both:
				return nil
			case <-time.After(10 * time.Second):
				t.Errorf("stage %s ran alone", st.Name)
				return nil
			}
		})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var ran []string
	record := func(ctx context.Context, st Stage) error {
		mu.Lock()
		ran = append(ran, st.Name)
		mu.Unlock()
		if st.Name == "b" {
			return context.DeadlineExceeded // b fails
		}
		return nil
	}
	// c after b after a, listed backwards; a DeployWorkload between a and b counts as done.
	stages := orderStages(
		StageNode{Name: "c", Type: "SystemSync"},
		StageNode{Name: "b", Type: "SystemSync", Next: []string{"c"}},
		StageNode{Name: "deploy", Type: "DeployWorkload", Next: []string{"b"}},
		StageNode{Name: "a", Type: "SystemSync", Next: []string{"deploy", "b"}},
	)
	if err := r.EachStage(ctx, stages, record); err == nil {
		t.Error("b's error was not returned")
	}
	if len(ran) != 2 || ran[0] != "a" || ran[1] != "b" {
		t.Errorf("ran %v, want a then b, and not c after b failed", ran)
	}
}
