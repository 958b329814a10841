// Package access is the bot's one role model: the roles a user can have,
// the actions a request can need, and which role may do which. Every
// request of the controller API (/apis), the bot's API (/api) and the web
// console is decided here, whoever made it: an API key's user or a person
// signed in to the console.
//
//	action               viewer  editor  admin
//	read                   yes     yes    yes   GET resources, the event log, runs
//	write resources         -      yes    yes   apply or delete any kind but those below
//	run pipelines           -      yes    yes   the Run button
//	manage pipelines        -       -     yes   apply or delete a Pipeline
//	manage integrations     -       -     yes   apply or delete a Repository, SecretSealer, SecretStore
//	read secrets            -       -     yes   see stored secrets in the console (others see them masked)
//	manage keys             -       -     yes   list, create, revoke API keys; users' roles
//
// Integrations decide where the bot reads and writes (a Repository's
// endpoint is a pipeline's source) and what it decrypts (a SecretSealer's
// key, a SecretStore): whoever may change them may make the bot, which is
// an admin, apply whatever another repository holds, Pipelines included.
package access

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Role is what a user may do. The zero Role may do nothing.
type Role string

// The roles, least first: each may do everything the one before it may.
const (
	Viewer Role = "viewer"
	Editor Role = "editor"
	Admin  Role = "admin"
)

// None is the role an admin gives a person to keep them out of the
// console: like the zero Role it may nothing. It is no role of a key.
const None Role = "none"

// Roles returns every role, least first.
func Roles() []Role { return []Role{Viewer, Editor, Admin} }

// ParseRole returns the role named s, or an error naming the roles there are.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fmt.Errorf("role %q: want admin, editor or viewer", s)
	}
	return r, nil
}

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Editor:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Action is something a request asks to do.
type Action int

// The actions.
const (
	// Read is reading resources, the event log, pipeline runs.
	Read Action = iota + 1
	// WriteResources is applying or deleting a resource of any kind but Pipeline.
	WriteResources
	// RunPipelines is starting a pipeline run (the Run button).
	RunPipelines
	// ManagePipelines is applying or deleting a Pipeline resource.
	ManagePipelines
	// ManageKeys is listing, creating and revoking API keys, and setting users' roles.
	ManageKeys
	// ManageIntegrations is applying or deleting a Repository,
	// SecretSealer or SecretStore resource (IntegrationKinds).
	ManageIntegrations
	// ReadSecrets is seeing the secrets a stored resource holds in the
	// console; a role that may not sees them masked.
	ReadSecrets
)

// IntegrationKinds are the kinds whose writes need ManageIntegrations.
var IntegrationKinds = []string{"Repository", "SecretSealer", "SecretStore"}

// least is the policy: the least role that may do each action.
var least = map[Action]Role{
	Read:               Viewer,
	WriteResources:     Editor,
	RunPipelines:       Editor,
	ManagePipelines:    Admin,
	ManageKeys:         Admin,
	ManageIntegrations: Admin,
	ReadSecrets:        Admin,
}

func (a Action) String() string {
	switch a {
	case Read:
		return "read"
	case WriteResources:
		return "write resources"
	case RunPipelines:
		return "run pipelines"
	case ManagePipelines:
		return "manage pipelines"
	case ManageKeys:
		return "manage keys"
	case ManageIntegrations:
		return "manage integrations (Repository, SecretSealer, SecretStore)"
	case ReadSecrets:
		return "read secrets"
	}
	return fmt.Sprintf("action %d", int(a))
}

// Can reports whether role r may do a. An unknown role or action may
// nothing.
func (r Role) Can(a Action) bool {
	need, ok := least[a]
	return ok && r.rank() > 0 && r.rank() >= need.rank()
}

// Needs returns the roles that may do a, least first.
func Needs(a Action) []Role {
	var out []Role
	for _, r := range Roles() {
		if r.Can(a) {
			out = append(out, r)
		}
	}
	return out
}

// ForResource is the action a request with HTTP method on a resource of
// kind needs: reading for GET and HEAD; otherwise managing pipelines for a
// Pipeline, managing integrations for one of IntegrationKinds, and writing
// resources for any other kind (also for a kind not known, so that a
// request that writes is never let through as a read).
func ForResource(method, kind string) Action {
	switch method {
	case http.MethodGet, http.MethodHead:
		return Read
	}
	switch {
	case kind == "Pipeline":
		return ManagePipelines
	case slices.Contains(IntegrationKinds, kind):
		return ManageIntegrations
	}
	return WriteResources
}

// Principal is who makes a request: a user and the role it has.
type Principal struct {
	Email string
	Role  Role
	// KeyID names the API key the request came with; empty for a person
	// signed in some other way.
	KeyID string
}

// Check returns nil when p may do a, else a *Denied saying why.
func Check(p Principal, a Action) error {
	if p.Role.Can(a) {
		return nil
	}
	return &Denied{Principal: p, Action: a}
}

// Denied is a request refused for its principal's role (HTTP 403).
type Denied struct {
	Principal Principal
	Action    Action
}

func (d *Denied) Error() string {
	var needs []string
	for _, r := range Needs(d.Action) {
		needs = append(needs, string(r))
	}
	role := string(d.Principal.Role)
	if role == "" {
		role = "none"
	}
	return fmt.Sprintf("role %s may not %s: that needs %s", role, d.Action, strings.Join(needs, " or "))
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
