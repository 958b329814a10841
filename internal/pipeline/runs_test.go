package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// A run with many rows (a full export's) keeps them all, in order, and a
// second Finish replaces them.
func TestRunsFinishManyRows(t *testing.T) {
	ctx := context.Background()
	runs := pipeline.NewRuns(storetest.Open(t))
	id, err := runs.Start(ctx, "default/p", pipeline.TriggerManual, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows []pipeline.Row
	for i := range 450 {
		rows = append(rows, pipeline.Row{Kind: "Namespace", Project: "default", Name: fmt.Sprintf("ns-%03d", i),
			Path: fmt.Sprintf("projects/default/namespaces/ns-%03d.yaml", i), Action: "Export", Outcome: "Applied", Message: fmt.Sprint(i)})
	}
	if err := runs.Finish(ctx, id, pipeline.StatusOf(rows), "", "", rows); err != nil {
		t.Fatal(err)
	}
	run, err := runs.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Rows) != len(rows) {
		t.Fatalf("%d rows, want %d", len(run.Rows), len(rows))
	}
	for i := range rows {
		if run.Rows[i] != rows[i] {
			t.Fatalf("row %d is %+v, want %+v", i, run.Rows[i], rows[i])
		}
	}
	if err := runs.Finish(ctx, id, pipeline.StatusOf(rows[:1]), "", "", rows[:1]); err != nil {
		t.Fatal(err)
	}
	if run, err = runs.Get(ctx, id); err != nil || len(run.Rows) != 1 || run.Rows[0] != rows[0] {
		t.Fatalf("after finishing again with one row: %v, %v", run, err)
	}
}
