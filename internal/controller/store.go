package controller

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// Event types recorded in the log.
const (
	EventCreate = "Create"
	EventUpdate = "Update"
	EventDelete = "Delete"
)

// Stored is a resource as the controller holds it: the canonical object
// (no server-owned fields) and its bookkeeping.
type Stored struct {
	Key             spec.Key
	Object          map[string]any
	ResourceVersion int64
	CreatedAt       time.Time
	ModifiedAt      time.Time

	// body is Object's JSON as stored, when known ("" otherwise): an
	// apply's answer is written from it (see writeView).
	body string
}

// View returns the object as the API shows it: the canonical object with
// metadata.resourceVersion, createdAt and modifiedAt added.
func (s Stored) View() map[string]any {
	out := make(map[string]any, len(s.Object))
	for k, v := range s.Object {
		out[k] = v
	}
	meta := map[string]any{}
	if m, ok := s.Object["metadata"].(map[string]any); ok {
		for k, v := range m {
			meta[k] = v
		}
	}
	meta["resourceVersion"] = strconv.FormatInt(s.ResourceVersion, 10)
	meta["createdAt"] = s.CreatedAt.UTC().Format(time.RFC3339Nano)
	meta["modifiedAt"] = s.ModifiedAt.UTC().Format(time.RFC3339Nano)
	out["metadata"] = meta
	return out
}

// Event is one entry of the event log.
type Event struct {
	Revision int64     `json:"revision"`
	Type     string    `json:"type"`
	Kind     string    `json:"kind"`
	Project  string    `json:"project"`
	Name     string    `json:"name"`
	User     string    `json:"user"`
	Time     time.Time `json:"time"`
}

// Key returns the resource key the event is about.
func (e Event) Key() spec.Key { return spec.Key{Kind: e.Kind, Project: e.Project, Name: e.Name} }

// Error is a failure the API reports with an HTTP status.
type Error struct {
	Code     int
	Message  string
	Problems []spec.Problem
}

func (e *Error) Error() string { return e.Message }

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Store keeps resources and the event log in the database.
type Store struct {
	db     *store.DB
	notify *notifier
	now    func() time.Time
	batch  batcher
	// checkedWrites makes batches of checked changes in one round trip
	// (PostgreSQL; see commitChecked).
	checkedWrites bool
	sealers       *Sealers // the SecretSealers' key pairs
}

// NewStore returns a Store over a migrated database.
func NewStore(db *store.DB) *Store {
	s := &Store{db: db, notify: newNotifier(), now: time.Now, checkedWrites: db.Dialect == store.Postgres}
	s.sealers = newSealers(db, s)
	return s
}

// Get returns the resource with key k, or an *Error with code 404.
func (s *Store) Get(ctx context.Context, k spec.Key) (Stored, error) {
	row := s.db.QueryRow(ctx, `SELECT body, resource_version, created_at, modified_at FROM resources
		WHERE kind = ? AND project = ? AND name = ?`, k.Kind, k.Project, k.Name)
	st, err := scanStored(k, row)
	if errors.Is(err, sql.ErrNoRows) {
		return Stored{}, errorf(404, "%s %q not found%s", k.Kind, k.Name, inProject(k.Project))
	}
	if err != nil {
		return Stored{}, fmt.Errorf("get %s: %w", k, err)
	}
	return st, nil
}

func inProject(p string) string {
	if p == "" {
		return ""
	}
	return fmt.Sprintf(" in project %q", p)
}

// List returns the resources of kind in project (project "" for Projects),
// ordered by name, a page of at most limit from offset, and the total count.
func (s *Store) List(ctx context.Context, kind, project string, limit, offset int) ([]Stored, int, error) {
	rows, total, err := s.listRows(ctx, kind, project, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Stored, 0, len(rows))
	for _, r := range rows {
		st, err := r.decode(kind, project)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, st)
	}
	return out, total, nil
}

// Summary is a resource as a list page shows it: its name and
// bookkeeping, not its body.
type Summary struct {
	Name            string
	ResourceVersion int64
	ModifiedAt      time.Time
}

// Summaries returns a page of the resources of kind in project (project
// "" for Projects) whose names hold nameHas (every one when empty), by
// name, at most limit from offset, and how many match in all.
func (s *Store) Summaries(ctx context.Context, kind, project, nameHas string, limit, offset int) ([]Summary, int, error) {
	cond, args := `kind = ? AND project = ?`, []any{kind, project}
	if nameHas != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(nameHas))
		cond += ` AND LOWER(name) LIKE ? ESCAPE '\'`
		args = append(args, "%"+esc+"%")
	}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM resources WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count %s in %q: %w", kind, project, err)
	}
	if total <= offset {
		return []Summary{}, total, nil
	}
	rows, err := s.db.Query(ctx, `SELECT name, resource_version, modified_at FROM resources WHERE `+cond+
		` ORDER BY name LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s in %q: %w", kind, project, err)
	}
	defer rows.Close()
	out := make([]Summary, 0, min(limit, total-offset))
	for rows.Next() {
		var sum Summary
		var modified string
		if err := rows.Scan(&sum.Name, &sum.ResourceVersion, &modified); err != nil {
			return nil, 0, fmt.Errorf("list %s in %q: %w", kind, project, err)
		}
		sum.ModifiedAt, _ = time.Parse(time.RFC3339Nano, modified)
		out = append(out, sum)
	}
	return out, total, rows.Err()
}

// Counts returns how many resources of each kind project holds.
func (s *Store) Counts(ctx context.Context, project string) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, COUNT(*) FROM resources WHERE project = ? GROUP BY kind`, project)
	if err != nil {
		return nil, fmt.Errorf("count the resources of %q: %w", project, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, fmt.Errorf("count the resources of %q: %w", project, err)
		}
		out[kind] = n
	}
	return out, rows.Err()
}

// storedRow is one resource row as the database holds it, body undecoded.
type storedRow struct {
	name, body        string
	rv                int64
	created, modified string
}

func (r storedRow) decode(kind, project string) (Stored, error) {
	return decodeStored(spec.Key{Kind: kind, Project: project, Name: r.name}, r.body, r.rv, r.created, r.modified)
}

// listRows is List without decoding the bodies.
func (s *Store) listRows(ctx context.Context, kind, project string, limit, offset int) ([]storedRow, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM resources WHERE kind = ? AND project = ?`, kind, project).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count %s in %q: %w", kind, project, err)
	}
	if total <= offset {
		return nil, total, nil
	}
	rows, err := s.db.Query(ctx, `SELECT name, body, resource_version, created_at, modified_at FROM resources
		WHERE kind = ? AND project = ? ORDER BY name LIMIT ? OFFSET ?`, kind, project, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s in %q: %w", kind, project, err)
	}
	defer rows.Close()
	out := make([]storedRow, 0, min(limit, total-offset))
	for rows.Next() {
		var r storedRow
		if err := rows.Scan(&r.name, &r.body, &r.rv, &r.created, &r.modified); err != nil {
			return nil, 0, fmt.Errorf("list %s in %q: %w", kind, project, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list %s in %q: %w", kind, project, err)
	}
	return out, total, nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanStored(k spec.Key, row rowScanner) (Stored, error) {
	var body string
	var rv int64
	var created, modified string
	if err := row.Scan(&body, &rv, &created, &modified); err != nil {
		return Stored{}, err
	}
	return decodeStored(k, body, rv, created, modified)
}

func decodeStored(k spec.Key, body string, rv int64, created, modified string) (Stored, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return Stored{}, fmt.Errorf("decode stored %s: %w", k, err)
	}
	c, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return Stored{}, fmt.Errorf("decode stored %s createdAt: %w", k, err)
	}
	m, err := time.Parse(time.RFC3339Nano, modified)
	if err != nil {
		return Stored{}, fmt.Errorf("decode stored %s modifiedAt: %w", k, err)
	}
	norm, _ := spec.Normalize(obj).(map[string]any)
	return Stored{Key: k, Object: norm, ResourceVersion: rv, CreatedAt: c, ModifiedAt: m}, nil
}

// Outcome says what an Apply did.
type Outcome string

// Apply outcomes.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// Apply creates or updates the resource k with the object obj on behalf of
// user. expectVersion, when not empty, must equal the stored
// resourceVersion (409 otherwise). A resource in a project that does not
// exist gets 404, one over spec.MaxResourceBytes 413 (spec.CheckSize). An
// object semantically equal to the stored one changes nothing and records
// no event.
//
// What is stored is spec.Canonical(obj), encoded as json.Marshal would:
// objects equal in meaning (spec.Equal) are then stored as the same bytes,
// which lets a write tell an unchanged apply by comparing bytes, in SQL.
func (s *Store) Apply(ctx context.Context, k spec.Key, obj map[string]any, user, expectVersion string) (Stored, Outcome, error) {
	return s.apply(ctx, k, spec.Canonical(obj), user, expectVersion)
}

// apply is Apply of an object that is already spec.Canonical's result.
func (s *Store) apply(ctx context.Context, k spec.Key, obj map[string]any, user, expectVersion string) (Stored, Outcome, error) {
	if err := spec.CheckSize(obj); err != nil {
		return Stored{}, "", &Error{Code: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("%s %q: %v", k.Kind, k.Name, err)}
	}
	body, err := appendJSON(nil, obj)
	if err != nil {
		return Stored{}, "", fmt.Errorf("apply %s: encode: %w", k, err)
	}
	a := &applyChange{k: k, obj: obj, body: string(body), user: user, expect: expectVersion}
	err = s.write(ctx, a)
	if errors.Is(err, errUnchanged) {
		a.outcome, err = Unchanged, nil
	}
	if err != nil {
		return Stored{}, "", wrapUnlessAPI(err, "apply "+k.String())
	}
	// A KubeSeal SecretSealer gets its key pair (Sealers).
	if err := s.sealers.afterApply(ctx, k, obj); err != nil {
		return Stored{}, "", fmt.Errorf("apply %s: %w", k, err)
	}
	return a.result, a.outcome, nil
}

// errUnchanged is the outcome of an apply that changes nothing.
var errUnchanged = errors.New("unchanged")

// applyChange is the change an Apply makes.
type applyChange struct {
	k            spec.Key
	obj          map[string]any
	body         string // obj as stored
	user, expect string

	// What read (or checkedWrite) found: whether the project exists, and
	// the stored row.
	projects          int
	stored            sql.NullString
	rv                sql.NullInt64
	created, modified sql.NullString
	// What checkedWrite found instead of the stored body: whether it is
	// body; and the revision it wrote (NULL when it wrote nothing).
	same   sql.NullBool
	newRev sql.NullInt64

	result  Stored
	outcome Outcome
}

func (a *applyChange) key() spec.Key { return a.k }

func (a *applyChange) readsKey(k spec.Key) bool {
	return k == a.k || (k.Kind == "Project" && k.Project == "" && k.Name == a.k.Project)
}

// readCurrent answers in one row whether the project exists, and what is
// stored now (NULLs when nothing).
const readCurrent = `SELECT (SELECT COUNT(*) FROM resources WHERE kind = 'Project' AND project = '' AND name = ?),
		r.body, r.resource_version, r.created_at, r.modified_at
	FROM (SELECT 1 AS one) AS x LEFT JOIN resources r ON r.kind = ? AND r.project = ? AND r.name = ?`

func (a *applyChange) read() store.Stmt {
	return store.Stmt{Query: readCurrent, Args: []any{a.k.Project, a.k.Kind, a.k.Project, a.k.Name}, Scan: func(r store.Row) error {
		if err := r.Scan(&a.projects, &a.stored, &a.rv, &a.created, &a.modified); err != nil {
			return fmt.Errorf("read current %s: %w", a.k, err)
		}
		return nil
	}}
}

// refusal returns the 404 or 409 that what was read gives the apply, or
// nil when it may be made.
func (a *applyChange) refusal() error {
	k := a.k
	if k.Kind != "Project" && a.projects == 0 {
		return errorf(404, "project %q not found: create it first (POST /apis/system.k8smgmt.io/v3/projects)", k.Project)
	}
	if a.expect != "" {
		if !a.rv.Valid {
			return errorf(409, "%s %q carries resourceVersion %s but does not exist", k.Kind, k.Name, a.expect)
		}
		if a.expect != strconv.FormatInt(a.rv.Int64, 10) {
			return errorf(409, "%s %q was modified: resourceVersion %s is stale, current is %d", k.Kind, k.Name, a.expect, a.rv.Int64)
		}
	}
	return nil
}

// unchanged sets the result of an apply whose body is the stored one.
func (a *applyChange) unchanged() error {
	c, m, err := parseStamps(a.k, a.created.String, a.modified.String)
	if err != nil {
		return err
	}
	a.result, a.outcome = Stored{Key: a.k, Object: a.obj, ResourceVersion: a.rv.Int64, CreatedAt: c, ModifiedAt: m, body: a.body}, Unchanged
	return errUnchanged
}

func (a *applyChange) decide(rev int64, now time.Time) ([]store.Stmt, error) {
	k := a.k
	if err := a.refusal(); err != nil {
		return nil, err
	}
	exists := a.stored.Valid
	stamp := now.Format(time.RFC3339Nano)
	if exists {
		if a.stored.String == a.body {
			// The same canonical bytes: unchanged, with no need to decode them.
			return nil, a.unchanged()
		}
		old, err := decodeStored(k, a.stored.String, a.rv.Int64, a.created.String, a.modified.String)
		if err != nil {
			return nil, err
		}
		if spec.Equal(old.Object, a.obj) {
			a.result, a.outcome = old, Unchanged
			return nil, errUnchanged
		}
		a.result = Stored{Key: k, Object: a.obj, ResourceVersion: rev, CreatedAt: old.CreatedAt, ModifiedAt: now, body: a.body}
		a.outcome = Updated
		return []store.Stmt{
			{Query: `UPDATE resources SET body = ?, resource_version = ?, modified_at = ?
				WHERE kind = ? AND project = ? AND name = ?`, Args: []any{a.body, rev, stamp, k.Kind, k.Project, k.Name}},
			eventStmt(Event{Revision: rev, Type: EventUpdate, Kind: k.Kind, Project: k.Project, Name: k.Name, User: a.user, Time: now}),
		}, nil
	}
	a.result = Stored{Key: k, Object: a.obj, ResourceVersion: rev, CreatedAt: now, ModifiedAt: now, body: a.body}
	a.outcome = Created
	return []store.Stmt{
		{Query: `INSERT INTO resources (kind, project, name, body, resource_version, created_at, modified_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, Args: []any{k.Kind, k.Project, k.Name, a.body, rev, stamp, stamp}},
		eventStmt(Event{Revision: rev, Type: EventCreate, Kind: k.Kind, Project: k.Project, Name: k.Name, User: a.user, Time: now}),
	}, nil
}

// checkedApply is an apply as one statement (PostgreSQL): it reads as
// readCurrent does, writes only when decide would (the project exists, an
// expected resourceVersion is the stored one, the body is not the stored
// one), taking the next revision then, and returns what it read, whether
// the stored body is the new one, and the revision it wrote (NULL when
// none). Stored bodies are canonical (see Apply), so a body that differs
// in bytes differs in meaning, and decide's semantic comparison is not
// needed. Parameters: kind, project, name, body, time, user, expected
// resourceVersion (” for none).
const checkedApply = `WITH cur AS (
	SELECT (SELECT COUNT(*) FROM resources WHERE kind = 'Project' AND project = '' AND name = $2::text) AS projects,
		r.body = $4::text AS same, r.resource_version AS rv, r.created_at, r.modified_at
	FROM (SELECT 1 AS one) AS x LEFT JOIN resources r ON r.kind = $1::text AND r.project = $2 AND r.name = $3::text
), ok AS (
	SELECT cur.rv IS NOT NULL AS found FROM cur
	WHERE ($1 = 'Project' OR cur.projects > 0) AND ($7::text = '' OR cur.rv::text = $7) AND cur.same IS NOT TRUE
), rev AS (
	UPDATE revision_counter SET revision = revision + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM ok) RETURNING revision
), ins AS (
	INSERT INTO resources (kind, project, name, body, resource_version, created_at, modified_at)
	SELECT $1, $2, $3, $4, rev.revision, $5::text, $5 FROM rev, ok WHERE NOT ok.found
), upd AS (
	UPDATE resources SET body = $4, resource_version = rev.revision, modified_at = $5
	FROM rev, ok WHERE ok.found AND kind = $1 AND project = $2 AND name = $3
), ev AS (
	INSERT INTO events (revision, type, kind, project, name, user_email, time)
	SELECT rev.revision, CASE WHEN ok.found THEN 'Update' ELSE 'Create' END, $1, $2, $3, $6::text, $5 FROM rev, ok
)
SELECT cur.projects, cur.same, cur.rv, cur.created_at, cur.modified_at, (SELECT revision FROM rev) FROM cur`

func (a *applyChange) checkedWrite(now time.Time) store.Stmt {
	stamp := now.Format(time.RFC3339Nano)
	return store.Stmt{Query: checkedApply, Args: []any{a.k.Kind, a.k.Project, a.k.Name, a.body, stamp, a.user, a.expect},
		Scan: func(r store.Row) error {
			if err := r.Scan(&a.projects, &a.same, &a.rv, &a.created, &a.modified, &a.newRev); err != nil {
				return fmt.Errorf("apply %s: %w", a.k, err)
			}
			return nil
		}}
}

func (a *applyChange) settle(now time.Time) (bool, error) {
	k := a.k
	err := a.refusal()
	if err == nil && a.same.Bool {
		err = errUnchanged
	}
	if !a.newRev.Valid {
		switch {
		case err == nil:
			return false, fmt.Errorf("apply %s: nothing was written, though every check passed", k)
		case errors.Is(err, errUnchanged):
			return false, a.unchanged()
		}
		return false, err
	}
	rev := a.newRev.Int64
	if err != nil {
		return true, fmt.Errorf("apply %s: revision %d was written, though the checks refuse it (%v)", k, rev, err)
	}
	if !a.rv.Valid {
		a.result, a.outcome = Stored{Key: k, Object: a.obj, ResourceVersion: rev, CreatedAt: now, ModifiedAt: now, body: a.body}, Created
		return true, nil
	}
	c, _, err := parseStamps(k, a.created.String, a.modified.String)
	if err != nil {
		return true, err
	}
	a.result, a.outcome = Stored{Key: k, Object: a.obj, ResourceVersion: rev, CreatedAt: c, ModifiedAt: now, body: a.body}, Updated
	return true, nil
}

// parseStamps parses a stored row's createdAt and modifiedAt.
func parseStamps(k spec.Key, created, modified string) (c, m time.Time, err error) {
	if c, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return c, m, fmt.Errorf("decode stored %s createdAt: %w", k, err)
	}
	if m, err = time.Parse(time.RFC3339Nano, modified); err != nil {
		return c, m, fmt.Errorf("decode stored %s modifiedAt: %w", k, err)
	}
	return c, m, nil
}

// Delete removes the resource k on behalf of user. A missing resource gets
// 404; a project that still holds resources gets 409.
func (s *Store) Delete(ctx context.Context, k spec.Key, user string) error {
	if err := s.write(ctx, &deleteChange{k: k, user: user}); err != nil {
		return wrapUnlessAPI(err, "delete "+k.String())
	}
	return nil
}

// deleteChange is the change a Delete makes.
type deleteChange struct {
	k    spec.Key
	user string

	// What read found: the resources a project holds, and whether k exists;
	// and the revision checkedWrite wrote (NULL when none).
	held   int
	exists sql.NullInt64
	newRev sql.NullInt64
}

func (d *deleteChange) key() spec.Key { return d.k }

func (d *deleteChange) readsKey(k spec.Key) bool {
	return k == d.k || (d.k.Kind == "Project" && k.Project == d.k.Name)
}

// readExisting answers in one row whether the resource exists (NULL if
// not); readProject adds first how many resources the project holds.
const (
	readExisting = `SELECT 0, r.resource_version
	FROM (SELECT 1 AS one) AS x LEFT JOIN resources r ON r.kind = ? AND r.project = ? AND r.name = ?`
	readProject = `SELECT (SELECT COUNT(*) FROM resources WHERE project = ?), r.resource_version
	FROM (SELECT 1 AS one) AS x LEFT JOIN resources r ON r.kind = ? AND r.project = ? AND r.name = ?`
)

func (d *deleteChange) read() store.Stmt {
	st := store.Stmt{Query: readExisting, Args: []any{d.k.Kind, d.k.Project, d.k.Name}, Scan: func(r store.Row) error {
		if err := r.Scan(&d.held, &d.exists); err != nil {
			return fmt.Errorf("read current %s: %w", d.k, err)
		}
		return nil
	}}
	if d.k.Kind == "Project" {
		st.Query, st.Args = readProject, []any{d.k.Name, d.k.Kind, d.k.Project, d.k.Name}
	}
	return st
}

// refusal returns the 409 or 404 that what was read gives the delete, or
// nil when it may be made.
func (d *deleteChange) refusal() error {
	k := d.k
	if k.Kind == "Project" && d.held > 0 {
		return errorf(409, "project %q still holds %d resources: delete them first", k.Name, d.held)
	}
	if !d.exists.Valid {
		return errorf(404, "%s %q not found%s", k.Kind, k.Name, inProject(k.Project))
	}
	return nil
}

func (d *deleteChange) decide(rev int64, now time.Time) ([]store.Stmt, error) {
	k := d.k
	if err := d.refusal(); err != nil {
		return nil, err
	}
	return []store.Stmt{
		{Query: `DELETE FROM resources WHERE kind = ? AND project = ? AND name = ?`, Args: []any{k.Kind, k.Project, k.Name}},
		eventStmt(Event{Revision: rev, Type: EventDelete, Kind: k.Kind, Project: k.Project, Name: k.Name, User: d.user, Time: now}),
	}, nil
}

// checkedDelete is a delete as one statement (PostgreSQL): it reads as
// readProject does, deletes only when decide would (the resource exists; a
// project holds nothing), taking the next revision then, and returns what
// it read and the revision it wrote (NULL when none). Parameters: kind,
// project, name, user, time.
const checkedDelete = `WITH cur AS (
	SELECT CASE WHEN $1::text = 'Project' THEN (SELECT COUNT(*) FROM resources WHERE project = $3::text) ELSE 0 END AS held,
		r.resource_version AS rv
	FROM (SELECT 1 AS one) AS x LEFT JOIN resources r ON r.kind = $1 AND r.project = $2::text AND r.name = $3
), rev AS (
	UPDATE revision_counter SET revision = revision + 1
	WHERE id = 1 AND EXISTS (SELECT 1 FROM cur WHERE held = 0 AND rv IS NOT NULL) RETURNING revision
), del AS (
	DELETE FROM resources WHERE kind = $1 AND project = $2 AND name = $3 AND EXISTS (SELECT 1 FROM rev)
), ev AS (
	INSERT INTO events (revision, type, kind, project, name, user_email, time)
	SELECT rev.revision, 'Delete', $1, $2, $3, $4::text, $5::text FROM rev
)
SELECT cur.held, cur.rv, (SELECT revision FROM rev) FROM cur`

func (d *deleteChange) checkedWrite(now time.Time) store.Stmt {
	return store.Stmt{Query: checkedDelete, Args: []any{d.k.Kind, d.k.Project, d.k.Name, d.user, now.Format(time.RFC3339Nano)},
		Scan: func(r store.Row) error {
			if err := r.Scan(&d.held, &d.exists, &d.newRev); err != nil {
				return fmt.Errorf("delete %s: %w", d.k, err)
			}
			return nil
		}}
}

func (d *deleteChange) settle(time.Time) (bool, error) {
	err := d.refusal()
	switch {
	case d.newRev.Valid && err != nil:
		return true, fmt.Errorf("delete %s: revision %d was written, though the checks refuse it (%v)", d.k, d.newRev.Int64, err)
	case !d.newRev.Valid && err == nil:
		return false, fmt.Errorf("delete %s: nothing was written, though every check passed", d.k)
	}
	return d.newRev.Valid, err
}

func wrapUnlessAPI(err error, what string) error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return fmt.Errorf("%s: %w", what, err)
}

// eventStmt is the statement that appends e to the event log.
func eventStmt(e Event) store.Stmt {
	return store.Stmt{Query: `INSERT INTO events (revision, type, kind, project, name, user_email, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		Args: []any{e.Revision, e.Type, e.Kind, e.Project, e.Name, e.User, e.Time.Format(time.RFC3339Nano)}}
}

// Head returns the newest revision taken (0 for a new controller).
func (s *Store) Head(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(revision), 0) FROM events`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("read head revision: %w", err)
	}
	return rev, nil
}

// Events returns up to limit events after revision since, oldest first.
func (s *Store) Events(ctx context.Context, since int64, limit int) ([]Event, error) {
	rows, err := s.db.Query(ctx, `SELECT revision, type, kind, project, name, user_email, time FROM events
		WHERE revision > ? ORDER BY revision LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read events since %d: %w", since, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var t string
		if err := rows.Scan(&e.Revision, &e.Type, &e.Kind, &e.Project, &e.Name, &e.User, &t); err != nil {
			return nil, fmt.Errorf("read events since %d: %w", since, err)
		}
		if e.Time, err = time.Parse(time.RFC3339Nano, t); err != nil {
			return nil, fmt.Errorf("event %d time: %w", e.Revision, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// WaitEvents is Events that, when nothing is newer than since, waits up to
// wait for the next change before answering (possibly with no events).
func (s *Store) WaitEvents(ctx context.Context, since int64, limit int, wait time.Duration) ([]Event, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		changed := s.notify.wait() // taken before the read so no change slips between
		evs, err := s.Events(ctx, since, limit)
		if err != nil || len(evs) > 0 || wait <= 0 {
			return evs, err
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}
