// Package controllerapi is a client of the controller's Rafay-v3-shaped REST
// API. It works against the embedded controller or a remote one: it speaks
// only HTTP and the paths of DESIGN.md.
package controllerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
)

// Object is a resource as the API carries it.
type Object = map[string]any

// Client calls one controller with one API key. It is safe for concurrent use.
type Client struct {
	base     string
	key      string
	http     *http.Client
	attempts int
	backoff  time.Duration
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for requests.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetries sets how many times a safe call is tried in all (at least 1)
// and the first backoff, doubled after each failure.
func WithRetries(attempts int, backoff time.Duration) Option {
	return func(c *Client) { c.attempts, c.backoff = max(attempts, 1), backoff }
}

// New returns a client of the controller at baseURL (scheme://host[:port],
// no trailing /apis) using apiKey.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		base:     strings.TrimRight(baseURL, "/"),
		key:      apiKey,
		http:     &http.Client{Timeout: 90 * time.Second},
		attempts: 4,
		backoff:  100 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is an answer other than 2xx from the controller.
type Error struct {
	Code     int            // HTTP status
	Message  string         // the controller's one-line summary
	Problems []spec.Problem // each problem, with field path and line where known
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "controller answered %d: %s", e.Code, e.Message)
	for _, p := range e.Problems {
		if p.Message != e.Message {
			b.WriteString("; ")
			b.WriteString(p.String())
		}
	}
	return b.String()
}

func codeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// IsNotFound reports whether err is the controller's 404.
func IsNotFound(err error) bool { return codeOf(err) == http.StatusNotFound }

// IsConflict reports whether err is the controller's 409 (a stale
// resourceVersion, or a project that still holds resources).
func IsConflict(err error) bool { return codeOf(err) == http.StatusConflict }

// IsUnauthorized reports whether err is the controller's 401.
func IsUnauthorized(err error) bool { return codeOf(err) == http.StatusUnauthorized }

// Invalid returns the problems of a 400 answer, and false for any other error.
func Invalid(err error) ([]spec.Problem, bool) {
	var e *Error
	if errors.As(err, &e) && e.Code == http.StatusBadRequest {
		return e.Problems, true
	}
	return nil, false
}

// CollectionPath is the URL path of kind's collection in project (project
// is ignored for Projects), where a POST applies and a GET lists.
func CollectionPath(kind, project string) (string, error) {
	k, ok := spec.LookupKind(kind)
	if !ok {
		return "", fmt.Errorf("unknown kind %q", kind)
	}
	if !k.ProjectScoped {
		return "/apis/" + k.Group + "/v3/" + k.Plural, nil
	}
	if project == "" {
		return "", fmt.Errorf("%s needs a project", kind)
	}
	return "/apis/" + k.Group + "/v3/projects/" + url.PathEscape(project) + "/" + k.Plural, nil
}

// List is one page of a collection.
type List struct {
	Items  []Object
	Count  int // total in the collection
	Limit  int
	Offset int
}

// listAnswer fetches one page of a collection, undecoded.
func (c *Client) listAnswer(ctx context.Context, kind, project string, limit, offset int) ([]byte, error) {
	p, err := CollectionPath(kind, project)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var answer rawAnswer
	if err := c.do(ctx, http.MethodGet, p, nil, &answer); err != nil {
		return nil, fmt.Errorf("list %s in %q: %w", kind, project, err)
	}
	return answer, nil
}

// List returns one page of kind in project (project ignored for Projects).
// limit 0 takes the controller's default page size.
func (c *Client) List(ctx context.Context, kind, project string, limit, offset int) (*List, error) {
	answer, err := c.listAnswer(ctx, kind, project, limit, offset)
	if err != nil {
		return nil, err
	}
	body, ok := decodeList(answer)
	if !ok {
		body = listPage{}
		if err := decodeJSON(answer, &body); err != nil {
			return nil, fmt.Errorf("list %s in %q: %w", kind, project, err)
		}
		for i, it := range body.Items {
			if it == nil {
				body.Items[i] = Object{} // a null item, as Normalize reads it
				continue
			}
			numbersInPlace(it) // freshly decoded: Normalize's copy is not needed
		}
	}
	return &List{Items: body.Items, Count: body.Metadata.Count, Limit: body.Metadata.Limit, Offset: body.Metadata.Offset}, nil
}

// listJSON is List with the items undecoded when the answer allows.
func (c *Client) listJSON(ctx context.Context, kind, project string, limit, offset int) ([]Listed, int, error) {
	answer, err := c.listAnswer(ctx, kind, project, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	items, count, err := readListed(answer)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s in %q: %w", kind, project, err)
	}
	return items, count, nil
}

// readListed reads a list answer's count and items: their text when
// decodeList would take the answer, else their objects, as List reads
// them.
func readListed(answer []byte) ([]Listed, int, error) {
	if body, ok := readList(answer, true); ok {
		out := make([]Listed, len(body.Raw))
		for i, text := range body.Raw {
			out[i] = Listed{text: text}
		}
		return out, body.Metadata.Count, nil
	}
	var body listPage
	if err := decodeJSON(answer, &body); err != nil {
		return nil, 0, err
	}
	out := make([]Listed, len(body.Items))
	for i, it := range body.Items {
		if it == nil {
			it = Object{}
		} else {
			numbersInPlace(it)
		}
		out[i] = Listed{obj: it}
	}
	return out, body.Metadata.Count, nil
}

// Listed is one resource of a list, undecoded when the answer allowed it:
// a caller that keeps many resources but reads few keeps the text (a
// fraction of the object's size, nothing for the garbage collector to
// scan).
type Listed struct {
	text json.RawMessage
	obj  Object
}

// Object returns the resource, as List would have: decoded from its text
// by each call, or the object itself.
func (l Listed) Object() (Object, error) {
	if l.text == nil {
		return l.obj, nil
	}
	return decodeObject(l.text)
}

// rawAnswer, as the out of do, takes the answer's bytes undecoded.
type rawAnswer []byte

// numbersInPlace turns the json.Numbers of a value encoding/json decoded
// (with UseNumber) into what spec.Normalize makes of them, in place: the
// value is then what Normalize would return, without the copy.
func numbersInPlace(v any) any {
	switch x := v.(type) {
	case json.Number:
		return spec.Normalize(x)
	case map[string]any:
		for k, e := range x {
			switch e.(type) {
			case json.Number, map[string]any, []any:
				x[k] = numbersInPlace(e)
			}
		}
	case []any:
		for i, e := range x {
			switch e.(type) {
			case json.Number, map[string]any, []any:
				x[i] = numbersInPlace(e)
			}
		}
	}
	return v
}

// ListAll returns every resource of kind in project, paging as needed.
func (c *Client) ListAll(ctx context.Context, kind, project string) ([]Object, error) {
	const page = 1000
	var out []Object
	for {
		l, err := c.List(ctx, kind, project, page, len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, l.Items...)
		if len(l.Items) == 0 || len(out) >= l.Count {
			return out, nil
		}
	}
}

// ListAllListed is ListAll with the resources undecoded (see Listed).
func (c *Client) ListAllListed(ctx context.Context, kind, project string) ([]Listed, error) {
	const page = 1000
	var out []Listed
	for {
		items, count, err := c.listJSON(ctx, kind, project, page, len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) == 0 || len(out) >= count {
			return out, nil
		}
	}
}

// Get returns one resource; IsNotFound(err) when it does not exist.
func (c *Client) Get(ctx context.Context, kind, project, name string) (Object, error) {
	p, err := CollectionPath(kind, project)
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, name, err)
	}
	var obj Object
	if err := c.do(ctx, http.MethodGet, p+"/"+url.PathEscape(name), nil, &obj); err != nil {
		return nil, fmt.Errorf("get %s %q in %q: %w", kind, name, project, err)
	}
	obj, _ = spec.Normalize(obj).(Object)
	return obj, nil
}

// Apply creates or updates obj (its kind, metadata.project and metadata.name
// say where) and returns the object the controller now holds. A
// metadata.resourceVersion in obj makes it conditional: IsConflict(err) when
// stale.
func (c *Client) Apply(ctx context.Context, obj Object) (Object, error) {
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	project, _ := meta["project"].(string)
	name, _ := meta["name"].(string)
	p, err := CollectionPath(kind, project)
	if err != nil {
		return nil, fmt.Errorf("apply %s %q: %w", kind, name, err)
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("apply %s %q: encode: %w", kind, name, err)
	}
	var out Object
	if err := c.do(ctx, http.MethodPost, p, body, &out); err != nil {
		return nil, fmt.Errorf("apply %s %q in %q: %w", kind, name, project, err)
	}
	out, _ = spec.Normalize(out).(Object)
	return out, nil
}

// Delete removes one resource; IsNotFound(err) when it does not exist.
func (c *Client) Delete(ctx context.Context, kind, project, name string) error {
	p, err := CollectionPath(kind, project)
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, name, err)
	}
	if err := c.do(ctx, http.MethodDelete, p+"/"+url.PathEscape(name), nil, nil); err != nil {
		return fmt.Errorf("delete %s %q in %q: %w", kind, name, project, err)
	}
	return nil
}

// Event is one entry of the controller's event log.
type Event struct {
	Revision int64     `json:"revision"`
	Type     string    `json:"type"` // Create, Update or Delete
	Kind     string    `json:"kind"`
	Project  string    `json:"project"`
	Name     string    `json:"name"`
	User     string    `json:"user"`
	Time     time.Time `json:"time"`
}

// EventList is a read of the log: the events after the asked revision and
// the newest revision the controller has.
type EventList struct {
	Revision int64   `json:"revision"`
	Items    []Event `json:"items"`
}

// Events returns the events after revision since. With wait > 0 the
// controller holds the request until something happens or wait passes.
func (c *Client) Events(ctx context.Context, since int64, wait time.Duration) (*EventList, error) {
	q := url.Values{}
	q.Set("since", strconv.FormatInt(since, 10))
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out EventList
	if err := c.do(ctx, http.MethodGet, "/apis/system.k8smgmt.io/v3/events?"+q.Encode(), nil, &out); err != nil {
		return nil, fmt.Errorf("read events since %d: %w", since, err)
	}
	return &out, nil
}

// HasEventLog reports whether the controller serves the event log
// (`GET …/events`): false when it answers 404, 405 or 501, as a
// Rafay controller without this project's addition does; an error when it
// cannot be asked (unreachable, 401, …).
func (c *Client) HasEventLog(ctx context.Context) (bool, error) {
	_, err := c.Events(ctx, 1<<62, 0)
	switch code := codeOf(err); {
	case err == nil:
		return true, nil
	case code == http.StatusNotFound, code == http.StatusMethodNotAllowed, code == http.StatusNotImplemented:
		return false, nil
	default:
		return false, err
	}
}

// do sends one request and decodes a 2xx JSON answer into out. GET is safe
// to repeat: it is retried with backoff on connection errors and 5xx.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	attempts := 1
	if method == http.MethodGet {
		attempts = c.attempts
	}
	backoff := c.backoff
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return errors.Join(lastErr, ctx.Err())
			}
			backoff *= 2
		}
		retry, err := c.once(ctx, method, path, body, out)
		if err == nil || !retry {
			return err
		}
		lastErr = err
	}
	return lastErr
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("X-API-KEY", c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		apiErr := &Error{Code: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		var eb struct {
			External []spec.Problem `json:"external"`
			Internal string         `json:"internal"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Internal != "" {
			apiErr.Message = eb.Internal
			apiErr.Problems = eb.External
		}
		// 5xx may pass; 501 (not implemented) will not.
		return resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented, apiErr
	}
	switch o := out.(type) {
	case nil:
		return false, nil
	case *rawAnswer:
		*o = data
		return false, nil
	}
	return false, decodeJSON(data, out)
}

// maxPrealloc bounds the buffer made ahead for an answer's announced length.
const maxPrealloc = 64 << 20

// readAnswer reads an answer's body, into a buffer of its announced length
// when it has one (a full list page is megabytes: growing a buffer to it
// copies it several times).
func readAnswer(resp *http.Response) ([]byte, error) {
	if resp.ContentLength <= 0 {
		return io.ReadAll(resp.Body)
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(resp.ContentLength, maxPrealloc)+bytes.MinRead))
	_, err := buf.ReadFrom(resp.Body)
	return buf.Bytes(), err
}

// decodeJSON decodes an answer into out, numbers as json.Number.
func decodeJSON(data []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
