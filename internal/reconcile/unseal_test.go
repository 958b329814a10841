package reconcile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/controller/controllertest"
	"github.com/systemsync/systemsync/internal/controllerapi"
	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
)

const (
	repoPath     = "projects/default/repositories/creds.yaml"
	artifactPath = "projects/default/repositories/artifacts/creds/sealed-secret.yaml"
)

func credsRepo(password string) map[string]any {
	return map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "Repository",
		"metadata": map[string]any{"name": "creds", "project": "default"},
		"spec": map[string]any{"type": "Git", "endpoint": "https://git.example.org/x.git",
			"credentials": map[string]any{"username": "bob", "password": password}}}
}

// sealedFiles seals obj with the project's sealer as an export would and
// returns its spec file and artifact.
func sealedFiles(t *testing.T, s *sealing.Sealer, obj map[string]any) (string, string) {
	t.Helper()
	canon := spec.Canonical(obj)
	art, _, errs := s.Seal(canon, "creds", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	data, err := spec.Render(canon)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), string(art.Render())
}

func newSealer(t *testing.T, c *controllertest.Controller) *sealing.Sealer {
	t.Helper()
	ctx := context.Background()
	obj := map[string]any{"apiVersion": "integrations.k8smgmt.io/v3", "kind": "SecretSealer",
		"metadata": map[string]any{"name": "sealer", "project": "default"}, "spec": map[string]any{"type": "KubeSeal"}}
	if _, _, err := c.Store.Apply(ctx, spec.Key{Kind: "SecretSealer", Project: "default", Name: "sealer"}, obj, controllertest.AdminEmail, ""); err != nil {
		t.Fatal(err)
	}
	s, err := c.Store.Sealers().Sealer(ctx, "default")
	if err != nil || s == nil {
		t.Fatalf("sealer: %v %v", s, err)
	}
	return s
}

// A Git file whose password is sealed:// applies the clear password; its
// hash is the clear object's, so the sync state agrees with the system's.
// Loaded again, nothing is read or decrypted anew.
func TestLoaderUnsealsIntoTheSystem(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	s := newSealer(t, c)
	sys := controllerapi.New(c.URL, controllertest.AdminKey)
	file, art := sealedFiles(t, s, credsRepo("Pw-unsealed-1"))
	if strings.Contains(file+art, "Pw-unsealed-1") || !strings.Contains(file, "password: sealed://credentials.password") {
		t.Fatalf("sealed file:\n%s", file)
	}
	tree := &memTree{files: map[string]string{repoPath: file, artifactPath: art}}
	l := reconcile.NewLoader()
	l.Keys = c.Store.Sealers()
	st := newMemState()
	plan, res := syncOnce(t, l, tree, sys, st, reconcile.Scope{})
	for _, r := range res {
		if r.Change.Path == repoPath && (r.Change.Action != reconcile.Create || r.Outcome != reconcile.Applied) {
			t.Fatalf("plan %v, result %+v", actions(plan), r)
		}
	}
	got, err := sys.Get(ctx, "Repository", "default", "creds")
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := spec.FieldAt(got, "spec.credentials.password"); pw != "Pw-unsealed-1" {
		t.Fatalf("the system holds password %v", pw)
	}
	if h := st.m[spec.Key{Kind: "Repository", Project: "default", Name: "creds"}]; h.GitHash != reconcile.Hash(credsRepo("Pw-unsealed-1")) {
		t.Errorf("the sync state holds Git's hash %s, not the clear object's", h.GitHash)
	}
	reads := tree.reads
	plan, _ = syncOnce(t, l, tree, sys, st, reconcile.Scope{})
	if len(plan.Visible()) != 0 || tree.reads != reads {
		t.Errorf("loaded again: %v, %d more blobs read", actions(plan), tree.reads-reads)
	}

	// A new value sealed in Git (as kubeseal --cert would) reaches the system.
	file, art = sealedFiles(t, s, credsRepo("Pw-unsealed-2"))
	tree.files[artifactPath] = art
	plan, _ = syncOnce(t, l, tree, sys, st, reconcile.Scope{})
	got, _ = sys.Get(ctx, "Repository", "default", "creds")
	if pw, _ := spec.FieldAt(got, "spec.credentials.password"); pw != "Pw-unsealed-2" {
		t.Fatalf("after a new sealed value: %v, the system holds %v", actions(plan), pw)
	}
	for _, ch := range plan.Visible() {
		for _, d := range ch.Diff {
			if strings.Contains(d.String(), "Pw-unsealed") {
				t.Errorf("the plan shows a secret: %s", d)
			}
		}
		if len(ch.Diff) != 1 || ch.Diff[0].Field != "spec.credentials.password" || !ch.Diff[0].Secret {
			t.Errorf("the plan's diff: %v", ch.Diff)
		}
	}
}

// A reference that cannot be unsealed is its file's invalid row naming
// the field and its line; the system keeps its version; the other files
// sync. Without a keyring, references are left as they are.
func TestLoaderRefusesWhatItCannotUnseal(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t)
	s := newSealer(t, c)
	file, art := sealedFiles(t, s, credsRepo("Pw-refused"))
	otherSealer := sealing.NewSealer("default", []*sealing.Key{mustKey(t)}, nil)
	_, foreign := sealedFiles(t, otherSealer, credsRepo("Pw-refused"))
	teamA := strings.ReplaceAll(file, "project: default", "project: team-a")
	cases := map[string]struct {
		files map[string]string
		path  string
		want  string
	}{
		"missing artifact": {map[string]string{repoPath: file}, repoPath, "its artifact " + artifactPath + " is missing"},
		"another key":      {map[string]string{repoPath: file, artifactPath: foreign}, repoPath, "no key of the project's SecretSealers opens it"},
		"not a SealedSecret": {map[string]string{repoPath: file, artifactPath: "apiVersion: v1\nkind: Secret\n"}, repoPath,
			"is not a SealedSecret"},
		"no sealer": {map[string]string{"projects/team-a/repositories/creds.yaml": teamA,
			"projects/team-a/repositories/artifacts/creds/sealed-secret.yaml": art}, "projects/team-a/repositories/creds.yaml",
			"the project has no SecretSealer"},
	}
	for what, tc := range cases {
		tree := &memTree{files: tc.files}
		tree.files["projects/default/namespaces/ok.yaml"] = namespace("default", "ok", "dev")
		l := reconcile.NewLoader()
		l.Keys = c.Store.Sealers()
		d, err := l.Load(ctx, tree, "c", "", reconcile.Scope{})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, p := range d.Problems() {
			if p.File == tc.path && p.Field == "spec.credentials.password" && p.Line == 8 &&
				strings.HasPrefix(p.Message, "sealed://credentials.password cannot be unsealed: ") && strings.Contains(p.Message, tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: problems %v, want %s:8: spec.credentials.password: … %s", what, d.Problems(), tc.path, tc.want)
		}
		plan := reconcile.MakePlan(reconcile.Input{Desired: d, FirstSync: reconcile.GitWins})
		for _, ch := range plan.Changes {
			if ch.Path == tc.path && ch.Action != reconcile.Invalid || ch.Path == "projects/default/namespaces/ok.yaml" && ch.Action != reconcile.Create {
				t.Errorf("%s: %s is %s", what, ch.Path, ch.Action)
			}
		}
	}
	// No keyring: the reference is a string like any other, as before.
	tree := &memTree{files: map[string]string{repoPath: file}}
	d, err := reconcile.NewLoader().Load(ctx, tree, "c", "", reconcile.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	f := d.Files[spec.Key{Kind: "Repository", Project: "default", Name: "creds"}]
	if pw, _ := spec.FieldAt(f.Resource().Object, "spec.credentials.password"); !f.Valid() || pw != "sealed://credentials.password" {
		t.Errorf("without a keyring: valid %v, password %v", f.Valid(), pw)
	}
}

func mustKey(t *testing.T) *sealing.Key {
	t.Helper()
	k, err := sealing.NewKey(nil, "other")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A plan's differences never show a secret, whatever side holds it.
func TestDiffMasksSecrets(t *testing.T) {
	ghs := "ghs_" + strings.Repeat("Z9y8", 9)
	sys := credsRepo("Pw-system-1")
	sys["metadata"].(map[string]any)["labels"] = map[string]any{ghs: "x"}
	git := credsRepo("Pw-git-2")
	for _, d := range reconcile.Diff(sys, git) {
		if s := d.String(); strings.Contains(s, "Pw-") || strings.Contains(s, ghs) {
			t.Errorf("the diff shows a secret: %s", s)
		}
	}
	same := reconcile.Diff(credsRepo("Pw-same"), credsRepo("Pw-same"))
	if len(same) != 0 {
		t.Errorf("the same secret differs: %v", same)
	}
	gone := reconcile.Diff(credsRepo("Pw-gone"), map[string]any{"kind": "Repository", "spec": map[string]any{}})
	for _, d := range gone {
		if strings.Contains(d.String(), "Pw-gone") {
			t.Errorf("the diff shows a secret: %s", d)
		}
	}
}
