package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestValidateAgreesWithARun checks the demo repository of local mode with
// `app validate` (its own files pass), then adds a misspelt kind folder, two
// files naming one resource, a GKE cluster and a namespace with a doubtful
// field: validate reports each problem exactly as the run of the push
// reports it, errors and warnings alike.
func TestValidateAgreesWithARun(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SYSTEMSYNC_DATA_DIR=" + dir, "SYSTEMSYNC_LISTEN=127.0.0.1:0", "SYSTEMSYNC_API_KEY=local-key",
		"SYSTEMSYNC_POLL_INTERVAL=200ms", "SYSTEMSYNC_COMMIT_WINDOW=200ms", "SYSTEMSYNC_DATABASE_URL=" + storetest.URL(t)}
	base, _, _, _ := startInProcess(t, env)
	work := t.TempDir()
	git(t, work, "clone", "-q", filepath.Join(dir, "repos", "demo.git"), ".")

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"validate", "--strict", work}, &out, &errb, nil); code != 0 || out.Len() != 0 {
		t.Fatalf("the demo repository does not pass validate --strict: exit %d\n%s%s", code, out.String(), errb.String())
	}

	gke, err := os.ReadFile("../../testdata/rafay-specs/cluster/syncrepo-gke-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"projects/default/namespacess/x.yaml": namespaceYAML("x"),
		"projects/default/namespaces/a.yaml":  namespaceYAML("a"),
		"projects/default/namespaces/b.yaml":  namespaceYAML("a"), // names a, the resource of a.yaml
		"projects/default/namespaces/w.yaml":  strings.Replace(namespaceYAML("w"), "  project: default\n", "  project: default\n  namespace: w\n", 1),
		"projects/default/clusters/gke.yaml": strings.NewReplacer("shared-infra-team-gke-73-demo", "gke",
			"project: shared-infra-team", "project: default").Replace(string(gke)),
	}
	for p, data := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"validate", work}, &out, &errb, nil); code != 1 {
		t.Fatalf("validate: exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	byFile := map[string][]string{} // what validate says of each file
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		file, _, _ := strings.Cut(l, ":")
		byFile[file] = append(byFile[file], l)
	}
	wantFiles := []string{"projects/default/clusters/gke.yaml", "projects/default/namespaces/b.yaml",
		"projects/default/namespaces/w.yaml", "projects/default/namespacess/x.yaml"}
	var gotFiles []string
	for f := range byFile {
		gotFiles = append(gotFiles, f)
	}
	sort.Strings(gotFiles)
	if fmt.Sprint(gotFiles) != fmt.Sprint(wantFiles) {
		t.Fatalf("validate reported on %v, want %v:\n%s", gotFiles, wantFiles, out.String())
	}
	if !strings.Contains(errb.String(), "2 errors, 2 warnings") {
		t.Errorf("summary: %s", errb.String())
	}

	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "a misspelt folder, a duplicate and two warnings")
	git(t, work, "push", "-q", "origin", "HEAD:main")
	sha := git(t, work, "rev-parse", "HEAD")
	type row struct{ Path, Action, Outcome, Message string }
	var rows []row
	deadline := time.Now().Add(20 * time.Second)
	for rows == nil {
		if time.Now().After(deadline) {
			t.Fatal("no finished run of the push within 20s")
		}
		time.Sleep(100 * time.Millisecond)
		_, body := do(t, "GET", base+"/api/pipelines/default/system-sync/runs", "local-key", "")
		var runs struct {
			Items []struct {
				ID             int64
				Commit, Status string
			}
		}
		if err := json.Unmarshal([]byte(body), &runs); err != nil {
			t.Fatalf("runs: %v: %s", err, body)
		}
		for _, r := range runs.Items {
			if r.Commit == sha && r.Status != "In Progress" {
				_, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d", base, r.ID), "local-key", "")
				var got struct {
					Status string
					Rows   []row
				}
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatal(err)
				}
				if got.Status != "Partial" {
					t.Fatalf("run status %s, want Partial: %s", got.Status, body)
				}
				rows = got.Rows
			}
		}
	}
	want := map[string]string{ // path → action:outcome
		"projects/default/namespaces/a.yaml":  "create:applied",
		"projects/default/namespaces/b.yaml":  "invalid:skipped",
		"projects/default/namespaces/w.yaml":  "create:applied",
		"projects/default/namespacess/x.yaml": "invalid:skipped",
		"projects/default/clusters/gke.yaml":  "skipped:skipped",
	}
	t.Logf("validate:\n%s", out.String())
	for _, r := range rows {
		t.Logf("run row: %+v", r)
		w, ok := want[r.Path]
		if !ok {
			t.Errorf("unexpected row %+v", r)
			continue
		}
		delete(want, r.Path)
		if got := r.Action + ":" + r.Outcome; got != w {
			t.Errorf("%s: %s, want %s", r.Path, got, w)
		}
		said := strings.Join(byFile[r.Path], "; ")
		switch {
		case r.Action == "skipped": // the reason, which validate gives as the warning
			if len(byFile[r.Path]) != 1 || !strings.HasSuffix(said, ": warning: spec.type: "+r.Message) {
				t.Errorf("%s: the run says %q, validate %q", r.Path, r.Message, said)
			}
		case r.Message != said:
			t.Errorf("%s: the run says %q, validate %q", r.Path, r.Message, said)
		}
	}
	if len(want) > 0 {
		t.Errorf("no row for %v", want)
	}
}
