package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
)

// API limits.
const (
	MaxBodyBytes = 4 << 20 // request bodies over 4 MiB get 413
	DefaultLimit = 100     // list page size when ?limit= is absent
	MaxLimit     = 1000    // largest list page
	MaxWait      = 60 * time.Second
)

const projectGroup = "system.k8smgmt.io"

// API serves the Rafay-v3-shaped REST API over a Store. Every request needs
// an X-API-KEY header naming a registered key.
type API struct {
	store *Store
	keys  *Keys
	log   *slog.Logger
	mux   *http.ServeMux

	draining context.Context // done once Drain is called
	drain    context.CancelFunc
}

// Drain ends every long-poll in progress at once (they answer with what
// they have): call it when the server shuts down, so that a follower's
// 30-second wait does not hold the shutdown.
func (a *API) Drain() { a.drain() }

// NewAPI returns the API handler; mount it at the server's root (its routes
// all start with /apis/).
func NewAPI(st *Store, keys *Keys, log *slog.Logger) *API {
	a := &API{store: st, keys: keys, log: log, mux: http.NewServeMux()}
	a.draining, a.drain = context.WithCancel(context.Background())
	a.mux.HandleFunc("GET /apis/{group}/v3/projects/{project}/{plural}", a.list)
	a.mux.HandleFunc("POST /apis/{group}/v3/projects/{project}/{plural}", a.apply)
	a.mux.HandleFunc("GET /apis/{group}/v3/projects/{project}/{plural}/{name}", a.get)
	a.mux.HandleFunc("PUT /apis/{group}/v3/projects/{project}/{plural}/{name}", a.apply)
	a.mux.HandleFunc("DELETE /apis/{group}/v3/projects/{project}/{plural}/{name}", a.delete)
	a.mux.HandleFunc("GET /apis/"+projectGroup+"/v3/projects", a.list)
	a.mux.HandleFunc("POST /apis/"+projectGroup+"/v3/projects", a.apply)
	a.mux.HandleFunc("GET /apis/"+projectGroup+"/v3/projects/{name}", a.get)
	a.mux.HandleFunc("PUT /apis/"+projectGroup+"/v3/projects/{name}", a.apply)
	a.mux.HandleFunc("DELETE /apis/"+projectGroup+"/v3/projects/{name}", a.delete)
	a.mux.HandleFunc("GET /apis/"+projectGroup+"/v3/events", a.events)
	a.mux.HandleFunc("/apis/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, errorf(http.StatusNotFound, "no such API path: %s %s", r.Method, r.URL.Path))
	})
	return a
}

type userKey struct{}

// ServeHTTP authenticates the request and routes it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-API-KEY")
	if key == "" {
		a.fail(w, r, errorf(http.StatusUnauthorized, "missing X-API-KEY header"))
		return
	}
	user, ok, err := a.keys.User(r.Context(), key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !ok {
		a.fail(w, r, errorf(http.StatusUnauthorized, "unknown API key"))
		return
	}
	a.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
}

func userOf(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

// target is what a URL names: a kind and a project (empty for Projects).
type target struct {
	kind    *spec.Kind
	project string
}

func resolve(r *http.Request) (target, error) {
	group := r.PathValue("group")
	plural := r.PathValue("plural")
	if group == "" { // the /projects routes
		k, _ := spec.LookupKind("Project")
		return target{kind: k}, nil
	}
	k, ok := spec.LookupGroupPlural(group, plural)
	if !ok {
		return target{}, errorf(http.StatusNotFound, "no resource type %q in group %q", plural, group)
	}
	if !k.ProjectScoped {
		return target{}, errorf(http.StatusNotFound, "%s is not project-scoped: use /apis/%s/v3/%s", k.Name, k.Group, k.Plural)
	}
	return target{kind: k, project: r.PathValue("project")}, nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	t, err := resolve(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	limit, err := intParam(r, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	offset, err := intParam(r, "offset", 0, 0, 1<<31-1)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rows, total, err := a.store.listRows(r.Context(), t.kind.Name, t.project, limit, offset)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The answer is what encoding a map of apiVersion, items, kind and
	// metadata gives (keys in that order), each item written from its
	// stored body (see appendRowView).
	size := 128
	for _, row := range rows {
		size += len(row.body) + 128
	}
	out := make([]byte, 0, size)
	out = append(out, `{"apiVersion":`...)
	out = spec.AppendJSONString(out, t.kind.APIVersion())
	out = append(out, `,"items":[`...)
	for i, row := range rows {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = appendRowView(out, row, t.kind.Name, t.project); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	out = append(out, `],"kind":`...)
	out = spec.AppendJSONString(out, t.kind.Name+"List")
	out = fmt.Appendf(out, `,"metadata":{"count":%d,"limit":%d,"offset":%d}}`+"\n", total, limit, offset)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, &Error{Code: http.StatusBadRequest, Message: "invalid query parameter " + name,
			Problems: []spec.Problem{{Field: name, Message: fmt.Sprintf("must be a whole number from %d to %d, got %q", lo, hi, s)}}}
	}
	return n, nil
}

func (a *API) key(r *http.Request, t target) spec.Key {
	return spec.Key{Kind: t.kind.Name, Project: t.project, Name: r.PathValue("name")}
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	t, err := resolve(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	st, err := a.store.Get(r.Context(), a.key(r, t))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st.View())
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	t, err := resolve(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	k := a.key(r, t)
	st, err := a.store.Get(r.Context(), k)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.Delete(r.Context(), k, userOf(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st.View())
}

func (a *API) apply(w http.ResponseWriter, r *http.Request) {
	t, err := resolve(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.fail(w, r, errorf(http.StatusRequestEntityTooLarge, "request body is over the limit of %d bytes", MaxBodyBytes))
			return
		}
		a.fail(w, r, errorf(http.StatusBadRequest, "read request body: %v", err))
		return
	}
	res, problems := spec.ParseBody(r.Header.Get("Content-Type"), body)
	if len(problems) > 0 {
		a.fail(w, r, &Error{Code: http.StatusBadRequest, Message: "invalid request body", Problems: problems})
		return
	}
	if t.kind.ProjectScoped && res.Project() == "" {
		res.SetProject(t.project)
	}
	// PUT names the resource in the URL; POST to the collection does not.
	// Errors refuse the apply; warnings go with the answer as Warning
	// headers, as Kubernetes' API server sends them.
	checked := spec.Validate(res, spec.Context{Kind: t.kind.Name, Project: t.project, Name: r.PathValue("name")})
	if spec.HasErrors(checked) {
		a.fail(w, r, &Error{Code: http.StatusBadRequest, Message: "invalid " + t.kind.Name, Problems: spec.Errors(checked)})
		return
	}
	expect := ""
	if meta, ok := res.Object["metadata"].(map[string]any); ok && meta["resourceVersion"] != nil {
		expect = fmt.Sprint(meta["resourceVersion"])
	}
	// The body's tree is ours: canonical in place rather than copied.
	k := res.Key()
	st, outcome, err := a.store.apply(r.Context(), k, spec.CanonicalInPlace(res.Object), userOf(r), expect)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if outcome == Created {
		code = http.StatusCreated
	}
	for _, p := range checked {
		w.Header().Add("Warning", WarningHeader(p))
	}
	writeView(w, code, st)
}

// WarningHeader is the value of the Warning header (RFC 9111's warn-code
// 299, "miscellaneous persistent warning", agent "-") that carries the
// warning p with a successful apply: `299 - "spec.type: cluster type …"`.
func WarningHeader(p spec.Problem) string {
	text := p.Message
	if p.Field != "" {
		text = p.Field + ": " + text
	}
	return "299 - " + strconv.Quote(text)
}

// readBody reads the request body, at most MaxBodyBytes, into one buffer
// sized from Content-Length when the client sent it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= MaxBodyBytes {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead spare to detect EOF
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	return buf.Bytes(), err
}

// writeView is writeJSON of st.View(), encoded without reflection: from
// the stored body when st has it (an apply's answer), which only needs the
// view's three metadata fields written into it.
func writeView(w http.ResponseWriter, code int, st Stored) {
	b := make([]byte, 0, len(st.body)+160)
	b, ok := appendBodyView(b, st.body, st.CreatedAt, st.ModifiedAt, st.ResourceVersion, true)
	if !ok {
		var err error
		if b, err = appendView(b[:0], st); err != nil {
			writeJSON(w, code, st.View()) // as it always did: the status, then what encodes
			return
		}
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// EventList is the body of GET /apis/system.k8smgmt.io/v3/events.
type EventList struct {
	Revision int64   `json:"revision"`
	Items    []Event `json:"items"`
}

func (a *API) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since int64
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			a.fail(w, r, &Error{Code: http.StatusBadRequest, Message: "invalid query parameter since",
				Problems: []spec.Problem{{Field: "since", Message: fmt.Sprintf("must be a revision (a whole number ≥ 0), got %q", s)}}})
			return
		}
		since = n
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			a.fail(w, r, &Error{Code: http.StatusBadRequest, Message: "invalid query parameter wait",
				Problems: []spec.Problem{{Field: "wait", Message: fmt.Sprintf("must be a duration such as 30s, got %q", s)}}})
			return
		}
		wait = min(d, MaxWait)
	}
	limit, err := intParam(r, "limit", MaxLimit, 1, MaxLimit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	wctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(a.draining, cancel)()
	evs, err := a.store.WaitEvents(wctx, since, limit, wait)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	head, err := a.store.Head(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if evs == nil {
		evs = []Event{}
	}
	writeJSON(w, http.StatusOK, EventList{Revision: head, Items: evs})
}

// ErrorBody is the JSON of every error answer: code is the HTTP status,
// external what a user should read (one entry per problem, each with its
// field path and line where known), internal a one-line summary.
type ErrorBody struct {
	Code     int            `json:"code"`
	External []spec.Problem `json:"external"`
	Internal string         `json:"internal"`
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		a.log.ErrorContext(r.Context(), "controller API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		apiErr = &Error{Code: http.StatusInternalServerError, Message: "internal error"}
	}
	ext := apiErr.Problems
	if len(ext) == 0 {
		ext = []spec.Problem{{Message: apiErr.Message}}
	}
	writeJSON(w, apiErr.Code, ErrorBody{Code: apiErr.Code, External: ext, Internal: apiErr.Message})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
