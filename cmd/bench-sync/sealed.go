package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/systemsync/systemsync/internal/sealing"
)

// withSecrets makes n of objs (spread evenly over those that are not
// Projects) Repositories holding a clear-text password, and adds a
// SecretSealer to every project; the export env's runner then seals.
func withSecrets(ctx context.Context, e *exportEnv, objs []map[string]any, n int) ([]map[string]any, error) {
	e.runner.Loader.Keys = e.ctl.store.Sealers()
	var projects []string
	var others []int
	for i, o := range objs {
		if o["kind"] == "Project" {
			projects = append(projects, o["metadata"].(map[string]any)["name"].(string))
		} else {
			others = append(others, i)
		}
	}
	if n > len(others) {
		return nil, fmt.Errorf("-secrets %d: only %d resources", n, len(others))
	}
	step := len(others) / n
	for j := 0; j < n; j++ {
		i := others[j*step]
		md := objs[i]["metadata"].(map[string]any)
		objs[i] = map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
			"metadata": map[string]any{"name": md["name"], "project": md["project"]},
			"spec": map[string]any{"type": "Git", "endpoint": fmt.Sprintf("https://git.example.org/%s.git", md["name"]),
				"credentials": map[string]any{"username": "bench", "password": fmt.Sprintf("Pw-%06d-bench", j)}}}
	}
	for _, p := range projects {
		objs = append(objs, map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "SecretSealer",
			"metadata": map[string]any{"name": "sealer", "project": p}, "spec": map[string]any{"type": "KubeSeal", "version": "v-1"}})
	}
	return objs, nil
}

// checkSealed makes sure the export sealed: n artifacts, and no password
// in clear in the repository.
func checkSealed(e *exportEnv, n int) error {
	files, err := gitCmd(e.bare, "ls-tree", "-r", "--name-only", "main")
	if err != nil {
		return err
	}
	if got := strings.Count(files, "/"+sealing.ArtifactFile); got != n {
		return fmt.Errorf("the export wrote %d sealed-secret.yaml, want %d", got, n)
	}
	if out, err := gitCmd(e.bare, "grep", "-c", "Pw-0", "main"); err == nil {
		return fmt.Errorf("passwords in clear in %s: %s", filepath.Base(e.bare), out)
	}
	return nil
}
