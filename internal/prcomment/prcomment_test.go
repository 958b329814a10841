package prcomment

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

func ns(name string) spec.Key { return spec.Key{Kind: "Namespace", Project: "default", Name: name} }

func samplePlan() *reconcile.Plan {
	return &reconcile.Plan{Changes: []*reconcile.Change{
		{Key: ns("a"), Path: "projects/default/namespaces/a.yaml", Action: reconcile.Create},
		{Key: ns("b"), Path: "projects/default/namespaces/b.yaml", Action: reconcile.Create},
		{Key: ns("c"), Path: "projects/default/namespaces/c.yaml", Action: reconcile.Update,
			Diff: []reconcile.FieldDiff{{Field: "spec.placement.labels[0].value", Old: `"dev"`, New: `"prod"`}}},
		{Key: ns("d"), Path: "projects/default/namespaces/d.yaml", Action: reconcile.Delete},
		{Key: ns("e"), Path: "projects/default/namespaces/e.yaml", Action: reconcile.NoOp},
		{Key: ns("f"), Path: "projects/default/namespaces/f.yaml", Action: reconcile.Invalid,
			Problems: []spec.Problem{{File: "projects/default/namespaces/f.yaml", Line: 4, Message: "yaml: line 4: did not find expected node content"}}},
		{Key: spec.Key{Kind: "Repository", Project: "default", Name: "git"}, Path: "projects/default/repositories/git.yaml", Action: reconcile.Blocked,
			Problems: []spec.Problem{{File: "projects/default/repositories/git.yaml", Line: 11, Field: "spec.credentials.password", Message: "clear-text secret"}}},
	}}
}

var rowRE = regexp.MustCompile(`(?m)^\| \S+ (create|update|delete|invalid|blocked|export|conflict|ignored) \|`)

func TestPlanCommentShowsEachChangeOnce(t *testing.T) {
	in := Input{StageID: "default/system-sync/sync", HeadSHA: "0123456789abcdef", RepoURL: "https://github.com/o/r", Plan: samplePlan()}
	body := PlanComment(in)
	if !strings.HasPrefix(body, Marker(in.StageID)) {
		t.Fatalf("comment does not start with its marker:\n%s", body)
	}
	if rows := rowRE.FindAllString(body, -1); len(rows) != 6 {
		t.Fatalf("%d rows, want 6 (no-op hidden):\n%s", len(rows), body)
	}
	for _, want := range []string{
		"2 to create, 1 to update, 1 to delete, 1 invalid, 1 blocked (secret)",
		"[`projects/default/namespaces/f.yaml`](https://github.com/o/r/blob/0123456789abcdef/projects/default/namespaces/f.yaml#L4)",
		"- spec.placement.labels[0].value: \"dev\"\n+ spec.placement.labels[0].value: \"prod\"",
		"projects/default/repositories/git.yaml:11: spec.credentials.password: clear-text secret",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
	conclusion, _, _, _ := CheckOutput(in)
	if conclusion != "failure" {
		t.Fatalf("conclusion %s with invalid files", conclusion)
	}
	anns := Annotations(in.Plan)
	if len(anns) != 2 || anns[0].StartLine != 4 || anns[1].StartLine != 11 || anns[1].Path != "projects/default/repositories/git.yaml" {
		t.Fatalf("annotations %+v", anns)
	}
}

func TestPlanCommentStaysWithinGitHubsLimit(t *testing.T) {
	plan := &reconcile.Plan{}
	for i := 0; i < 3000; i++ {
		k := ns(fmt.Sprintf("namespace-with-a-long-name-%04d", i))
		plan.Changes = append(plan.Changes, &reconcile.Change{Key: k, Path: spec.PathFor(k), Action: reconcile.Invalid,
			Problems: []spec.Problem{{File: spec.PathFor(k), Line: 3, Field: "metadata.name", Message: strings.Repeat("bad ", 10)}}})
	}
	body := PlanComment(Input{StageID: "p/x/s", HeadSHA: "abc", RepoURL: "https://github.com/o/r", Plan: plan})
	if n := len([]rune(body)); n > MaxCommentChars {
		t.Fatalf("comment is %d characters", n)
	}
	shown := len(rowRE.FindAllString(body, -1))
	m := regexp.MustCompile(`\*\*(\d+) more row\(s\) left out\*\*`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no note about rows left out")
	}
	var left int
	fmt.Sscan(m[1], &left)
	if shown+left != 3000 || shown == 0 {
		t.Fatalf("%d shown + %d left out != 3000", shown, left)
	}
	if !strings.Contains(body, "systemsync/plan") {
		t.Fatal("the note does not say where to see the rest")
	}
}

func TestNoChanges(t *testing.T) {
	body := PlanComment(Input{StageID: "p/x/s", HeadSHA: "abc", Plan: &reconcile.Plan{}})
	if !strings.Contains(body, "no changes") || !strings.Contains(body, "Nothing to do") {
		t.Fatalf("empty plan comment:\n%s", body)
	}
}

// A plan made again because the system changed says what moved, by whom
// and when, in the comment and the check run's summary; a pipe in a user
// name does not break the table.
func TestPlanMadeAgainSaysWhatMoved(t *testing.T) {
	at := time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)
	in := Input{StageID: "default/system-sync/sync", HeadSHA: "0123456789abcdef", Plan: &reconcile.Plan{Changes: []*reconcile.Change{
		{Key: ns("c"), Path: "projects/default/namespaces/c.yaml", Action: reconcile.Conflict, Reason: "changed in the system after the plan"},
	}}, Moved: []Moved{{Key: ns("c"), Type: "Update", User: "alice|x@example.com", Time: at}}}
	body := PlanComment(in)
	for _, want := range []string{"Planned again: 1 resource(s)", "| Update | Namespace `default/c` | alice\\|x@example.com | 2025-06-01T09:30:00Z |"} {
		if !strings.Contains(body, want) {
			t.Fatalf("comment lacks %q:\n%s", want, body)
		}
	}
	if _, _, summary, _ := CheckOutput(in); !strings.Contains(summary, "Planned again: 1 resource(s) changed in the system since the last plan (Namespace/default/c)") {
		t.Fatalf("summary %q", summary)
	}
	in.Moved = nil
	if body := PlanComment(in); strings.Contains(body, "Planned again") {
		t.Fatalf("a plan with nothing moved says it was planned again:\n%s", body)
	}
}
