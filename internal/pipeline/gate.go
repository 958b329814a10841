package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/systemsync/systemsync/internal/expr"
	"github.com/systemsync/systemsync/internal/gitrepo"
)

// StatusSkipped is the status of a run whose stage a false pre-condition
// skipped; its message says which.
const StatusSkipped = "Skipped"

// Statuses a stage has in a pipeline's pass (stages.<name>.status) before
// or instead of a run: not started yet, or not run at all (not triggered,
// a stage before it failed, or a type this bot does not run).
const (
	StatusPending = "Pending"
	StatusNotRun  = "Not Run"
)

// NotRunByBot says why a stage of another type than SystemSync
// (DeployWorkload, Approval, …) has no run: it is kept in the pipeline,
// and shown in its runs, but this bot does not run it.
const NotRunByBot = "not run by this bot"

// gateResult is what a run of a stage found before doing anything: its
// payload with the variables used and the pipeline's stages added, and
// whether it stops there.
type gateResult struct {
	payload []byte
	skip    string // the message of a stage a false pre-condition skips
	fail    error  // a variable or pre-condition that failed
}

func (g *gateResult) stopped() bool { return g.skip != "" || g.fail != nil }

// gate evaluates the variables and pre-conditions of a run of st started
// by trigger with payload (repo is the stage's source, fetched, for the
// paths the change touched). A stage with nothing to evaluate or show
// (no pre-conditions, no variables, no other stages) passes unchanged.
// Otherwise the run's id is taken now, so that pipeline.instanceID is the
// id the run records (one the run does not record is left unused), and
// the returned ctx carries it to Runs.Start.
func (r *Runner) gate(ctx context.Context, st Stage, trigger string, payload []byte, repo *gitrepo.Repo) (context.Context, *gateResult) {
	sc, inPass := stageOf(ctx)
	if inPass && sc.name == st.Name {
		sc.pass.set(st.Name, StatusPending, true)
	}
	g := &gateResult{payload: payload}
	c := st.exprs
	if !c.gated(st.Index) {
		return ctx, g
	}
	id, err := r.DB.NextID(ctx, "run")
	if err != nil {
		g.fail = err
		return ctx, g
	}
	ctx = context.WithValue(ctx, reserveKey, &reservation{id: id})
	tr, trIndex := r.triggerOf(ctx, st, trigger, payload, repo)
	in := &expr.Input{
		Organization: expr.Organization{Name: c.org},
		Project:      expr.Project{Name: st.Pipeline.Project},
		Pipeline:     expr.Pipeline{Name: st.Pipeline.Name, InstanceID: id},
		Trigger:      tr,
		CurrentStage: expr.Stage{Name: st.Name, Status: StatusInProgress},
		Stages:       map[string]expr.Stage{},
	}
	var shown []stageShown
	for _, n := range c.graph {
		s := stageShown{Name: n.Name, Type: n.Type, Status: StatusNotRun}
		switch {
		case n.Name == st.Name:
			s.Status = StatusInProgress
		case n.Type != "SystemSync":
			s.Message = NotRunByBot
		case inPass:
			s.Status = sc.pass.get(n.Name)
		}
		in.Stages[n.Name] = expr.Stage{Name: n.Name, Status: s.Status}
		shown = append(shown, s)
	}
	g.skip, g.fail = evaluate(in, c, st.Index, trIndex)
	used := usedOf(in, c.variables(st.Index, trIndex))
	if len(shown) < 2 {
		shown = nil
	}
	g.payload = withRunFacts(payload, runFacts{Stage: st.Name, Variables: used, Stages: shown})
	return ctx, g
}

// evaluate evaluates the variables of stage i, then its pre-conditions in
// order, the first false one skipping the stage.
func evaluate(in *expr.Input, c *pipelineExprs, i, trigger int) (skip string, fail error) {
	se := c.stages[i]
	if se != nil && se.err != nil {
		return "", se.err
	}
	if _, err := expr.EvalVariables(in, c.variables(i, trigger)); err != nil {
		return "", err
	}
	if se == nil {
		return "", nil
	}
	for _, pc := range se.conds {
		ok, err := pc.prg.True(in)
		if err != nil {
			return "", fmt.Errorf("pre-condition %s `%s`: %w", pc.Field, pc.Expression, err)
		}
		if !ok {
			return fmt.Sprintf("skipped: pre-condition `%s` (%s) is false", pc.Expression, pc.Field), nil
		}
	}
	return "", nil
}

// usedOf lists the values of in.Variables the run used, one a name (the
// narrowest scope's), a Secret's name only.
func usedOf(in *expr.Input, vars []expr.Compiled) []expr.Used {
	var out []expr.Used
	at := map[string]int{}
	for _, v := range vars {
		if _, ok := in.Variables[v.Name]; !ok {
			continue
		}
		u := expr.Used{Name: v.Name, Type: v.Type, Scope: v.Scope}
		if i, seen := at[v.Name]; seen {
			out[i] = u
		} else {
			at[v.Name] = len(out)
			out = append(out, u)
		}
	}
	for i, u := range out {
		if u.Type != expr.TypeSecret {
			out[i].Value = expr.Native(in.Variables[u.Name])
		}
	}
	return out
}

// stageShown is one of the pipeline's stages as a run's payload shows it.
type stageShown struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// runFacts are what a gated run adds to its event payload: its stage, the
// variables it used, and the pipeline's stages as the run found them.
type runFacts struct {
	Stage     string       `json:"stage"`
	Variables []expr.Used  `json:"variables,omitempty"`
	Stages    []stageShown `json:"stages,omitempty"`
}

// withRunFacts adds facts to a payload, a JSON object (its keys first, in
// their order), or another value (under "event").
func withRunFacts(payload []byte, facts runFacts) []byte {
	add, err := json.Marshal(facts)
	if err != nil {
		return payload
	}
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		if len(trimmed) == 0 {
			return add
		}
		b, _ := json.Marshal(string(payload))
		trimmed = b
	}
	if trimmed[0] != '{' {
		return append(append([]byte(`{"event":`), trimmed...), append([]byte{','}, add[1:]...)...)
	}
	body := bytes.TrimSpace(trimmed[1 : len(trimmed)-1])
	if len(body) == 0 {
		return add
	}
	out := append([]byte{'{'}, body...)
	return append(append(out, ','), add[1:]...)
}

// triggerOf is the trigger of a run as expressions read it, and its
// index in spec.triggers (-1: none of them, such as a manual run): its
// type; its name (a Cron run's trigger; for a push, the first Webhook
// trigger watching the source whose paths the change touched); the event
// payload; the paths the change touched (from the payload's before and
// after commits, when the source holds them).
func (r *Runner) triggerOf(ctx context.Context, st Stage, trigger string, payload []byte, repo *gitrepo.Repo) (expr.Trigger, int) {
	tr := expr.Trigger{Type: trigger, When: time.Now().UTC()}
	var p any
	if err := json.Unmarshal(payload, &p); err == nil {
		if m, ok := p.(map[string]any); ok {
			tr.Payload = m
		} else if p != nil {
			tr.Payload = map[string]any{"event": p}
		}
	}
	before, after := commitsOf(tr.Payload)
	if repo != nil && after != "" && before != "" && strings.Trim(before, "0") != "" {
		if paths, err := repo.ChangedPaths(ctx, before, after); err == nil {
			tr.Files = paths
		}
	}
	index := -1
	switch trigger {
	case TriggerCron:
		cron, _ := tr.Payload["cron"].(map[string]any)
		name, _ := cron["trigger"].(string)
		for _, t := range st.Triggers {
			if t.Type == TriggerCron && t.Name == name {
				index = t.Index
				break
			}
		}
	case TriggerWebhook:
		for _, t := range st.Triggers {
			if t.Type != TriggerWebhook || !st.watchesSource(t.Repo) {
				continue
			}
			if len(t.Repo.Paths) == 0 || anyMatch(t.Repo.Paths, tr.Files) {
				index = t.Index
				break
			}
		}
	}
	for _, t := range st.Triggers {
		if t.Index == index {
			tr.Name = t.Name
		}
	}
	return tr, index
}

func anyMatch(ps Paths, files []string) bool {
	for _, f := range files {
		if ps.Match(f) {
			return true
		}
	}
	return false
}

// commitsOf finds the before and after commits of an event payload: at
// its top (a push) or in one of its values (a poll's, a Cron tick's).
func commitsOf(p map[string]any) (before, after string) {
	get := func(m map[string]any) (string, string) {
		b, _ := m["before"].(string)
		a, _ := m["after"].(string)
		return b, a
	}
	if b, a := get(p); a != "" {
		return b, a
	}
	for _, v := range p {
		if m, ok := v.(map[string]any); ok {
			if b, a := get(m); a != "" {
				return b, a
			}
		}
	}
	return "", ""
}

// stopRun records the run of a stage the gate stopped: Skipped with the
// pre-condition that was false, or Failed with what failed.
func (r *Runner) stopRun(ctx context.Context, st Stage, trigger, sha string, g *gateResult) (*Run, error) {
	status, msg := StatusSkipped, g.skip
	if g.fail != nil {
		status, msg = StatusFailed, g.fail.Error()
	}
	id, err := r.Runs.Start(ctx, st.PipelineName(), trigger, sha, g.payload)
	if err != nil {
		return nil, err
	}
	if err := r.Runs.Finish(context.WithoutCancel(ctx), id, status, sha, msg, nil); err != nil {
		return nil, err
	}
	r.Log.Info("stage not run", "stage", st.ID(), "run", id, "status", status, "why", msg)
	return r.Runs.Get(ctx, id)
}

type ctxKey int

const (
	reserveKey ctxKey = iota
	stageKey
)

// reservation is a run id taken before its run is recorded; the first
// Runs.Start in its context records the run under it.
type reservation struct {
	id    int64
	taken atomic.Bool
}

// nextID is the id of a run Start records: the reservation ctx carries,
// or the next one.
func (r *Runs) nextID(ctx context.Context) (int64, error) {
	if res, _ := ctx.Value(reserveKey).(*reservation); res != nil && res.taken.CompareAndSwap(false, true) {
		return res.id, nil
	}
	return r.db.NextID(ctx, "run")
}

// stageEnded notes, for the pipeline's pass (EachStage), the status of a
// run of the stage ctx runs.
func stageEnded(ctx context.Context, status string) {
	if sc, ok := stageOf(ctx); ok {
		sc.pass.set(sc.name, status, false)
	}
}
