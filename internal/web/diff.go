package web

import (
	"strings"
	"time"

	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/systemsync/systemsync/internal/spec"
)

// diffLine is one line of a diff: Op is "+", "-" or " ".
type diffLine struct {
	Op, Text string
}

// lineDiff returns the line diff from old to new, and whether they differ.
// It gives up finding the shortest diff after a second (a bounded cost on
// any input): the diff is then longer, never wrong.
func lineDiff(old, new string) ([]diffLine, bool) {
	var out []diffLine
	changed := false
	for _, d := range diff.DoWithTimeout(old, new, time.Second) {
		op := " "
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			op, changed = "+", true
		case diffmatchpatch.DiffDelete:
			op, changed = "-", true
		}
		for _, l := range strings.SplitAfter(d.Text, "\n") {
			if l == "" {
				continue
			}
			out = append(out, diffLine{Op: op, Text: strings.TrimSuffix(l, "\n")})
		}
	}
	return out, changed
}

// renderYAML is the YAML the console shows of an object: Rafay-style, as
// it is written to Git.
func renderYAML(obj map[string]any) string {
	b, err := spec.Render(spec.Canonical(obj))
	if err != nil {
		return "# cannot render: " + err.Error() + "\n"
	}
	return string(b)
}

// numberedLine is one line of a YAML text with the problems found on it.
type numberedLine struct {
	N        int
	Text     string
	Problems []spec.Problem
}

// withProblems numbers text's lines and puts each problem on its line;
// the problems of no line (or a line past the end) are returned apart.
func withProblems(text string, problems []spec.Problem) ([]numberedLine, []spec.Problem) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	out := make([]numberedLine, len(lines))
	for i, l := range lines {
		out[i] = numberedLine{N: i + 1, Text: l}
	}
	var general []spec.Problem
	for _, p := range problems {
		if p.Line >= 1 && p.Line <= len(out) {
			out[p.Line-1].Problems = append(out[p.Line-1].Problems, p)
		} else {
			general = append(general, p)
		}
	}
	return out, general
}
