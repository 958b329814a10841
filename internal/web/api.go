// Package web serves the bot's own HTTP API: pipeline runs as JSON.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/pipeline"
)

// API serves GET /api/pipelines/{project}/{name}/runs and GET /api/runs/{id},
// authenticated with the controller's API keys (X-API-KEY).
type API struct {
	runs *pipeline.Runs
	keys *controller.Keys
	log  *slog.Logger
	mux  *http.ServeMux
	sync SyncFunc
}

// SyncFunc runs a full sync of a pipeline both ways and returns the run ids.
type SyncFunc func(ctx context.Context, project, name string) ([]int64, error)

// NewAPI returns the run API; sync serves POST /api/pipelines/{project}/{name}/run.
func NewAPI(runs *pipeline.Runs, keys *controller.Keys, sync SyncFunc, log *slog.Logger) *API {
	a := &API{runs: runs, keys: keys, log: log, mux: http.NewServeMux(), sync: sync}
	a.mux.HandleFunc("GET /api/pipelines/{project}/{name}/runs", a.listRuns)
	a.mux.HandleFunc("POST /api/pipelines/{project}/{name}/run", a.runNow)
	a.mux.HandleFunc("GET /api/runs/{id}", a.getRun)
	return a
}

// Register mounts the API's routes on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/pipelines/{project}/{name}/runs", a)
	mux.Handle("POST /api/pipelines/{project}/{name}/run", a)
	mux.Handle("GET /api/runs/{id}", a)
}

// runNow is the Run button: a full sync both ways, Manually Triggered.
func (a *API) runNow(w http.ResponseWriter, r *http.Request) {
	ids, err := a.sync(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if errors.Is(err, pipeline.ErrPipelineNotFound) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		a.log.Error("manual run", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": 500, "message": err.Error(), "runs": ids})
		return
	}
	var first int64
	if len(ids) > 0 {
		first = ids[0]
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": first, "runs": ids})
}

// ServeHTTP authenticates and routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, ok, err := a.keys.User(r.Context(), r.Header.Get("X-API-KEY"))
	if err != nil {
		a.log.Error("look up API key", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	if !ok {
		writeError(w, http.StatusUnauthorized, "missing or unknown X-API-KEY")
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 500")
			return
		}
		limit = n
	}
	runs, err := a.runs.List(r.Context(), r.PathValue("project")+"/"+r.PathValue("name"), limit)
	if err != nil {
		a.log.Error("list runs", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": runs})
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "run id must be a number")
		return
	}
	run, err := a.runs.Get(r.Context(), id)
	if errors.Is(err, pipeline.ErrRunNotFound) {
		writeError(w, http.StatusNotFound, "run not found")
		return
	}
	if err != nil {
		a.log.Error("get run", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"code": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
