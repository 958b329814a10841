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

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/spec"
)

// API limits.
const (
	// MaxBodyBytes bounds what is read of a request body (413 beyond it):
	// twice spec.MaxResourceBytes, for a resource within the limit sent as
	// indented JSON. The resource itself is held to spec.MaxResourceBytes.
	MaxBodyBytes = 2 * spec.MaxResourceBytes
	DefaultLimit = 100  // list page size when ?limit= is absent
	MaxLimit     = 1000 // largest list page
	MaxWait      = 60 * time.Second
)

const projectGroup = "system.k8smgmt.io"

// API serves the Rafay-v3-shaped REST API over a Store. Every request needs
// an X-API-KEY header naming a valid key whose role allows what the
// request asks (see package access).
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
	route := func(pattern string, h http.HandlerFunc) { a.mux.Handle(pattern, a.authorize(h)) }
	route("GET /apis/{group}/v3/projects/{project}/{plural}", a.list)
	route("POST /apis/{group}/v3/projects/{project}/{plural}", a.apply)
	route("GET /apis/{group}/v3/projects/{project}/{plural}/{name}", a.get)
	route("PUT /apis/{group}/v3/projects/{project}/{plural}/{name}", a.apply)
	route("DELETE /apis/{group}/v3/projects/{project}/{plural}/{name}", a.delete)
	route("GET /apis/"+projectGroup+"/v3/projects", a.list)
	route("POST /apis/"+projectGroup+"/v3/projects", a.apply)
	route("GET /apis/"+projectGroup+"/v3/projects/{name}", a.get)
	route("PUT /apis/"+projectGroup+"/v3/projects/{name}", a.apply)
	route("DELETE /apis/"+projectGroup+"/v3/projects/{name}", a.delete)
	route("GET /apis/"+projectGroup+"/v3/events", a.events)
	a.mux.HandleFunc("/apis/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, errorf(http.StatusNotFound, "no such API path: %s %s", r.Method, r.URL.Path))
	})
	return a
}

// ServeHTTP is the API's gate: it authenticates the request by its
// X-API-KEY (401 when the key is missing, unknown or revoked), then routes
// it; each route lets it through only when the key's role may do what it
// asks (403 otherwise; see authorize).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := a.keys.Authenticate(r.Context(), r.Header.Get("X-API-KEY"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.mux.ServeHTTP(w, r.WithContext(access.NewContext(r.Context(), p)))
}

// authorize serves h when the request's principal may do what it asks:
// access.ForResource of its method and the kind its URL names, read as
// the handler reads it (a kind not known is a write, so it is never let
// through as a read).
func (a *API) authorize(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		kind := ""
		if t, err := resolve(r); err == nil {
			kind = t.kind.Name
		}
		p, _ := access.FromContext(r.Context())
		if err := access.Check(p, access.ForResource(r.Method, kind)); err != nil {
			a.fail(w, r, err)
			return
		}
		h(w, r)
	}
}

// userOf is the email of the request's user, which the event log records.
func userOf(r *http.Request) string {
	p, _ := access.FromContext(r.Context())
	return p.Email
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
		if t.kind.Name == SealerKind {
			out, err = a.appendSealerView(r.Context(), out, row, t.project)
		} else {
			out, err = appendRowView(out, row, t.kind.Name, t.project)
		}
		if err != nil {
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
	view, err := a.store.sealers.view(r.Context(), st)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, view)
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
	WriteJSON(w, http.StatusOK, st.View())
}

func (a *API) apply(w http.ResponseWriter, r *http.Request) {
	t, err := resolve(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tooBig := errorf(http.StatusRequestEntityTooLarge, "request body is over the limit of %d bytes for a request; one resource may be %d bytes (4 MiB) as YAML in Git", MaxBodyBytes, spec.MaxResourceBytes)
	if r.ContentLength > MaxBodyBytes { // refused before a byte of it is read
		a.fail(w, r, tooBig)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var overLimit *http.MaxBytesError
		if errors.As(err, &overLimit) {
			a.fail(w, r, tooBig)
			return
		}
		a.fail(w, r, errorf(http.StatusBadRequest, "read request body: %v", err))
		return
	}
	// PUT names the resource in the URL; POST to the collection does not.
	at := spec.Context{Kind: t.kind.Name, Project: t.project, Name: r.PathValue("name")}
	st, outcome, warnings, err := a.store.ApplyBody(r.Context(), at, r.Header.Get("Content-Type"), body, userOf(r), "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if outcome == Created {
		code = http.StatusCreated
	}
	for _, p := range warnings {
		w.Header().Add("Warning", WarningHeader(p))
	}
	if t.kind.Name == SealerKind {
		view, err := a.store.sealers.view(r.Context(), st)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		WriteJSON(w, code, view)
		return
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

// CheckBody reads an apply's body as every front end of the controller
// reads it: parsed as JSON or YAML (by contentType), given at.Project when
// it names no project, and validated against at (at.Kind is the kind the
// URL names, at.Name the name a PUT names). An error refuses it: a 400
// *Error holding every error with its field and line (413 for a body over
// spec.MaxNodes, with the line of the node past the limit); the warnings are
// returned with the resource (they go with a successful apply, as Warning
// headers on the API).
func CheckBody(at spec.Context, contentType string, body []byte) (*spec.Resource, []spec.Problem, error) {
	res, problems := spec.ParseBody(contentType, body)
	if spec.TooManyNodes(problems) {
		return nil, nil, &Error{Code: http.StatusRequestEntityTooLarge, Message: "request body " + problems[0].Message, Problems: problems}
	}
	if len(problems) > 0 {
		return nil, nil, &Error{Code: http.StatusBadRequest, Message: "invalid request body", Problems: problems}
	}
	if k, ok := spec.LookupKind(at.Kind); ok && k.ProjectScoped && res.Project() == "" {
		res.SetProject(at.Project)
	}
	checked := spec.Validate(res, at)
	if spec.HasErrors(checked) {
		return nil, nil, &Error{Code: http.StatusBadRequest, Message: "invalid " + at.Kind, Problems: spec.Errors(checked)}
	}
	return res, checked, nil
}

// ApplyBody is the apply of POST /apis/<group>/v3/projects/<project>/<plural>
// (and PUT …/<name>) with body, on behalf of user: CheckBody, then Apply.
// expectVersion, when set, must be the stored resourceVersion; empty, the
// body's metadata.resourceVersion must, when it carries one (409 when
// stale, see Apply). It returns the body's warnings with the outcome. It
// parses within the process's parse budget (spec.Reserve), waiting for it.
func (s *Store) ApplyBody(ctx context.Context, at spec.Context, contentType string, body []byte, user, expectVersion string) (Stored, Outcome, []spec.Problem, error) {
	release, err := spec.Reserve(ctx, len(body)) // the process's parse budget, until the parsed body is dropped
	if err != nil {
		return Stored{}, "", nil, fmt.Errorf("apply %s: %w", at.Kind, err)
	}
	defer release()
	res, warnings, err := CheckBody(at, contentType, body)
	if err != nil {
		return Stored{}, "", nil, err
	}
	if meta, ok := res.Object["metadata"].(map[string]any); ok && meta["resourceVersion"] != nil && expectVersion == "" {
		expectVersion = fmt.Sprint(meta["resourceVersion"])
	}
	// The body's tree is ours: canonical in place rather than copied.
	st, outcome, err := s.apply(ctx, res.Key(), spec.CanonicalInPlace(res.Object), user, expectVersion)
	return st, outcome, warnings, err
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

// writeView is WriteJSON of st.View(), encoded without reflection: from
// the stored body when st has it (an apply's answer), which only needs the
// view's three metadata fields written into it.
func writeView(w http.ResponseWriter, code int, st Stored) {
	b := make([]byte, 0, len(st.body)+160)
	b, ok := appendBodyView(b, st.body, st.CreatedAt, st.ModifiedAt, st.ResourceVersion, true)
	if !ok {
		var err error
		if b, err = appendView(b[:0], st); err != nil {
			WriteJSON(w, code, st.View()) // as it always did: the status, then what encodes
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
	WriteJSON(w, http.StatusOK, EventList{Revision: head, Items: evs})
}

// ErrorBody is the JSON of every error answer: code is the HTTP status,
// external what a user should read (one entry per problem, each with its
// field path and line where known), internal a one-line summary.
type ErrorBody struct {
	Code     int            `json:"code"`
	External []spec.Problem `json:"external"`
	Internal string         `json:"internal"`
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) { WriteError(w, r, a.log, err) }

// WriteError answers err as an ErrorBody: an *Error with its status, an
// *access.Denied with 403, anything else with 500 "internal error" (and a
// log line to log, as the answer tells nothing of it). It is the error
// answer of every API the bot serves (/apis and /api).
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var apiErr *Error
	var denied *access.Denied
	switch {
	case errors.As(err, &apiErr):
	case errors.As(err, &denied):
		apiErr = &Error{Code: http.StatusForbidden, Message: denied.Error()}
	default:
		log.ErrorContext(r.Context(), "API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		apiErr = &Error{Code: http.StatusInternalServerError, Message: "internal error"}
	}
	ext := apiErr.Problems
	if len(ext) == 0 {
		ext = []spec.Problem{{Message: apiErr.Message}}
	}
	WriteJSON(w, apiErr.Code, ErrorBody{Code: apiErr.Code, External: ext, Internal: apiErr.Message})
}

// WriteJSON answers v as JSON with status code: the one JSON writer of the
// bot's APIs (but the encoders of stored resources, writeView and list).
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
