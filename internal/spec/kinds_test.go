package spec

import (
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	want := "Project Cluster Blueprint Addon Namespace Workload WorkloadTemplate Override Agent Pipeline InfraProvisioner " +
		"Repository SecretSealer SecretStore OPAConstraint OPAConstraintTemplate OPAPolicy NamespaceNetworkPolicy NamespaceNetworkPolicyRule"
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name)
		if k.ProjectScoped != (k.Name != "Project") {
			t.Errorf("%s: ProjectScoped = %v", k.Name, k.ProjectScoped)
		}
		if k.Plural != strings.ToLower(k.Plural) || !strings.HasSuffix(k.Plural, "s") {
			t.Errorf("%s: plural %q", k.Name, k.Plural)
		}
		if got, ok := LookupKind(k.Name); !ok || got != k {
			t.Errorf("LookupKind(%s)", k.Name)
		}
		if got, ok := LookupPlural(k.Plural); !ok || got != k {
			t.Errorf("LookupPlural(%s)", k.Plural)
		}
		if got, ok := LookupGroupPlural(k.Group, k.Plural); !ok || got != k {
			t.Errorf("LookupGroupPlural(%s, %s)", k.Group, k.Plural)
		}
		if k.APIVersion() != k.Group+"/v3" {
			t.Errorf("%s: APIVersion %s", k.Name, k.APIVersion())
		}
	}
	if got := strings.Join(names, " "); got != want {
		t.Errorf("Kinds() = %s", got)
	}
	// Kinds returns a copy: changing it does not change the registry.
	ks := Kinds()
	ks[0] = nil
	if Kinds()[0] == nil {
		t.Error("Kinds exposes the registry slice")
	}

	spot := map[string][2]string{
		"Cluster": {"infra.k8smgmt.io", "clusters"}, "Workload": {"apps.k8smgmt.io", "workloads"},
		"Pipeline": {"gitops.k8smgmt.io", "pipelines"}, "Repository": {"integrations.k8smgmt.io", "repositories"},
		"OPAPolicy": {"opa.k8smgmt.io", "opapolicies"}, "NamespaceNetworkPolicy": {"security.k8smgmt.io", "namespacenetworkpolicies"},
		"Project": {"system.k8smgmt.io", "projects"}, "InfraProvisioner": {"gitops.k8smgmt.io", "infraprovisioners"},
	}
	for name, gp := range spot {
		k, _ := LookupKind(name)
		if k.Group != gp[0] || k.Plural != gp[1] {
			t.Errorf("%s: %s %s", name, k.Group, k.Plural)
		}
	}
	if k, ok := LookupGroupPlural("infra.k8smgmt.io", "infraprovisioners"); !ok || k.Name != "InfraProvisioner" {
		t.Error("InfraProvisioner's alternative group not accepted")
	}
	if _, ok := LookupGroupPlural("apps.k8smgmt.io", "clusters"); ok {
		t.Error("wrong group accepted")
	}
	for _, bad := range []string{"cluster", "AddonVersion", ""} {
		if _, ok := LookupKind(bad); ok {
			t.Errorf("LookupKind(%q) found", bad)
		}
	}
	if _, ok := LookupPlural("Clusters"); ok {
		t.Error("plural lookup is case-insensitive")
	}
}
