package spec

import (
	"encoding/json"
	"strings"
	"testing"
)

// parseOne parses a YAML spec that must hold exactly one resource.
func parseOne(t *testing.T, data string) *Resource {
	t.Helper()
	rs, probs := Parse("f.yaml", []byte(data))
	if len(probs) != 0 || len(rs) != 1 {
		t.Fatalf("parse: %d resources, %v", len(rs), probs)
	}
	return rs[0]
}

// wantOne asserts that problems is exactly one error at line on field
// whose message contains each of msgs.
func wantOne(t *testing.T, problems []Problem, line int, field string, msgs ...string) {
	t.Helper()
	wantSeverity(t, SeverityError, problems, line, field, msgs...)
}

// wantWarning is wantOne for a warning.
func wantWarning(t *testing.T, problems []Problem, line int, field string, msgs ...string) {
	t.Helper()
	wantSeverity(t, SeverityWarning, problems, line, field, msgs...)
}

func wantSeverity(t *testing.T, sev Severity, problems []Problem, line int, field string, msgs ...string) {
	t.Helper()
	if len(problems) != 1 {
		t.Fatalf("got %d problems %v, want one on %s", len(problems), problems, field)
	}
	p := problems[0]
	if p.File != "f.yaml" || p.Line != line || p.Field != field || p.Severity != sev {
		t.Errorf("got %v (%s), want f.yaml:%d: %s (%s)", p, p.Severity, line, field, sev)
	}
	for _, m := range msgs {
		if !strings.Contains(p.Message, m) {
			t.Errorf("message %q lacks %q", p.Message, m)
		}
	}
}

const validNamespace = `apiVersion: infra.k8smgmt.io/v3
kind: Namespace
metadata:
  name: team-a
  project: proj
  labels:
    team: a
spec:
  placement:
    labels:
    - key: rafay.dev/clusterName
      value: c1
`

func TestValidateValid(t *testing.T) {
	r := parseOne(t, validNamespace)
	if p := Validate(r, Context{Kind: "Namespace", Project: "proj", Name: "team-a"}); len(p) != 0 {
		t.Errorf("valid namespace: %v", p)
	}
}

func TestValidateUnknownKind(t *testing.T) {
	r := parseOne(t, strings.Replace(validNamespace, "kind: Namespace", "kind: Namespaces", 1))
	wantOne(t, Validate(r, Context{}), 2, "kind", `unknown kind "Namespaces"`, "did you mean Namespace?", "only v3 kinds sync: Project, Cluster")
}

func TestValidateKindRequired(t *testing.T) {
	r := parseOne(t, strings.Replace(validNamespace, "kind: Namespace\n", "", 1))
	wantOne(t, Validate(r, Context{}), 1, "kind", "required")
}

func TestValidateAPIVersionMismatch(t *testing.T) {
	r := parseOne(t, strings.Replace(validNamespace, "infra.k8smgmt.io/v3", "apps.k8smgmt.io/v3", 1))
	wantOne(t, Validate(r, Context{}), 1, "apiVersion", `"apps.k8smgmt.io/v3" does not match kind Namespace`, "use infra.k8smgmt.io/v3")

	r = parseOne(t, strings.Replace(validNamespace, "apiVersion: infra.k8smgmt.io/v3\n", "", 1))
	wantOne(t, Validate(r, Context{}), 1, "apiVersion", "required", "infra.k8smgmt.io/v3")
}

func TestValidateLegacyV2(t *testing.T) {
	r := parseOne(t, "apiVersion: config.rafay.dev/v2\nkind: Repository\nmetadata:\n  name: x\nspec:\n  repositoryType: GitRepository\n")
	wantOne(t, Validate(r, Context{Kind: "Repository", Project: "p"}), 1, "apiVersion", "v2 specs are not synced", "integrations.k8smgmt.io/v3")
}

func TestValidateAltGroup(t *testing.T) {
	ip := "apiVersion: GROUP/v3\nkind: InfraProvisioner\nmetadata:\n  name: tf\n  project: p\nspec:\n  type: Terraform\n"
	for _, g := range []string{"gitops.k8smgmt.io", "infra.k8smgmt.io"} {
		r := parseOne(t, strings.Replace(ip, "GROUP", g, 1))
		if p := Validate(r, Context{}); len(p) != 0 {
			t.Errorf("%s: %v", g, p)
		}
	}
	r := parseOne(t, strings.Replace(ip, "GROUP", "apps.k8smgmt.io", 1))
	wantOne(t, Validate(r, Context{}), 1, "apiVersion", "use gitops.k8smgmt.io/v3")
}

func TestValidateKindMismatch(t *testing.T) {
	r := parseOne(t, validNamespace)
	wantOne(t, Validate(r, Context{Kind: "Cluster"}), 2, "kind", "kind is Namespace, expected Cluster")
}

func TestValidateName(t *testing.T) {
	r := parseOne(t, strings.Replace(validNamespace, "  name: team-a\n", "", 1))
	wantOne(t, Validate(r, Context{}), 3, "metadata.name", "required")

	for _, bad := range []string{"Team-A", "team_a", "-team", "team-", strings.Repeat("a", 64), `""`} {
		r := parseOne(t, strings.Replace(validNamespace, "name: team-a", "name: "+bad, 1))
		if bad == `""` {
			wantOne(t, Validate(r, Context{}), 4, "metadata.name", "required")
			continue
		}
		wantOne(t, Validate(r, Context{}), 4, "metadata.name", `"`+bad+`" is not a valid name`, "DNS-1123")
	}
	r = parseOne(t, strings.Replace(validNamespace, "name: team-a", "name: 42", 1))
	wantOne(t, Validate(r, Context{}), 4, "metadata.name", "must be a string")
}

func TestValidateNameMismatch(t *testing.T) {
	r := parseOne(t, validNamespace)
	wantOne(t, Validate(r, Context{Name: "team-b"}), 4, "metadata.name", `name is "team-a", expected "team-b"`)
}

func TestValidateProject(t *testing.T) {
	noProject := strings.Replace(validNamespace, "  project: proj\n", "", 1)
	r := parseOne(t, noProject)
	wantOne(t, Validate(r, Context{}), 3, "metadata.project", "required", "Namespace")
	if p := Validate(r, Context{Project: "proj"}); len(p) != 0 {
		t.Errorf("project from context: %v", p)
	}
	r.SetProject("proj")
	if r.Key() != (Key{Kind: "Namespace", Project: "proj", Name: "team-a"}) || r.LineOf("metadata.project") != 3 {
		t.Errorf("after SetProject: %v, line %d", r.Key(), r.LineOf("metadata.project"))
	}

	r = parseOne(t, validNamespace)
	wantOne(t, Validate(r, Context{Project: "other"}), 5, "metadata.project", `project is "proj", expected "other"`)

	r = parseOne(t, "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: p\n  project: q\n")
	wantOne(t, Validate(r, Context{}), 5, "metadata.project", "remove metadata.project")
	if r.Key() != (Key{Kind: "Project", Name: "p"}) {
		t.Errorf("project key %v", r.Key())
	}
}

func TestValidateUnknownTopLevelField(t *testing.T) {
	r := parseOne(t, validNamespace+"extra:\n  a: b\n")
	wantOne(t, Validate(r, Context{}), 13, "extra", "unknown field")
}

func TestValidateUnknownMetadataField(t *testing.T) {
	r := parseOne(t, strings.Replace(validNamespace, "  labels:", "  namespace: default\n  labels:", 1))
	wantWarning(t, Validate(r, Context{}), 6, "metadata.namespace", "unknown metadata field")
}

func TestValidateServerFieldsAccepted(t *testing.T) {
	r := parseOne(t, strings.Replace(validNamespace, "  labels:", "  resourceVersion: \"12\"\n  createdAt: \"2024-01-01T00:00:00Z\"\n  modifiedAt: \"2024-01-01T00:00:00Z\"\n  id: abc\n  displayName: Team A\n  labels:", 1))
	if p := Validate(r, Context{}); len(p) != 0 {
		t.Errorf("server-owned metadata rejected: %v", p)
	}
}

func TestValidateLabelsMustBeStrings(t *testing.T) {
	r := parseOne(t, strings.Replace(validNamespace, "    team: a", "    team: a\n    rafay.dev/ready: true", 1))
	wantOne(t, Validate(r, Context{}), 8, `metadata.labels["rafay.dev/ready"]`, "must be a string", "quote it")
	r = parseOne(t, strings.Replace(validNamespace, "  labels:\n    team: a", "  annotations: [a]", 1))
	wantOne(t, Validate(r, Context{}), 6, "metadata.annotations", "mapping of strings")
}

func TestValidateSpec(t *testing.T) {
	r := parseOne(t, "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: a\n  project: p\n")
	wantWarning(t, Validate(r, Context{}), 1, "spec", "without a spec does nothing")
	r = parseOne(t, "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: a\n  project: p\nspec: [x]\n")
	wantOne(t, Validate(r, Context{}), 6, "spec", "must be a mapping")
	r = parseOne(t, "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: a\n")
	if p := Validate(r, Context{}); len(p) != 0 {
		t.Errorf("project without spec: %v", p)
	}
}

func TestValidateMetadataMissing(t *testing.T) {
	r := parseOne(t, "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nspec: {}\n")
	wantOne(t, Validate(r, Context{Project: "p"}), 1, "metadata", "required")
}

func TestValidateContextFile(t *testing.T) {
	r := parseOne(t, validNamespace)
	p := Validate(r, Context{File: "projects/proj/namespaces/team-a.yaml", Kind: "Cluster"})
	if len(p) != 1 || p[0].File != "projects/proj/namespaces/team-a.yaml" {
		t.Errorf("got %v", p)
	}
	// A resource from an API body has no lines.
	rb, _ := ParseBody("application/json", []byte(`{"apiVersion":"infra.k8smgmt.io/v3","kind":"Namespace","metadata":{"name":"A","project":"p"},"spec":{}}`))
	p = Validate(rb, Context{})
	if len(p) != 1 || p[0].Field != "metadata.name" || p[0].Line != 0 || p[0].File != "" {
		t.Errorf("got %v", p)
	}
}

const eksCluster = `apiVersion: infra.k8smgmt.io/v3
kind: Cluster
metadata:
  name: demo
  project: p
spec:
  blueprintConfig:
    name: minimal
  cloudCredentials: aws
  config:
    managedNodeGroups:
    - name: ng-1
      instanceType: t3.large
      desiredCapacity: 2
      minSize: 1
      maxSize: 3
    metadata:
      name: demo
      region: us-west-2
      version: "1.28"
  type: aws-eks
`

func TestValidateCluster(t *testing.T) {
	if p := Validate(parseOne(t, eksCluster), Context{}); len(p) != 0 {
		t.Fatalf("valid EKS cluster: %v", p)
	}
	cases := []struct {
		from, to string
		sev      Severity
		line     int
		field    string
		msg      string
	}{
		{"type: aws-eks", "type: gke", SeverityWarning, 21, "spec.type", `cluster type "gke": only EKS (aws-eks) and AKS (aks) clusters sync from Git`},
		{"  type: aws-eks\n", "", SeverityWarning, 6, "spec.type", "no spec.type: only EKS (aws-eks) and AKS (aks) clusters sync from Git"},
		{"type: aws-eks", "type: [aws-eks]", SeverityError, 21, "spec.type", "must be a string"},
		{"instanceType: t3.large", "instanceType: 3", SeverityError, 13, "spec.config.managedNodeGroups[0].instanceType", "must be a string"},
		{"desiredCapacity: 2", "desiredCapacity: two", SeverityError, 14, "spec.config.managedNodeGroups[0].desiredCapacity", "must be an integer"},
		{"desiredCapacity: 2", "desiredCapacity: 5", SeverityWarning, 14, "spec.config.managedNodeGroups[0].desiredCapacity", "above maxSize 3"},
		{"      name: demo\n      region", "      name: other\n      region", SeverityWarning, 18, "spec.config.metadata.name", `while metadata.name is "demo"`},
		{`version: "1.28"`, "version: 1.28", SeverityError, 20, "spec.config.metadata.version", "must be a string"},
	}
	for _, c := range cases {
		if !strings.Contains(eksCluster, c.from) {
			t.Fatalf("bad case %q", c.from)
		}
		r := parseOne(t, strings.Replace(eksCluster, c.from, c.to, 1))
		t.Run(c.field, func(t *testing.T) { wantSeverity(t, c.sev, Validate(r, Context{}), c.line, c.field, c.msg) })
	}
	r := parseOne(t, eksCluster[:strings.Index(eksCluster, "  config:")]+"  config: eks\n  type: aws-eks\n")
	wantOne(t, Validate(r, Context{}), 10, "spec.config", "must be a mapping")
	// What an export leaves out is no problem.
	for _, cut := range []string{"    - name: ng-1\n      instanceType", "      region: us-west-2\n", "  blueprintConfig:\n    name: minimal\n"} {
		r := parseOne(t, strings.Replace(eksCluster, cut, map[bool]string{true: "    - instanceType"}[strings.HasSuffix(cut, "instanceType")], 1))
		if p := Validate(r, Context{}); len(p) != 0 {
			t.Errorf("without %q: %v", cut, p)
		}
	}
}

const aksCluster = `apiVersion: infra.k8smgmt.io/v3
kind: Cluster
metadata:
  name: demo
  project: p
spec:
  config:
    kind: aksClusterConfig
    metadata:
      name: demo
    spec:
      managedCluster:
        location: eastus
      nodePools:
      - name: primary
        properties:
          count: 1
      resourceGroupName: rg
  type: aks
`

func TestValidateAKSCluster(t *testing.T) {
	if p := Validate(parseOne(t, aksCluster), Context{}); len(p) != 0 {
		t.Fatalf("valid AKS cluster: %v", p)
	}
	r := parseOne(t, strings.Replace(aksCluster, "kind: aksClusterConfig", "kind: ClusterConfig", 1))
	wantWarning(t, Validate(r, Context{}), 8, "spec.config.kind", "an aksClusterConfig")
	r = parseOne(t, strings.Replace(aksCluster, "      - name: primary\n        properties:\n          count: 1", "      - properties: 1", 1))
	wantOne(t, Validate(r, Context{}), 15, "spec.config.spec.nodePools[0].properties", "must be a mapping")
	for _, cut := range []string{"      managedCluster:\n        location: eastus\n", "      - name: primary\n"} {
		r = parseOne(t, strings.Replace(aksCluster, cut, map[bool]string{true: "      -\n"}[strings.HasPrefix(cut, "      - name")], 1))
		if p := Validate(r, Context{}); len(p) != 0 {
			t.Errorf("without %q: %v", cut, p)
		}
	}
}

const systemSyncPipeline = `apiVersion: gitops.k8smgmt.io/v3
kind: Pipeline
metadata:
  name: sync
  project: p
spec:
  stages:
  - config:
      gitToSystemSync: true
      sourceRepo:
        repository: repo
        revision: main
      systemToGitSync: true
    name: system-sync-stage
    type: SystemSync
  triggers:
  - name: hook
    type: Webhook
`

func TestValidatePipeline(t *testing.T) {
	if p := Validate(parseOne(t, systemSyncPipeline), Context{}); len(p) != 0 {
		t.Fatalf("valid pipeline: %v", p)
	}
	cases := []struct {
		from, to string
		sev      Severity
		line     int
		field    string
		msg      string
	}{
		{"gitToSystemSync: true", `gitToSystemSync: "yes"`, SeverityError, 9, "spec.stages[0].config.gitToSystemSync", "must be true or false"},
		{"        repository: repo\n", "        repository: {name: repo}\n", SeverityError, 11, "spec.stages[0].config.sourceRepo.repository", "must be a string"},
		{"  - name: hook\n", "  - name: system-sync-stage\n", SeverityError, 0, "", ""}, // a trigger may share a stage's name
		{"    name: system-sync-stage\n", "    name: system-sync-stage\n  - name: system-sync-stage\n", SeverityWarning, 15, "spec.stages[1].name", `duplicate stage name "system-sync-stage"`},
		{"  stages:\n", "  stages: {}\n  old:\n", SeverityError, 7, "spec.stages", "must be a list"},
	}
	for _, c := range cases {
		if !strings.Contains(systemSyncPipeline, c.from) {
			t.Fatalf("bad case %q", c.from)
		}
		r := parseOne(t, strings.Replace(systemSyncPipeline, c.from, c.to, 1))
		if c.field == "" {
			if p := Validate(r, Context{}); len(p) != 0 {
				t.Errorf("%q: %v", c.to, p)
			}
			continue
		}
		t.Run(c.field, func(t *testing.T) { wantSeverity(t, c.sev, Validate(r, Context{}), c.line, c.field, c.msg) })
	}
	// Rafay's exporter leaves out false and empty values.
	for _, cut := range []string{"      systemToGitSync: true\n", "        repository: repo\n", "    type: SystemSync\n", "  - name: hook\n    type: Webhook\n"} {
		r := parseOne(t, strings.Replace(systemSyncPipeline, cut, map[bool]string{true: "  - type: Webhook\n"}[strings.HasPrefix(cut, "  - name: hook")], 1))
		if p := Validate(r, Context{}); len(p) != 0 {
			t.Errorf("without %q: %v", cut, p)
		}
	}
	empty := "apiVersion: gitops.k8smgmt.io/v3\nkind: Pipeline\nmetadata:\n  name: p\n  project: p\nspec:\n  stages: []\n"
	if p := Validate(parseOne(t, empty), Context{}); len(p) != 0 {
		t.Errorf("a pipeline without stages: %v", p)
	}
}

// TestValidateLenientWhereRafayIs checks the shapes Rafay's exporter writes
// for fields it leaves empty, which the issue saw refused: each is valid,
// with neither an error nor a warning.
func TestValidateLenientWhereRafayIs(t *testing.T) {
	repo := "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n  name: r\n  project: p\nspec:\n  type: Git\n"
	for name, data := range map[string]string{
		"Repository with agents: [{}]":     repo + "  endpoint: https://github.com/o/r.git\n  agents:\n  - {}\n",
		"Repository with two empty agents": repo + "  agents: [{}, {}]\n",
		"Repository without an endpoint":   repo,
		"Repository with credentials: {}":  repo + "  credentials: {}\n",
		"Addon without a version": "apiVersion: infra.k8smgmt.io/v3\nkind: Addon\nmetadata:\n  name: a\n  project: p\nspec:\n" +
			"  artifact:\n    artifact:\n      paths:\n      - name: file://a.yaml\n    type: Yaml\n  namespace: a\n  sharing: {}\n",
		"Addon with artifact: {}":                     "apiVersion: infra.k8smgmt.io/v3\nkind: Addon\nmetadata:\n  name: a\n  project: p\nspec:\n  artifact: {}\n  namespace: a\n  sharing: {}\n  version: v1\n",
		"Workload with artifact: {} and no namespace": "apiVersion: apps.k8smgmt.io/v3\nkind: Workload\nmetadata:\n  name: w\n  project: p\nspec:\n  artifact: {}\n",
		"Namespace with spec: {}":                     "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: n\n  project: p\nspec: {}\n",
		"Blueprint without a version":                 "apiVersion: infra.k8smgmt.io/v3\nkind: Blueprint\nmetadata:\n  name: b\n  project: p\nspec:\n  base:\n    name: minimal\n  sharing: {}\n",
		"OPAPolicy without constraints":               "apiVersion: opa.k8smgmt.io/v3\nkind: OPAPolicy\nmetadata:\n  name: o\n  project: p\nspec:\n  sharing: {}\n",
		"Agent without a cluster":                     "apiVersion: gitops.k8smgmt.io/v3\nkind: Agent\nmetadata:\n  name: a\n  project: p\nspec:\n  type: Cluster\n",
	} {
		if p := Validate(parseOne(t, data), Context{}); len(p) != 0 {
			t.Errorf("%s: %v", name, p)
		}
	}
}

func TestProblemSeverity(t *testing.T) {
	w := Problem{File: "f.yaml", Line: 3, Field: "spec.type", Message: "m", Severity: SeverityWarning}
	e := Problem{File: "f.yaml", Line: 3, Field: "spec.type", Message: "m"}
	if w.String() != "f.yaml:3: warning: spec.type: m" || e.String() != "f.yaml:3: spec.type: m" {
		t.Errorf("got %q and %q", w, e)
	}
	if !HasErrors([]Problem{w, e}) || HasErrors([]Problem{w}) || len(Errors([]Problem{w, e})) != 1 || len(Warnings([]Problem{w, e})) != 1 {
		t.Error("HasErrors, Errors or Warnings")
	}
	b, _ := json.Marshal([]Problem{w, e})
	if string(b) != `[{"file":"f.yaml","line":3,"field":"spec.type","message":"m","severity":"warning"},{"file":"f.yaml","line":3,"field":"spec.type","message":"m","severity":"error"}]` {
		t.Errorf("JSON %s", b)
	}
	var back []Problem
	if err := json.Unmarshal(b, &back); err != nil || back[0] != w || back[1] != e {
		t.Errorf("read back %v %v", back, err)
	}
}

func TestValidateSharing(t *testing.T) {
	r := parseOne(t, validNamespace+"  sharing:\n    enabled: yes\n")
	wantOne(t, Validate(r, Context{}), 14, "spec.sharing.enabled", "must be true or false")
}

func TestValidateEveryProblemAtOnce(t *testing.T) {
	data := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: Bad_Name\n  bogus: 1\nspec: {}\nextra: 1\n"
	p := Validate(parseOne(t, data), Context{})
	var fields []string
	for _, x := range p {
		fields = append(fields, x.Field)
	}
	if strings.Join(fields, ",") != "metadata.project,metadata.name,metadata.bogus,extra" {
		t.Errorf("got %v", p)
	}
}
