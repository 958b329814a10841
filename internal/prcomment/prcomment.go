// Package prcomment writes what a person reads on a pull request: the
// sticky plan comment, the check run's output and annotations, and the
// apply comment, each within GitHub's limits.
package prcomment

import (
	"fmt"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
)

// GitHub's limits.
const (
	MaxCommentChars        = 65536 // issue comment body
	MaxCheckTextChars      = 65535 // check run output summary and text
	MaxAnnotationsPerWrite = 50    // annotations in one check run request
)

// Marker is the hidden line that identifies the plan comment of one
// pipeline stage on a pull request, so that it is edited in place.
func Marker(stageID string) string { return "<!-- systemsync:plan " + stageID + " -->" }

// Input is a plan and where it was made.
type Input struct {
	StageID string // project/pipeline/stage
	HeadSHA string
	RepoURL string // the repository's web URL, for links to files at HeadSHA
	Plan    *reconcile.Plan
	// Moved, when set, is why the plan was made again: the resources the
	// pull request touches that changed in the system since the plan that
	// was reviewed (conflicts in Plan).
	Moved []Moved
}

// Moved is a change the system made to a resource a pull request touches,
// after the pull request's plan.
type Moved struct {
	Key  spec.Key
	Type string // Create, Update or Delete
	User string // who, "" when unknown
	Time time.Time
}

// movedText is the comment's section on what moved, "" when nothing did.
func movedText(moved []Moved) string {
	if len(moved) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "⚠️ **Planned again: %d resource(s) this pull request touches changed in the system since it was planned.** "+
		"A merge now does not apply them: each is a conflict, so that neither side is overwritten. "+
		"Push, comment `/systemsync plan` or re-run the check to plan against the system as it is now.\n\n", len(moved))
	b.WriteString("| change in the system | resource | by | when |\n| --- | --- | --- | --- |\n")
	for i, m := range moved {
		if i == maxMovedRows {
			fmt.Fprintf(&b, "\n… %d more left out.\n", len(moved)-i)
			break
		}
		by, when := m.User, ""
		if by == "" {
			by = "—"
		}
		if !m.Time.IsZero() {
			when = m.Time.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", escapeCell(m.Type), resourceName(m.Key), escapeCell(by), when)
	}
	b.WriteString("\n")
	return b.String()
}

// maxMovedRows bounds the rows of the section on what moved.
const maxMovedRows = 50

var actionOrder = []reconcile.Action{
	reconcile.Create, reconcile.Update, reconcile.Delete, reconcile.Export, reconcile.ExportDelete,
	reconcile.Conflict, reconcile.Invalid, reconcile.Blocked, reconcile.Skip, reconcile.Ignored, reconcile.Record,
}

var actionWords = map[reconcile.Action]string{
	reconcile.Create: "to create", reconcile.Update: "to update", reconcile.Delete: "to delete",
	reconcile.Export: "to write to Git", reconcile.ExportDelete: "to delete from Git",
	reconcile.Conflict: "in conflict", reconcile.Invalid: "invalid", reconcile.Blocked: "blocked (secret)",
	reconcile.Skip: "skipped (not synced from Git)", reconcile.Ignored: "ignored", reconcile.Record: "already in sync",
}

var actionIcons = map[reconcile.Action]string{
	reconcile.Create: "➕", reconcile.Update: "✏️", reconcile.Delete: "🗑️", reconcile.Export: "⬅️", reconcile.ExportDelete: "⬅️",
	reconcile.Conflict: "⚠️", reconcile.Invalid: "❌", reconcile.Blocked: "🔒", reconcile.Skip: "⏭️", reconcile.Ignored: "➖", reconcile.Record: "✔️",
}

// Counts renders "2 to create, 1 to update …", or "no changes".
func Counts(p *reconcile.Plan) string {
	var parts []string
	for _, a := range actionOrder {
		if n := p.Count(a); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, actionWords[a]))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// Failing reports whether the plan has an invalid or blocked file: the
// check run concludes failure.
func Failing(p *reconcile.Plan) bool {
	return p.Count(reconcile.Invalid)+p.Count(reconcile.Blocked) > 0
}

func (in Input) fileLink(path string, line int) string {
	if in.RepoURL == "" || in.HeadSHA == "" {
		return "`" + path + "`"
	}
	u := strings.TrimSuffix(in.RepoURL, "/") + "/blob/" + in.HeadSHA + "/" + path
	if line > 0 {
		u += fmt.Sprintf("#L%d", line)
	}
	return "[`" + path + "`](" + u + ")"
}

func resourceName(k spec.Key) string {
	if k.Project == "" {
		return k.Kind + " `" + k.Name + "`"
	}
	return k.Kind + " `" + k.Project + "/" + k.Name + "`"
}

func firstLine(c *reconcile.Change) int {
	for _, p := range c.Problems {
		if p.Line > 0 {
			return p.Line
		}
	}
	return 0
}

func note(c *reconcile.Change) string {
	n := c.Reason
	switch {
	case c.Action == reconcile.Invalid || c.Action == reconcile.Blocked:
		return fmt.Sprintf("%d problem(s)", len(c.Problems))
	case (c.Action == reconcile.Update || c.Action == reconcile.Export || c.Action == reconcile.Conflict) && len(c.Diff) > 0:
		n = fmt.Sprintf("%d field(s)", len(c.Diff))
	}
	if w := len(spec.Warnings(c.Problems)); w > 0 {
		if n != "" {
			n += "; "
		}
		n += fmt.Sprintf("%d warning(s)", w)
	}
	return n
}

func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

// PlanComment renders the sticky plan comment, at most MaxCommentChars:
// when the plan is too long, rows are left out and a note says how many
// and where to see them all.
func PlanComment(in Input) string {
	changes := in.Plan.Visible()
	head := fmt.Sprintf("%s\n### System Sync plan for `%s`\n\nHead `%s`: **%s**.\n\n",
		Marker(in.StageID), in.StageID, short(in.HeadSHA), Counts(in.Plan)) + movedText(in.Moved)
	foot := "\nMerging applies this plan. Comment `/systemsync plan` to plan again, `/systemsync help` for the commands.\n"
	if len(changes) == 0 {
		return head + "Nothing to do: the system already matches this branch.\n" + foot
	}
	rows := make([]string, len(changes))
	for i, c := range changes {
		rows[i] = fmt.Sprintf("| %s %s | %s | %s | %s |\n", actionIcons[c.Action], c.Action, resourceName(c.Key),
			in.fileLink(c.Path, firstLine(c)), escapeCell(note(c)))
	}
	var details []string
	for _, c := range changes {
		if len(c.Diff) > 0 {
			var b strings.Builder
			fmt.Fprintf(&b, "<details><summary>%s %s: %d field(s)</summary>\n\n```diff\n", c.Action, resourceName(c.Key), len(c.Diff))
			for _, d := range c.Diff {
				if !d.OldMissing {
					fmt.Fprintf(&b, "- %s: %s\n", d.Field, d.Old)
				}
				if !d.NewMissing {
					fmt.Fprintf(&b, "+ %s: %s\n", d.Field, d.New)
				}
			}
			b.WriteString("```\n</details>\n")
			details = append(details, b.String())
		}
	}
	var problems []string
	for _, c := range changes {
		for _, p := range c.Problems {
			problems = append(problems, "- `"+strings.ReplaceAll(p.String(), "`", "'")+"`\n")
		}
	}
	const tableHead = "| action | resource | file | |\n| --- | --- | --- | --- |\n"
	build := func(nRows, nDetails, nProblems int) string {
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(tableHead)
		for _, r := range rows[:nRows] {
			b.WriteString(r)
		}
		if left := len(rows) - nRows; left > 0 {
			fmt.Fprintf(&b, "\n**%d more row(s) left out** to stay within GitHub's comment size: the check run `systemsync/plan` lists every problem on its line, and `app validate` checks the folder locally.\n", left)
		}
		if nProblems > 0 {
			b.WriteString("\n**Problems**\n\n")
			for _, p := range problems[:nProblems] {
				b.WriteString(p)
			}
			if left := len(problems) - nProblems; left > 0 {
				fmt.Fprintf(&b, "- … %d more problem(s) left out: see the check run `systemsync/plan`\n", left)
			}
		}
		if nDetails > 0 {
			b.WriteString("\n")
			for _, d := range details[:nDetails] {
				b.WriteString(d)
			}
			if left := len(details) - nDetails; left > 0 {
				fmt.Fprintf(&b, "\n%d more diff(s) left out to stay within GitHub's comment size.\n", left)
			}
		}
		b.WriteString(foot)
		return b.String()
	}
	// Drop diffs first, then problems, then rows, until it fits.
	nR, nD, nP := len(rows), len(details), len(problems)
	for {
		s := build(nR, nD, nP)
		if len([]rune(s)) <= MaxCommentChars {
			return s
		}
		switch {
		case nD > 0:
			nD = shrink(nD)
		case nP > 0:
			nP = shrink(nP)
		default:
			nR = shrink(nR)
		}
	}
}

func shrink(n int) int {
	if n <= 8 {
		return n - 1
	}
	return n * 3 / 4
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Annotation is one check run annotation, on a file's line.
type Annotation struct {
	Path      string
	StartLine int
	EndLine   int
	Level     string // failure, warning or notice
	Title     string
	Message   string
}

// Annotations returns one annotation per problem of the plan, on its line
// (line 1 when the problem has none): a failure for an error, a warning for
// a warning.
func Annotations(p *reconcile.Plan) []Annotation {
	var out []Annotation
	for _, c := range p.Changes {
		for _, pr := range c.Problems {
			line := pr.Line
			if line < 1 {
				line = 1
			}
			path := pr.File
			if path == "" {
				path = c.Path
			}
			title, level := "Invalid spec", "failure"
			switch {
			case pr.IsWarning():
				title, level = "Warning", "warning"
			case c.Action == reconcile.Blocked:
				title = "Clear-text secret"
			}
			msg := pr.Message
			if pr.Field != "" {
				msg = pr.Field + ": " + msg
			}
			out = append(out, Annotation{Path: path, StartLine: line, EndLine: line, Level: level, Title: title, Message: msg})
		}
	}
	return out
}

// CheckOutput returns the check run's conclusion, title, summary and text.
func CheckOutput(in Input) (conclusion, title, summary, text string) {
	conclusion = "success"
	if Failing(in.Plan) {
		conclusion = "failure"
	}
	title = Counts(in.Plan)
	summary = fmt.Sprintf("System Sync plan for `%s` at `%s`: %s.", in.StageID, short(in.HeadSHA), Counts(in.Plan))
	if len(in.Moved) > 0 {
		var names []string
		for i, m := range in.Moved {
			if i == maxMovedRows {
				names = append(names, fmt.Sprintf("%d more", len(in.Moved)-i))
				break
			}
			names = append(names, m.Key.String())
		}
		summary += fmt.Sprintf(" Planned again: %d resource(s) changed in the system since the last plan (%s).", len(in.Moved), strings.Join(names, ", "))
	}
	text = PlanComment(in)
	if len([]rune(text)) > MaxCheckTextChars {
		text = string([]rune(text)[:MaxCheckTextChars-200]) + "\n\n… cut to stay within GitHub's limit.\n"
	}
	return conclusion, title, summary, text
}

// ApplyComment renders what a merge applied, for the merged pull request.
func ApplyComment(stageID string, runID int64, sha, status string, results []reconcile.Result, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### System Sync applied `%s`\n\nCommit `%s`, run %d: **%s**.\n\n", stageID, short(sha), runID, status)
	applied, failed, skipped := 0, 0, 0
	var rows []string
	for _, r := range results {
		c := r.Change
		switch {
		case r.Outcome == reconcile.Applied && (c.Action == reconcile.Create || c.Action == reconcile.Update || c.Action == reconcile.Delete):
			applied++
			rows = append(rows, fmt.Sprintf("| ✅ %s | %s | applied | |\n", c.Action, resourceName(c.Key)))
		case r.Outcome == reconcile.Failed:
			failed++
			rows = append(rows, fmt.Sprintf("| ❌ %s | %s | failed | %s |\n", c.Action, resourceName(c.Key), escapeCell(r.Message)))
		case c.Action == reconcile.Invalid || c.Action == reconcile.Blocked || c.Action == reconcile.Conflict || c.Action == reconcile.Skip:
			skipped++
			rows = append(rows, fmt.Sprintf("| %s %s | %s | not applied | %s |\n", actionIcons[c.Action], c.Action, resourceName(c.Key), escapeCell(r.Message)))
		}
	}
	fmt.Fprintf(&b, "%d applied, %d failed, %d not applied.\n\n", applied, failed, skipped)
	if len(rows) > 0 {
		b.WriteString("| action | resource | outcome | message |\n| --- | --- | --- | --- |\n")
		for i, r := range rows {
			if b.Len()+len(r) > MaxCommentChars-400 {
				fmt.Fprintf(&b, "\n%d more row(s) left out: see the run", len(rows)-i)
				if runURL != "" {
					fmt.Fprintf(&b, " at %s", runURL)
				}
				b.WriteString(".\n")
				break
			}
			b.WriteString(r)
		}
	}
	if runURL != "" {
		fmt.Fprintf(&b, "\nRun details: %s\n", runURL)
	}
	return b.String()
}
