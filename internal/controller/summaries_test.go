package controller_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestSummaries pages a kind's names in order, filters them by a part of
// the name (its LIKE wildcards taken literally), and counts kinds.
func TestSummaries(t *testing.T) {
	ctx := context.Background()
	st := controller.NewStore(storetest.Open(t))
	apply := func(kind, project, name string, obj map[string]any) {
		t.Helper()
		if _, _, err := st.Apply(ctx, spec.Key{Kind: kind, Project: project, Name: name}, obj, "a@example.com", ""); err != nil {
			t.Fatal(err)
		}
	}
	apply("Project", "", "p", map[string]any{"apiVersion": "system.k8smgmt.io/v3", "kind": "Project", "metadata": map[string]any{"name": "p"}})
	for i := range 120 {
		name := fmt.Sprintf("team-%03d", i)
		if i%10 == 0 {
			name = fmt.Sprintf("ops-%03d", i)
		}
		apply("Namespace", "p", name, map[string]any{"apiVersion": "infra.k8smgmt.io/v3", "kind": "Namespace",
			"metadata": map[string]any{"name": name, "project": "p"}, "spec": map[string]any{}})
	}
	page, total, err := st.Summaries(ctx, "Namespace", "p", "", 50, 100)
	if err != nil || total != 120 || len(page) != 20 || page[0].Name != "team-098" || page[0].ResourceVersion == 0 || page[0].ModifiedAt.IsZero() {
		t.Fatalf("page from 100: %d of %d, first %+v, %v", len(page), total, page[0], err)
	}
	page, total, err = st.Summaries(ctx, "Namespace", "p", "OPS", 5, 0)
	if err != nil || total != 12 || len(page) != 5 || page[0].Name != "ops-000" || page[4].Name != "ops-040" {
		t.Fatalf("filtered by OPS: %+v of %d, %v", page, total, err)
	}
	if page, total, err := st.Summaries(ctx, "Namespace", "p", "_", 5, 0); err != nil || total != 0 || len(page) != 0 {
		t.Fatalf("filtered by _ (no name holds one): %+v of %d, %v", page, total, err)
	}
	counts, err := st.Counts(ctx, "p")
	if err != nil || counts["Namespace"] != 120 || len(counts) != 1 {
		t.Fatalf("counts %v, %v", counts, err)
	}
}
