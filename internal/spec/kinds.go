package spec

import "strings"

// Kind describes one resource kind the bot syncs: its name, its API group
// (the apiVersion is always Group + "/v3"), the URL plural (which is also the
// folder name in a repository) and whether resources of the kind live in a
// project.
type Kind struct {
	Name          string   // "Cluster"
	Group         string   // "infra.k8smgmt.io"
	Plural        string   // "clusters" (URL plural = repo folder name)
	ProjectScoped bool     // false only for Project
	AltGroups     []string // groups also accepted on input (InfraProvisioner: "infra.k8smgmt.io")

	// check runs the kind's own checks on spec, a mapping; nil when the
	// kind has none beyond the generic ones.
	check func(c *checker, spec map[string]any)
	// specOptional is true when spec may be left out (Project).
	specOptional bool
}

// APIVersion returns the apiVersion the bot writes for the kind: its
// primary group followed by "/v3".
func (k *Kind) APIVersion() string { return k.Group + "/v3" }

// acceptsGroup reports whether group is the kind's primary group or one of
// its alternative groups.
func (k *Kind) acceptsGroup(group string) bool {
	if group == k.Group {
		return true
	}
	for _, g := range k.AltGroups {
		if g == group {
			return true
		}
	}
	return false
}

const (
	groupSystem       = "system.k8smgmt.io"
	groupInfra        = "infra.k8smgmt.io"
	groupApps         = "apps.k8smgmt.io"
	groupGitops       = "gitops.k8smgmt.io"
	groupIntegrations = "integrations.k8smgmt.io"
	groupOPA          = "opa.k8smgmt.io"
	groupSecurity     = "security.k8smgmt.io"
)

// registry is the read-only table of kinds, in the order Kinds returns.
var registry = []*Kind{
	{Name: "Project", Group: groupSystem, Plural: "projects", specOptional: true, check: checkProject},
	{Name: "Cluster", Group: groupInfra, Plural: "clusters", ProjectScoped: true, check: checkCluster},
	{Name: "Blueprint", Group: groupInfra, Plural: "blueprints", ProjectScoped: true, check: checkBlueprint},
	{Name: "Addon", Group: groupInfra, Plural: "addons", ProjectScoped: true, check: checkAddon},
	{Name: "Namespace", Group: groupInfra, Plural: "namespaces", ProjectScoped: true, check: checkNamespace},
	{Name: "Workload", Group: groupApps, Plural: "workloads", ProjectScoped: true, check: checkWorkload},
	{Name: "WorkloadTemplate", Group: groupApps, Plural: "workloadtemplates", ProjectScoped: true, check: checkWorkloadTemplate},
	{Name: "Override", Group: groupApps, Plural: "overrides", ProjectScoped: true, check: checkOverride},
	{Name: "Agent", Group: groupGitops, Plural: "agents", ProjectScoped: true, check: checkAgent},
	{Name: "Pipeline", Group: groupGitops, Plural: "pipelines", ProjectScoped: true, check: checkPipeline},
	{Name: "InfraProvisioner", Group: groupGitops, Plural: "infraprovisioners", ProjectScoped: true,
		AltGroups: []string{groupInfra}, check: checkInfraProvisioner},
	{Name: "Repository", Group: groupIntegrations, Plural: "repositories", ProjectScoped: true, check: checkRepository},
	{Name: "SecretSealer", Group: groupIntegrations, Plural: "secretsealers", ProjectScoped: true, check: checkSecretSealer},
	{Name: "SecretStore", Group: groupIntegrations, Plural: "secretstores", ProjectScoped: true, check: checkSecretStore},
	{Name: "OPAConstraint", Group: groupOPA, Plural: "opaconstraints", ProjectScoped: true, check: checkOPAConstraint},
	{Name: "OPAConstraintTemplate", Group: groupOPA, Plural: "opaconstrainttemplates", ProjectScoped: true, check: checkOPAConstraintTemplate},
	{Name: "OPAPolicy", Group: groupOPA, Plural: "opapolicies", ProjectScoped: true, check: checkOPAPolicy},
	{Name: "NamespaceNetworkPolicy", Group: groupSecurity, Plural: "namespacenetworkpolicies", ProjectScoped: true, check: checkNetworkPolicy},
	{Name: "NamespaceNetworkPolicyRule", Group: groupSecurity, Plural: "namespacenetworkpolicyrules", ProjectScoped: true, check: checkNetworkPolicyRule},
}

// Kinds returns every kind the bot syncs (19), Project first and then in
// the order of the design's table. The slice is a fresh copy; the Kinds it
// points to are shared and must not be modified.
func Kinds() []*Kind {
	out := make([]*Kind, len(registry))
	copy(out, registry)
	return out
}

// LookupKind finds a kind by its exact name, such as "Cluster".
func LookupKind(name string) (*Kind, bool) {
	for _, k := range registry {
		if k.Name == name {
			return k, true
		}
	}
	return nil, false
}

// LookupPlural finds a kind by its URL plural (the repository folder name),
// such as "clusters".
func LookupPlural(plural string) (*Kind, bool) {
	for _, k := range registry {
		if k.Plural == plural {
			return k, true
		}
	}
	return nil, false
}

// LookupGroupPlural finds the kind a REST path /apis/<group>/v3/.../<plural>
// addresses. The group may be the kind's primary group or one of its
// AltGroups.
func LookupGroupPlural(group, plural string) (*Kind, bool) {
	k, ok := LookupPlural(plural)
	if !ok || !k.acceptsGroup(group) {
		return nil, false
	}
	return k, true
}

// kindNames lists the names of all kinds, comma-separated, for messages.
func kindNames() string {
	names := make([]string, len(registry))
	for i, k := range registry {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// nearestKind suggests the kind a user probably meant by name, or "" when
// nothing is close.
func nearestKind(name string) string {
	lower := strings.ToLower(name)
	for _, k := range registry {
		if strings.ToLower(k.Name) == lower {
			return k.Name
		}
	}
	best, bestLen := "", 0
	for _, k := range registry {
		kl := strings.ToLower(k.Name)
		if (strings.HasPrefix(lower, kl) || strings.HasPrefix(kl, lower)) && len(k.Name) > bestLen && len(lower) >= 3 {
			best, bestLen = k.Name, len(k.Name)
		}
	}
	if best != "" {
		return best
	}
	bestDist := 3
	for _, k := range registry {
		if d := editDistance(lower, strings.ToLower(k.Name)); d < bestDist {
			best, bestDist = k.Name, d
		}
	}
	return best
}

// NearestPlural suggests the kind folder (a project-scoped kind's plural) a
// person probably meant by folder, such as namespaces for namespacess, or
// "" when none is close.
func NearestPlural(folder string) string {
	lower := strings.ToLower(folder)
	best, bestDist := "", 3
	for _, k := range registry {
		if !k.ProjectScoped {
			continue
		}
		if d := editDistance(lower, k.Plural); d < bestDist {
			best, bestDist = k.Plural, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
