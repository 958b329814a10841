package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidateReportsFileLineFieldAndExits1(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"projects/default.yaml":                 "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: default\nspec:\n  default: true\n",
		"projects/default/namespaces/good.yaml": namespaceYAML("good"),
		"projects/default/namespaces/bad.yaml":  strings.Replace(namespaceYAML("bad"), "name: bad", "name: Bad_Name", 1),
		"projects/default/repositories/git.yaml": "apiVersion: integrations.k8smgmt.io/v3\nkind: Repository\nmetadata:\n  name: git\n  project: default\nspec:\n" +
			"  type: Git\n  endpoint: https://example.com/r.git\n  credentials:\n    password: hunter2\n",
		"projects/default/pipelines/nightly.yaml": "apiVersion: gitops.k8smgmt.io/v3\nkind: Pipeline\nmetadata:\n  name: nightly\n  project: default\nspec:\n" +
			"  triggers:\n  - config:\n      cronExpression: '0 3 * *'\n    name: nightly\n    type: Cron\n",
		"projects/default/pipelines/gated.yaml": "apiVersion: gitops.k8smgmt.io/v3\nkind: Pipeline\nmetadata:\n  name: gated\n  project: default\nspec:\n" +
			"  stages:\n  - name: sync\n    type: SystemSync\n    preConditions:\n    - type: Expression\n      config:\n        expression: trigger.nmae == 'x'\n",
		"README.md": "not a spec\n",
	})
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"validate", dir}, &out, &errb, nil)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"projects/default/namespaces/bad.yaml:4: metadata.name:",
		"projects/default/repositories/git.yaml:10: spec.credentials.password:",
		"projects/default/pipelines/nightly.yaml:9: spec.triggers[0].config.cronExpression: \"0 3 * *\": not a cron expression of five fields",
		"projects/default/pipelines/gated.yaml:13: spec.stages[0].preConditions[0].config.expression: `trigger.nmae == 'x'`: undefined field 'nmae'",
	}
	if len(lines) < len(want) {
		t.Fatalf("output:\n%s", out.String())
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line starting %q in:\n%s", w, out.String())
		}
	}
	if !strings.Contains(errb.String(), "6 spec files checked") {
		t.Errorf("summary: %s", errb.String())
	}
}

func TestValidateCleanTreeExits0(t *testing.T) {
	dir := writeTree(t, map[string]string{"projects/default/namespaces/good.yaml": namespaceYAML("good")})
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"validate", dir}, &out, &errb, nil); code != 0 || out.Len() != 0 {
		t.Fatalf("exit %d, output %q %q", code, out.String(), errb.String())
	}
	if code := run(context.Background(), []string{"validate", filepath.Join(dir, "missing")}, &out, &errb, nil); code != 2 {
		t.Fatalf("missing path: exit %d", code)
	}
}

// TestValidateWarningsAndStrict checks a real GKE cluster, which the system
// holds and a sync from Git skips: a warning, exit 0; with --strict, exit 1.
// A single file at its layout path is checked as in the folder.
func TestValidateWarningsAndStrict(t *testing.T) {
	gke, err := os.ReadFile("../../testdata/rafay-specs/cluster/syncrepo-gke-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := "projects/shared-infra-team/clusters/shared-infra-team-gke-73-demo.yaml"
	dir := writeTree(t, map[string]string{path: string(gke)})
	want := path + `:53: warning: spec.type: cluster type "gke": only EKS (aws-eks) and AKS (aks) clusters sync from Git` + "\n"
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"validate", dir}, 0}, {[]string{"validate", "--strict", dir}, 1}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errb, nil); code != c.code || out.String() != want ||
			!strings.Contains(errb.String(), "1 spec files checked, 0 errors, 1 warnings") {
			t.Errorf("%v: exit %d (want %d)\n%s%s", c.args, code, c.code, out.String(), errb.String())
		}
	}
	t.Chdir(dir)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"validate", "./" + path}, &out, &errb, nil); code != 0 || out.String() != want {
		t.Errorf("single file: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if code := run(context.Background(), []string{"validate", "--bogus", path}, &out, &errb, nil); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
}

// TestValidateRefusesTooManyNodesCheaply is the review's `app validate` of
// four 4 MiB files of `[0,0,0,…]` (3.3 GB of RSS on two cores): each is a
// problem naming its file, the line of the node past spec.MaxNodes and
// the limit, found for a small part of what building them would cost.
func TestValidateRefusesTooManyNodesCheaply(t *testing.T) {
	zeros := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: NAME\n  project: default\nspec:\n  x: [0" +
		strings.Repeat(",0", 2<<20-64) + "]\n"
	files := map[string]string{}
	for _, name := range []string{"big0", "big1", "big2", "big3"} {
		files["projects/default/namespaces/"+name+".yaml"] = strings.Replace(zeros, "NAME", name, 1)
	}
	dir := writeTree(t, files)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"validate", dir}, &out, &errb, nil)
	runtime.ReadMemStats(&after)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%.2000s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for name := range files {
		if want := name + ":7: holds more than 250000 YAML nodes"; !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%.2000s", want, out.String())
		}
	}
	// Building the four trees allocated over 2 GB; counting allocates a
	// few MB a file (the files themselves are 16 MiB).
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 160<<20 {
		t.Errorf("validating 16 MiB allocated %d MB", alloc>>20)
	}
}
