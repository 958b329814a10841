// Package web serves the bot's own HTTP API: pipeline runs as JSON, the
// Run button, and the API keys.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
)

// maxKeyRequest bounds the body of POST /api/keys.
const maxKeyRequest = 64 << 10

// API serves GET /api/pipelines/{project}/{name}/runs, POST
// /api/pipelines/{project}/{name}/run, GET /api/runs/{id}, POST
// /api/runs/{id}/conflicts/{kind}/{project}/{name} and, for admins,
// GET and POST /api/keys and DELETE /api/keys/{id}. Every request is
// authenticated with the controller's API keys (X-API-KEY) and checked
// against the key's role (see package access). Answers and errors are
// written as the controller's are (controller.WriteJSON, WriteError).
type API struct {
	runs    *pipeline.Runs
	keys    *controller.Keys
	log     *slog.Logger
	mux     *http.ServeMux
	sync    SyncFunc
	resolve ResolveFunc
}

// SyncFunc runs a full sync of a pipeline both ways and returns the run ids.
type SyncFunc func(ctx context.Context, project, name string) ([]int64, error)

// ResolveFunc resolves a run's conflict as req asks and returns the
// resolving run (pipeline.Runner.Resolve).
type ResolveFunc func(ctx context.Context, req pipeline.ResolveRequest) (*pipeline.Run, error)

// maxResolveRequest bounds the body of POST /api/runs/{id}/conflicts/….
const maxResolveRequest = 4 << 10

// NewAPI returns the run API; sync serves POST /api/pipelines/{project}/{name}/run.
func NewAPI(runs *pipeline.Runs, keys *controller.Keys, sync SyncFunc, log *slog.Logger) *API {
	a := &API{runs: runs, keys: keys, log: log, mux: http.NewServeMux(), sync: sync}
	a.route("GET /api/pipelines/{project}/{name}/runs", access.Read, a.listRuns)
	a.route("POST /api/pipelines/{project}/{name}/run", access.RunPipelines, a.runNow)
	a.route("GET /api/runs/{id}", access.Read, a.getRun)
	a.route("POST /api/runs/{id}/conflicts/{kind}/{project}/{name}", access.Read, a.resolveConflict) // the kind's write access is checked there
	a.route("GET /api/keys", access.ManageKeys, a.listKeys)
	a.route("POST /api/keys", access.ManageKeys, a.createKey)
	a.route("DELETE /api/keys/{id}", access.ManageKeys, a.revokeKey)
	return a
}

// route serves pattern with h for the requests whose principal may do need.
func (a *API) route(pattern string, need access.Action, h http.HandlerFunc) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, _ := access.FromContext(r.Context())
		if err := access.Check(p, need); err != nil {
			a.fail(w, r, err)
			return
		}
		h(w, r)
	})
}

// Register mounts the API's routes on mux: /api/keys with every method,
// so that a request without a key gets 401 before anything else.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/pipelines/{project}/{name}/runs", a)
	mux.Handle("POST /api/pipelines/{project}/{name}/run", a)
	mux.Handle("GET /api/runs/{id}", a)
	mux.Handle("POST /api/runs/{id}/conflicts/{kind}/{project}/{name}", a)
	mux.Handle("/api/keys", a)
	mux.Handle("/api/keys/", a)
}

// ServeHTTP authenticates the request by its X-API-KEY (401 when missing,
// unknown or revoked), then routes it; each route lets it through only
// when the key's role may do what it asks (403).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := a.keys.Authenticate(r.Context(), r.Header.Get("X-API-KEY"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.mux.ServeHTTP(w, r.WithContext(access.NewContext(r.Context(), p)))
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	controller.WriteError(w, r, a.log, err)
}

func failf(code int, format string, args ...any) *controller.Error {
	return &controller.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// runNow is the Run button: a full sync both ways, Manually Triggered.
func (a *API) runNow(w http.ResponseWriter, r *http.Request) {
	ids, err := a.sync(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if errors.Is(err, pipeline.ErrPipelineNotFound) {
		a.fail(w, r, failf(http.StatusNotFound, "%v", err))
		return
	}
	if err != nil {
		a.log.ErrorContext(r.Context(), "manual run", "project", r.PathValue("project"), "pipeline", r.PathValue("name"), "runs", ids, "err", err)
		a.fail(w, r, failf(http.StatusInternalServerError, "manual run failed (runs %v): %v", ids, err))
		return
	}
	var first int64
	if len(ids) > 0 {
		first = ids[0]
	}
	controller.WriteJSON(w, http.StatusAccepted, map[string]any{"id": first, "runs": ids})
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			a.fail(w, r, failf(http.StatusBadRequest, "limit must be a whole number from 1 to 500"))
			return
		}
		limit = n
	}
	runs, err := a.runs.List(r.Context(), r.PathValue("project")+"/"+r.PathValue("name"), limit)
	if err != nil {
		a.fail(w, r, fmt.Errorf("list runs: %w", err))
		return
	}
	controller.WriteJSON(w, http.StatusOK, map[string]any{"items": runs})
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.fail(w, r, failf(http.StatusBadRequest, "run id must be a number"))
		return
	}
	run, err := a.runs.Get(r.Context(), id)
	if errors.Is(err, pipeline.ErrRunNotFound) {
		a.fail(w, r, failf(http.StatusNotFound, "run not found"))
		return
	}
	if err != nil {
		a.fail(w, r, fmt.Errorf("get run %d: %w", id, err))
		return
	}
	controller.WriteJSON(w, http.StatusOK, run)
}

// SetResolve serves POST /api/runs/{id}/conflicts/{kind}/{project}/{name}
// with resolve; until it is set, that route answers 501.
func (a *API) SetResolve(resolve ResolveFunc) { a.resolve = resolve }

// ResolveConflictRequest is the body of POST
// /api/runs/{id}/conflicts/{kind}/{project}/{name}: which side to keep.
type ResolveConflictRequest struct {
	Keep string `json:"keep"` // "git" or "system"
}

// ResolveConflict is the one way a person ends a run's open conflict,
// through the API or the console: the resource named by kind, project
// (for a Project, its own name) and name; keep "git" applies Git's version
// to the system, "system" writes the system's to the stage's branch. p must
// hold the role that may write the resource. via says how ("API",
// "console"). The errors are *controller.Error (400, 404, 409, 501) or
// *access.Denied, ready to answer with, or others (500).
func ResolveConflict(ctx context.Context, resolve ResolveFunc, p access.Principal, id int64, kind, project, name, keep, via string) (*pipeline.Run, error) {
	if resolve == nil {
		return nil, failf(http.StatusNotImplemented, "conflicts are not resolved by this server")
	}
	k, ok := spec.LookupKind(kind)
	if !ok {
		return nil, failf(http.StatusNotFound, "unknown kind %q", kind)
	}
	key := spec.Key{Kind: k.Name, Project: project, Name: name}
	if k.Name == "Project" {
		if key.Project != key.Name {
			return nil, failf(http.StatusNotFound, "a Project's conflict is /conflicts/Project/{name}/{name}")
		}
		key.Project = ""
	}
	if err := access.Check(p, access.ForResource(http.MethodPost, k.Name)); err != nil {
		return nil, err
	}
	if keep != pipeline.KeepGit && keep != pipeline.KeepSystem {
		return nil, failf(http.StatusBadRequest, `keep must be "git" or "system", not %q`, keep)
	}
	payload, _ := json.Marshal(map[string]any{
		"conflict": map[string]any{"run": id, "kind": key.Kind, "project": key.Project, "name": key.Name},
		"keep":     keep, "user": p.Email, "via": via})
	run, err := resolve(ctx, pipeline.ResolveRequest{Run: id, Key: key, Keep: keep, By: p.Email, Via: via,
		Trigger: pipeline.TriggerManual, Payload: payload})
	switch {
	case errors.Is(err, pipeline.ErrConflictNotFound):
		return nil, failf(http.StatusNotFound, "%v", err)
	case errors.Is(err, pipeline.ErrConflictResolved), errors.Is(err, pipeline.ErrCannotResolve):
		return nil, failf(http.StatusConflict, "%v", err)
	case err != nil:
		return nil, fmt.Errorf("resolve the conflict of %s in run %d: %w", key, id, err)
	}
	return run, nil
}

// resolveConflict ends a run's open conflict: keep "git" applies Git's
// version to the system, "system" writes the system's to the stage's
// branch. For a Project, {project} is its own name. It needs the role that
// may write the resource (editor, admin for a Pipeline) and answers the
// conflict's run, its resolution filled in.
func (a *API) resolveConflict(w http.ResponseWriter, r *http.Request) {
	if a.resolve == nil {
		a.fail(w, r, failf(http.StatusNotImplemented, "conflicts are not resolved by this server"))
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.fail(w, r, failf(http.StatusBadRequest, "run id must be a number"))
		return
	}
	var req ResolveConflictRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxResolveRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		a.fail(w, r, failf(http.StatusBadRequest, `request body: want JSON {"keep": "git"|"system"}`))
		return
	}
	p, _ := access.FromContext(r.Context())
	resolving, err := ResolveConflict(r.Context(), a.resolve, p, id, r.PathValue("kind"), r.PathValue("project"), r.PathValue("name"), req.Keep, "API")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	run, err := a.runs.Get(r.Context(), id)
	if err != nil {
		a.fail(w, r, fmt.Errorf("get run %d: %w", id, err))
		return
	}
	a.log.InfoContext(r.Context(), "conflict resolved", "run", id, "kind", r.PathValue("kind"), "name", r.PathValue("name"), "keep", req.Keep, "by", p.Email, "resolving_run", resolving.ID)
	controller.WriteJSON(w, http.StatusOK, run)
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.keys.List(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	controller.WriteJSON(w, http.StatusOK, map[string]any{"items": keys})
}

// NewKeyRequest is the body of POST /api/keys; Role is viewer when empty.
type NewKeyRequest struct {
	Email string      `json:"email"`
	Role  access.Role `json:"role"`
}

// NewKeyAnswer is the answer of POST /api/keys: the key's record and, this
// once, the key itself.
type NewKeyAnswer struct {
	controller.Key
	Secret string `json:"key"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	var req NewKeyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxKeyRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.fail(w, r, failf(http.StatusBadRequest, "request body: want JSON {\"email\": …, \"role\": admin|editor|viewer}: %v", err))
		return
	}
	if dec.More() {
		a.fail(w, r, failf(http.StatusBadRequest, "request body: want one JSON object"))
		return
	}
	if req.Role == "" {
		req.Role = access.Viewer
	}
	key, secret, err := a.keys.Create(r.Context(), strings.TrimSpace(req.Email), req.Role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, _ := access.FromContext(r.Context())
	a.log.InfoContext(r.Context(), "API key created", "id", key.ID, "email", key.Email, "role", key.Role, "by", p.Email)
	w.Header().Set("Cache-Control", "no-store")
	controller.WriteJSON(w, http.StatusCreated, NewKeyAnswer{Key: key, Secret: secret})
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	key, err := a.keys.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, _ := access.FromContext(r.Context())
	a.log.InfoContext(r.Context(), "API key revoked", "id", key.ID, "email", key.Email, "by", p.Email)
	controller.WriteJSON(w, http.StatusOK, key)
}
