package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadText(t *testing.T, text string, env ...string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, env)
}

func TestVariablesSection(t *testing.T) {
	cfg, err := loadText(t, `organization: acme
variables:
  organization:
  - {name: region, type: String, value: '"eu-west-1"'}
  - {name: replicas, type: Number, value: 3}
  projects:
    demo:
    - {name: region, type: String, value: '"us-east-1"'}
    - {name: token, type: Secret, value: '"s3cret"'}
`)
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Variables
	if cfg.Organization != "acme" || len(v.Organization) != 2 || v.Organization[1].Name != "replicas" || len(v.Projects["demo"]) != 2 {
		t.Fatalf("got organization %q, variables %+v", cfg.Organization, v)
	}
	// The organization's list alone.
	cfg, err = loadText(t, "variables:\n- {name: region, type: String, value: eu-west-1}\n")
	if err != nil || len(cfg.Variables.Organization) != 1 || cfg.Variables.Projects != nil || cfg.Organization != "default" {
		t.Fatalf("list form: %+v, %v", cfg, err)
	}
}

func TestBadVariables(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"variables:\n  organization:\n  - {name: n, type: Number, value: '\"x\"'}\n", `variables.organization[0] (n): "\"x\"" gives string, not a Number`},
		{"variables:\n  projects:\n    demo:\n    - {name: n, type: Whole, value: 1}\n", `variables.projects.demo[0] (n): type "Whole"`},
		{"variables:\n  projects:\n    demo:\n    - {type: String, value: x}\n", "variables.projects.demo[0]: a variable needs a name"},
		{"variables:\n  project:\n    demo: []\n", "variables.project: unknown key"},
	} {
		_, err := loadText(t, c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want …%s…", c.text, err, c.want)
		}
	}
}
