package spec

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseCronReadsFiveFieldsInUTC(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		expr string
		at   string
		due  bool
	}{
		{"* * * * *", "2025-03-04T10:17:42Z", true},
		{"*/5 * * * *", "2025-03-04T10:15:00Z", true},
		{"*/5 * * * *", "2025-03-04T10:15:59.9Z", true}, // any moment of a matching minute
		{"*/5 * * * *", "2025-03-04T10:16:00Z", false},
		{"0 3 * * 1-5", "2025-03-04T03:00:30Z", true},  // a Tuesday
		{"0 3 * * 1-5", "2025-03-08T03:00:30Z", false}, // a Saturday
		{"0 3 * * *", "2025-03-04T03:00:00+01:00", false},
		{"CRON_TZ=Europe/Berlin 0 3 * * *", "2025-03-04T03:00:00+01:00", true},
		{"  30 12 1 * *  ", "2025-03-01T12:30:00Z", true},
		{"0 0 29 2 *", "2028-02-29T00:00:00Z", true}, // leap days come
	}
	for _, c := range cases {
		s, err := ParseCron(c.expr)
		if err != nil {
			t.Fatalf("%q: %v", c.expr, err)
		}
		if got := CronDue(s, at(c.at)); got != c.due {
			t.Errorf("%q due at %s = %v, want %v", c.expr, c.at, got, c.due)
		}
	}
	for expr, want := range map[string]string{
		"":                          "required",
		"* * * *":                   "expected exactly 5 fields",
		"0 * * * * *":               "expected exactly 5 fields", // six fields (seconds) are not standard cron
		"@daily":                    "descriptors",
		"@every 1m":                 "descriptors",
		"61 * * * *":                "above maximum",
		"*/0 * * * *":               "step",
		"* * * * mon-funday":        "failed to parse",
		"TZ=Nowhere/City * * * * *": "bad location",
		"CRON_TZ=UTC":               "no schedule",
	} {
		_, err := ParseCron(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %q", expr, err, want)
		}
	}
}

const cronPipeline = `apiVersion: gitops.k8smgmt.io/v3
kind: Pipeline
metadata:
  name: nightly
  project: p
spec:
  stages:
  - config:
      gitToSystemSync: true
      sourceRepo:
        repository: repo
        revision: main
    name: sync
    type: SystemSync
  triggers:
  - config:
      cronExpression: '*/5 * * * *'
      repo:
        paths:
        - name: infra/projects
        repository: repo
        revision: main
    name: every-five-minutes
    type: Cron
`

// A Cron trigger's expression is checked where the trigger holds it, on
// its line, in the shape and in Rafay's API's.
func TestValidateCronTrigger(t *testing.T) {
	if p := Validate(parseOne(t, cronPipeline), Context{}); len(p) != 0 {
		t.Fatalf("valid Cron trigger: %v", p)
	}
	cases := []struct {
		from, to string
		line     int
		field    string
		msg      string
	}{
		{"'*/5 * * * *'", "'*/5 * * *'", 17, "spec.triggers[0].config.cronExpression", `"*/5 * * *": not a cron expression of five fields`},
		{"'*/5 * * * *'", "'@hourly'", 17, "spec.triggers[0].config.cronExpression", "descriptors"},
		{"'*/5 * * * *'", "5", 17, "spec.triggers[0].config.cronExpression", "must be a string"},
		{"        - name: infra/projects\n", "        - infra/projects\n", 20, "spec.triggers[0].config.repo.paths[0]", "must be a mapping"},
		{"        revision: main\n    name: every", "        revision: [main]\n    name: every", 22, "spec.triggers[0].config.repo.revision", "must be a string"},
	}
	for _, c := range cases {
		if !strings.Contains(cronPipeline, c.from) {
			t.Fatalf("bad case %q", c.from)
		}
		r := parseOne(t, strings.Replace(cronPipeline, c.from, c.to, 1))
		t.Run(c.field+" "+c.to, func(t *testing.T) { wantOne(t, Validate(r, Context{}), c.line, c.field, c.msg) })
	}

	// One left out never fires: a warning, since Rafay's exporter leaves out what it has no value for.
	r := parseOne(t, strings.Replace(cronPipeline, "      cronExpression: '*/5 * * * *'\n", "", 1))
	wantWarning(t, Validate(r, Context{}), 16, "spec.triggers[0].config.cronExpression", "never fires")

	// A Webhook trigger has no schedule to check; its repository is checked the same way.
	webhook := strings.Replace(strings.Replace(cronPipeline, "      cronExpression: '*/5 * * * *'\n", "", 1), "type: Cron", "type: Webhook", 1)
	if p := Validate(parseOne(t, webhook), Context{}); len(p) != 0 {
		t.Errorf("Webhook trigger with paths: %v", p)
	}

	// Rafay's API writes config.cron.cronExpression and config.cron.repo.git.
	rafay, err := os.ReadFile("../../testdata/rafay-specs/pipeline/openapi-example-pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p := Validate(parseOne(t, string(rafay)), Context{}); len(p) != 0 {
		t.Fatalf("Rafay's example: %v", p)
	}
	bad := strings.Replace(string(rafay), "'*/5 * * * *'", "'*/5 * * * * *'", 1)
	wantOne(t, Validate(parseOne(t, bad), Context{}), 26, "spec.triggers[0].config.cron.cronExpression", "expected exactly 5 fields")
	bad = strings.Replace(string(rafay), "            - name: some/relative/path\n", "            - 7\n", 1)
	wantOne(t, Validate(parseOne(t, bad), Context{}), 30, "spec.triggers[0].config.cron.repo.git.paths[0]", "must be a mapping")
}
