package expr

import (
	"fmt"
	"strings"
	"text/template"
)

// IsTemplate reports whether a field's text holds a template ({{ … }}).
func IsTemplate(text string) bool { return strings.Contains(text, "{{") }

// parseTemplate reads a field's template: Go's text/template, with
// .variables the run's variables ({{ .variables.branch }}, or
// {{ index .variables "my-branch" }} for a name with a dash).
func parseTemplate(text string) (*template.Template, error) {
	t, err := template.New("field").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", text, err)
	}
	return t, nil
}

// CheckTemplate reports a field's template that does not parse.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}

// Render writes a field's template with vars (Native values by name):
// an unknown variable is an error.
func Render(text string, vars map[string]any) (string, error) {
	if !IsTemplate(text) {
		return text, nil
	}
	t, err := parseTemplate(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, map[string]any{"variables": vars}); err != nil {
		return "", fmt.Errorf("%q: %w", text, err)
	}
	return b.String(), nil
}
