package access_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/access"
)

// TestPolicy pins the table of package access's documentation: what each
// role may do.
func TestPolicy(t *testing.T) {
	all := []access.Action{access.Read, access.WriteResources, access.RunPipelines, access.ManagePipelines, access.ManageKeys,
		access.ManageIntegrations, access.ReadSecrets}
	may := map[access.Role][]access.Action{
		access.Viewer: {access.Read},
		access.Editor: {access.Read, access.WriteResources, access.RunPipelines},
		access.Admin:  all,
		access.None:   nil,
		"":            nil,
		"root":        nil,
	}
	for role, allowed := range may {
		for _, a := range all {
			want := false
			for _, x := range allowed {
				want = want || x == a
			}
			if got := role.Can(a); got != want {
				t.Errorf("role %q may %s: %v, want %v", role, a, got, want)
			}
			err := access.Check(access.Principal{Email: "u@example.com", Role: role}, a)
			if (err == nil) != want {
				t.Errorf("Check(%q, %s) = %v", role, a, err)
			}
		}
	}
}

func TestDeniedSaysTheRoleAndWhatItNeeds(t *testing.T) {
	err := access.Check(access.Principal{Role: access.Viewer}, access.WriteResources)
	var d *access.Denied
	if !errors.As(err, &d) {
		t.Fatalf("err = %v, want *Denied", err)
	}
	if got := err.Error(); got != "role viewer may not write resources: that needs editor or admin" {
		t.Fatalf("message %q", got)
	}
	if got := access.Check(access.Principal{Role: access.Editor}, access.ManagePipelines).Error(); !strings.Contains(got, "role editor may not manage pipelines: that needs admin") {
		t.Fatalf("message %q", got)
	}
}

func TestForResource(t *testing.T) {
	cases := []struct {
		method, kind string
		want         access.Action
	}{
		{"GET", "Pipeline", access.Read},
		{"HEAD", "Namespace", access.Read},
		{"POST", "Namespace", access.WriteResources},
		{"PUT", "Project", access.WriteResources},
		{"DELETE", "Pipeline", access.ManagePipelines},
		{"POST", "Pipeline", access.ManagePipelines},
		{"POST", "", access.WriteResources},
		{"PATCH", "Pipeline", access.ManagePipelines},
		// What moves where the bot reads and writes, or what it decrypts.
		{"POST", "Repository", access.ManageIntegrations},
		{"DELETE", "Repository", access.ManageIntegrations},
		{"PUT", "SecretSealer", access.ManageIntegrations},
		{"POST", "SecretStore", access.ManageIntegrations},
		{"GET", "Repository", access.Read},
	}
	for _, c := range cases {
		if got := access.ForResource(c.method, c.kind); got != c.want {
			t.Errorf("ForResource(%s, %q) = %s, want %s", c.method, c.kind, got, c.want)
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range access.Roles() {
		if got, err := access.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := access.ParseRole("none"); err == nil {
		t.Error("none is a role of keys")
	}
	if _, err := access.ParseRole("Admin"); err == nil || !strings.Contains(err.Error(), "want admin, editor or viewer") {
		t.Errorf("ParseRole(Admin) err = %v", err)
	}
}

func TestContextCarriesThePrincipal(t *testing.T) {
	if _, ok := access.FromContext(context.Background()); ok {
		t.Fatal("an empty context has a principal")
	}
	p := access.Principal{Email: "a@example.com", Role: access.Editor, KeyID: "k1"}
	if got, ok := access.FromContext(access.NewContext(context.Background(), p)); !ok || got != p {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}
