package reconcile

import (
	"github.com/systemsync/systemsync/internal/spec"
)

// Scope bounds which keys a pipeline stage owns: the kinds it includes
// (less the excluded ones) and the projects it covers.
type Scope struct {
	// Kinds included; nil means every kind.
	Kinds map[string]bool
	// Excluded kinds, taken out of Kinds.
	Excluded map[string]bool
	// Projects covered; nil means every project.
	Projects map[string]bool
}

// KindIncluded reports whether the stage syncs kind.
func (s Scope) KindIncluded(kind string) bool {
	if s.Excluded[kind] {
		return false
	}
	return s.Kinds == nil || s.Kinds[kind]
}

// ProjectCovered reports whether the stage covers project.
func (s Scope) ProjectCovered(project string) bool {
	return s.Projects == nil || s.Projects[project]
}

// Owns reports whether key k is the stage's: its kind included and its
// project (for a Project, the project it names) covered.
func (s Scope) Owns(k spec.Key) bool {
	p := k.Project
	if k.Kind == "Project" {
		p = k.Name
	}
	return s.KindIncluded(k.Kind) && s.ProjectCovered(p)
}

// ignoredReason says why a key the folder holds is outside the scope, or "".
func (s Scope) ignoredReason(k spec.Key) string {
	if !s.KindIncluded(k.Kind) {
		return "kind " + k.Kind + " is not included in this pipeline"
	}
	if !s.Owns(k) {
		p := k.Project
		if k.Kind == "Project" {
			p = k.Name
		}
		return "project " + p + " is not covered by this pipeline"
	}
	return ""
}

// SyncedKinds returns the kinds in scope, Project first, in registry order.
func (s Scope) SyncedKinds() []string {
	var out []string
	for _, k := range spec.Kinds() {
		if s.KindIncluded(k.Name) {
			out = append(out, k.Name)
		}
	}
	return out
}
