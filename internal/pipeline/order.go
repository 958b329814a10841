package pipeline

import (
	"context"
	"errors"
	"sync"

	"github.com/systemsync/systemsync/internal/spec"
)

// pass is one trigger's pass over a pipeline's stages (EachStage): the
// status of each stage so far, as pre-conditions read it
// (stages.<name>.status).
type pass struct {
	mu      sync.Mutex
	status  map[string]string
	reached map[string]bool // a run of the stage was started (Apply or Export got past fetching)
	blocked map[string]bool // not run: a stage before it failed or was not run for that
}

// set records name's status; reached marks a stage whose run started.
func (p *pass) set(name, status string, reached bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if reached {
		p.reached[name] = true
		if p.status[name] == "" || p.status[name] == StatusPending {
			p.status[name] = StatusInProgress
		}
		return
	}
	p.status[name] = status
}

func (p *pass) get(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.status[name]; s != "" {
		return s
	}
	return StatusPending
}

// stageCtx says which stage of which pass a context runs.
type stageCtx struct {
	pass *pass
	name string
}

func stageOf(ctx context.Context) (stageCtx, bool) {
	sc, ok := ctx.Value(stageKey).(stageCtx)
	return sc, ok
}

// EachStage calls run for each of stages as their pipelines order them,
// as Rafay runs a pipeline's stages: a stage named in another's next runs
// after it; stages with no order between them run at the same time. A
// stage runs once every stage before it is done; when one of those
// failed (its run Failed, or run returned an error), it is not run.
// Stages of a type this bot does not run, and stages not among stages
// (not triggered), count as done. Pipelines are taken one after another.
// run's ctx carries the pass, so that the stage's pre-conditions read
// what the stages before it did (stages.<name>.status). The error joins
// those run returned.
func (r *Runner) EachStage(ctx context.Context, stages []Stage, run func(ctx context.Context, st Stage) error) error {
	var order []spec.Key
	byPipeline := map[spec.Key][]Stage{}
	for _, st := range stages {
		if _, ok := byPipeline[st.Pipeline]; !ok {
			order = append(order, st.Pipeline)
		}
		byPipeline[st.Pipeline] = append(byPipeline[st.Pipeline], st)
	}
	var errs []error
	for _, k := range order {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		errs = append(errs, r.pipelinePass(ctx, byPipeline[k], run)...)
	}
	return errors.Join(errs...)
}

// pipelinePass runs the given stages of one pipeline in order.
func (r *Runner) pipelinePass(ctx context.Context, stages []Stage, run func(ctx context.Context, st Stage) error) []error {
	p := &pass{status: map[string]string{}, reached: map[string]bool{}, blocked: map[string]bool{}}
	var graph []StageNode
	if stages[0].exprs != nil {
		graph = stages[0].exprs.graph
	}
	before := map[string][]string{} // stage → the stages whose next names it
	for _, n := range graph {
		for _, next := range n.Next {
			before[next] = append(before[next], n.Name)
		}
	}
	todo := map[string]bool{}
	for _, st := range stages {
		todo[st.Name] = true
	}
	done := map[string]bool{}
	for _, n := range graph {
		if !todo[n.Name] {
			done[n.Name] = true // not triggered, or not run by this bot
			p.status[n.Name] = StatusNotRun
		}
	}
	var errs []error
	var mu sync.Mutex
	left := stages
	for len(left) > 0 {
		var ready, wait []Stage
		for _, st := range left {
			ok := true
			for _, b := range before[st.Name] {
				if b != st.Name && !done[b] && todo[b] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, st)
			} else {
				wait = append(wait, st)
			}
		}
		if len(ready) == 0 { // a cycle of next: the rest in the order given
			r.Log.Warn("the stages' next order a cycle; running the rest one after another", "pipeline", stages[0].PipelineName())
			ready, wait = wait[:1], wait[1:]
		}
		var wg sync.WaitGroup
		for _, st := range ready {
			if failed := failedBefore(p, before[st.Name]); failed != "" {
				p.set(st.Name, StatusNotRun, false)
				p.mu.Lock()
				p.blocked[st.Name] = true
				p.mu.Unlock()
				r.Log.Info("stage not run: a stage before it failed", "stage", st.ID(), "failed", failed)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := run(context.WithValue(ctx, stageKey, stageCtx{pass: p, name: st.Name}), st)
				p.mu.Lock()
				switch {
				case err != nil:
					p.status[st.Name] = StatusFailed
				case !p.reached[st.Name] && (p.status[st.Name] == "" || p.status[st.Name] == StatusPending):
					p.status[st.Name] = StatusNotRun // nothing triggered it
				case p.status[st.Name] == StatusInProgress:
					p.status[st.Name] = StatusSuccess // it had nothing to record
				}
				p.mu.Unlock()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, st := range ready {
			done[st.Name] = true
		}
		left = wait
	}
	return errs
}

// failedBefore names a stage among names that failed (or was not run
// because one before it failed), or is "".
func failedBefore(p *pass, names []string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range names {
		if p.status[n] == StatusFailed || p.blocked[n] {
			return n
		}
	}
	return ""
}
