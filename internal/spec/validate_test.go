package spec

import (
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

// wantOne asserts that problems is exactly one problem at line on field
// whose message contains each of msgs.
func wantOne(t *testing.T, problems []Problem, line int, field string, msgs ...string) {
	t.Helper()
	if len(problems) != 1 {
		t.Fatalf("got %d problems %v, want one on %s", len(problems), problems, field)
	}
	p := problems[0]
	if p.File != "f.yaml" || p.Line != line || p.Field != field {
		t.Errorf("got %v, want f.yaml:%d: %s", p, line, field)
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
	wantOne(t, Validate(r, Context{}), 6, "metadata.namespace", "unknown metadata field")
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
	wantOne(t, Validate(r, Context{}), 1, "spec", "required")
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
		line     int
		field    string
		msg      string
	}{
		{"type: aws-eks", "type: gke", 21, "spec.type", "only EKS (aws-eks) and AKS (aks) clusters sync"},
		{"  type: aws-eks\n", "", 6, "spec.type", "required"},
		{"instanceType: t3.large", "instanceType: 3", 13, "spec.config.managedNodeGroups[0].instanceType", "must be a string"},
		{"desiredCapacity: 2", "desiredCapacity: two", 14, "spec.config.managedNodeGroups[0].desiredCapacity", "must be an integer"},
		{"desiredCapacity: 2", "desiredCapacity: 5", 14, "spec.config.managedNodeGroups[0].desiredCapacity", "above maxSize 3"},
		{"    - name: ng-1\n      instanceType", "    - instanceType", 12, "spec.config.managedNodeGroups[0].name", "required"},
		{"      region: us-west-2\n", "", 17, "spec.config.metadata.region", "required"},
		{"      name: demo\n      region", "      name: other\n      region", 18, "spec.config.metadata.name", `must equal metadata.name "demo"`},
		{`version: "1.28"`, "version: 1.28", 20, "spec.config.metadata.version", "must be a string"},
	}
	for _, c := range cases {
		if !strings.Contains(eksCluster, c.from) {
			t.Fatalf("bad case %q", c.from)
		}
		r := parseOne(t, strings.Replace(eksCluster, c.from, c.to, 1))
		t.Run(c.field, func(t *testing.T) { wantOne(t, Validate(r, Context{}), c.line, c.field, c.msg) })
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
	wantOne(t, Validate(r, Context{}), 8, "spec.config.kind", "must be aksClusterConfig")
	r = parseOne(t, strings.Replace(aksCluster, "      - name: primary\n        properties", "      - properties", 1))
	wantOne(t, Validate(r, Context{}), 15, "spec.config.spec.nodePools[0].name", "required")
	r = parseOne(t, strings.Replace(aksCluster, "      managedCluster:\n        location: eastus\n", "", 1))
	wantOne(t, Validate(r, Context{}), 11, "spec.config.spec.managedCluster", "required")
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
		line     int
		field    string
		msg      string
	}{
		{"gitToSystemSync: true", `gitToSystemSync: "yes"`, 9, "spec.stages[0].config.gitToSystemSync", "must be true or false"},
		{"      systemToGitSync: true\n", "", 8, "spec.stages[0].config.systemToGitSync", "required"},
		{"        repository: repo\n", "", 10, "spec.stages[0].config.sourceRepo.repository", "required"},
		{"    type: SystemSync\n", "", 8, "spec.stages[0].type", "required"},
		{"  - name: hook\n    type", "  - type", 17, "spec.triggers[0].name", "required"},
	}
	for _, c := range cases {
		if !strings.Contains(systemSyncPipeline, c.from) {
			t.Fatalf("bad case %q", c.from)
		}
		r := parseOne(t, strings.Replace(systemSyncPipeline, c.from, c.to, 1))
		t.Run(c.field, func(t *testing.T) { wantOne(t, Validate(r, Context{}), c.line, c.field, c.msg) })
	}
	empty := "apiVersion: gitops.k8smgmt.io/v3\nkind: Pipeline\nmetadata:\n  name: p\n  project: p\nspec:\n  stages: []\n"
	wantOne(t, Validate(parseOne(t, empty), Context{}), 7, "spec.stages", "must not be empty")
}

func TestValidateRepository(t *testing.T) {
	repo := "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n  name: r\n  project: p\nspec:\n  type: Git\n"
	wantOne(t, Validate(parseOne(t, repo), Context{}), 6, "spec.endpoint", "required")
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
