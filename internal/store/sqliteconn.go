package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// writeGate queues this process's writers to one SQLite database in Go.
//
// SQLite lets one connection write at a time. A connection that finds the
// write lock taken waits in SQLite's busy handler, which sleeps in steps of
// 1, 2, 5, 10, 15, 20, 25 … ms and only then looks again: a writer that
// arrives just after another has begun can sleep 18 or 33 ms for a lock
// that was free after 3. Taking the gate before SQLite's lock makes the
// writers of this process wait on a channel instead, woken the moment the
// writer before them is done, in arrival order. The busy handler remains
// for writers in other processes.
type writeGate struct {
	slot chan struct{} // holds a value while a writer is in
	wait time.Duration // how long a writer waits before giving up, as busy_timeout
}

func newWriteGate(wait time.Duration) *writeGate {
	return &writeGate{slot: make(chan struct{}, 1), wait: wait}
}

// errGateTimeout is returned when a writer waited longer than the busy
// timeout: the same outcome SQLite's own wait would have had.
var errGateTimeout = errors.New("database is locked")

// enter waits for the writer before this one to leave. Waiting writers go
// in in the order they came (a channel's blocked senders are queued).
func (g *writeGate) enter(ctx context.Context) error {
	select {
	case g.slot <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slot <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: another writer of this process held it for %v", errGateTimeout, g.wait)
	}
}

func (g *writeGate) leave() { <-g.slot }

// driverConn is what every connection of the modernc driver implements;
// sqliteConn forwards all of it.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// driverStmt is what every statement of the modernc driver implements.
type driverStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// sqliteConnector opens connections that pass their writers through gate.
type sqliteConnector struct {
	driver.Connector
	gate *writeGate
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(driverConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("sqlite connection %T lacks the driver interfaces sqliteConn forwards", dc)
	}
	return &sqliteConn{driverConn: inner, gate: c.gate, stmts: map[string]*connStmt{}}, nil
}

// maxConnStmts bounds the statements a connection keeps prepared.
const maxConnStmts = 128

// sqliteConn is one SQLite connection that does two things for every
// caller, River's driver included:
//
//   - Its writes take the gate first: a read-write transaction from BEGIN
//     (IMMEDIATE, which takes SQLite's write lock) to COMMIT or ROLLBACK,
//     and a writing statement outside a transaction for as long as it runs.
//     Reads outside a transaction never wait: under WAL they take no write
//     lock.
//   - It prepares each statement it is given as text once and keeps it, so
//     SQLite parses River's long queries, and the store's, once per
//     connection instead of at every call (parsing cost as much as running
//     them).
//
// database/sql uses a connection from one goroutine at a time, so its
// fields need no lock.
type sqliteConn struct {
	driverConn
	gate  *writeGate
	inTx  bool // the connection holds the gate until its transaction ends
	roTx  bool // the connection is in a read-only (deferred) transaction
	held  int  // writing statements outside a transaction with their rows open
	stmts map[string]*connStmt
	order []string // the keys of stmts, oldest first
}

// connStmt is a statement a connection keeps prepared.
type connStmt struct {
	st     driverStmt
	writes bool
	busy   bool // its rows are open: a second use must prepare anew
}

// Unwrap returns the driver's own connection (modernc's Limit looks for it).
func (c *sqliteConn) Unwrap() driver.Conn { return c.driverConn }

func (c *sqliteConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *sqliteConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.ReadOnly {
		// A deferred BEGIN takes no write lock; should the transaction
		// write all the same, its first write takes the gate until the
		// end (SQLite keeps the write lock that long).
		tx, err := c.driverConn.BeginTx(ctx, opts)
		if err != nil {
			return nil, err
		}
		c.roTx = true
		return &sqliteTx{Tx: tx, conn: c}, nil
	}
	if err := c.gate.enter(ctx); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	tx, err := c.driverConn.BeginTx(ctx, opts)
	if err != nil {
		c.gate.leave()
		return nil, err
	}
	c.inTx = true
	return &sqliteTx{Tx: tx, conn: c}, nil
}

// leaveTx ends the connection's transaction and lets the next writer in.
func (c *sqliteConn) leaveTx() {
	c.roTx = false
	if c.inTx {
		c.inTx = false
		c.gate.leave()
	}
}

func (c *sqliteConn) Close() error {
	var errs []error
	for _, cs := range c.stmts {
		errs = append(errs, cs.st.Close())
	}
	clear(c.stmts)
	c.order = nil
	errs = append(errs, c.driverConn.Close())
	c.leaveTx() // a connection discarded in a transaction gives the gate back
	return errors.Join(errs...)
}

func (c *sqliteConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext prepares a statement its caller owns and closes.
func (c *sqliteConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return &sqliteStmt{driverStmt: st, conn: c, writes: mayWrite(query)}, nil
}

func (c *sqliteConn) prepare(ctx context.Context, query string) (driverStmt, error) {
	st, err := c.driverConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	ds, ok := st.(driverStmt)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("sqlite statement %T lacks the context methods", st)
	}
	return ds, nil
}

// kept returns the connection's prepared statement for query, preparing
// and keeping it when new. It returns nil, and no error, when the kept
// statement is in use by open rows.
func (c *sqliteConn) kept(ctx context.Context, query string) (*connStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	c.evict()
	cs := &connStmt{st: st, writes: mayWrite(query)}
	c.stmts[query] = cs
	c.order = append(c.order, query)
	return cs, nil
}

// evict closes the oldest idle statement when the connection keeps too many.
func (c *sqliteConn) evict() {
	if len(c.stmts) < maxConnStmts {
		return
	}
	for i, q := range c.order {
		if cs := c.stmts[q]; !cs.busy {
			cs.st.Close()
			delete(c.stmts, q)
			c.order = append(c.order[:i], c.order[i+1:]...)
			return
		}
	}
}

// enterFor takes the gate for one statement that may write and runs
// outside a read-write transaction; it returns the function that gives it
// back. In a read-only transaction the gate is kept until the transaction
// ends; a connection that already holds it for another statement's open
// rows counts one more holder instead of waiting for itself.
func (c *sqliteConn) enterFor(ctx context.Context, writes bool) (func(), error) {
	noop := func() {}
	if !writes || c.inTx {
		return noop, nil
	}
	if c.held == 0 {
		if err := c.gate.enter(ctx); err != nil {
			return nil, err
		}
	}
	if c.roTx {
		c.inTx, c.held = true, 0 // the transaction holds it until leaveTx
		return noop, nil
	}
	c.held++
	return sync.OnceFunc(func() {
		if c.held == 0 { // a transaction took the gate over: it gives it back
			return
		}
		if c.held--; c.held == 0 {
			c.gate.leave()
		}
	}), nil
}

func (c *sqliteConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.kept(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil { // in use by open rows: run it on its own
		return c.exec(ctx, mayWrite(query), func() (driver.Result, error) {
			return c.driverConn.ExecContext(ctx, query, args)
		})
	}
	return c.exec(ctx, cs.writes, func() (driver.Result, error) { return cs.st.ExecContext(ctx, args) })
}

// exec runs a statement, inside the gate when it may write and runs
// outside a transaction.
func (c *sqliteConn) exec(ctx context.Context, writes bool, run func() (driver.Result, error)) (driver.Result, error) {
	leave, err := c.enterFor(ctx, writes)
	if err != nil {
		return nil, err
	}
	defer leave()
	return run()
}

func (c *sqliteConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.kept(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil { // in use by open rows: run it on its own
		writes := mayWrite(query)
		leave, err := c.enterFor(ctx, writes)
		if err != nil {
			return nil, err
		}
		rows, err := c.driverConn.QueryContext(ctx, query, args)
		return closing(rows, err, leave)
	}
	leave, err := c.enterFor(ctx, cs.writes)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	rows, err := cs.st.QueryContext(ctx, args)
	return closing(rows, err, func() { cs.busy = false; leave() })
}

// closing returns rows that call done when closed (done runs at once when
// the query failed). A statement such as UPDATE … RETURNING holds SQLite's
// write lock until its rows are closed, and a kept statement is free for
// reuse only then.
func closing(rows driver.Rows, err error, done func()) (driver.Rows, error) {
	if err != nil {
		done()
		return nil, err
	}
	return &sqliteRows{Rows: rows, done: done}, nil
}

// sqliteTx gives the gate back when the transaction ends, however it ends.
type sqliteTx struct {
	driver.Tx
	conn *sqliteConn
}

func (t *sqliteTx) Commit() error {
	defer t.conn.leaveTx()
	return t.Tx.Commit()
}

func (t *sqliteTx) Rollback() error {
	defer t.conn.leaveTx()
	return t.Tx.Rollback()
}

// sqliteStmt is a statement prepared for a caller; it takes the gate when
// it may write and runs outside a transaction.
type sqliteStmt struct {
	driverStmt
	conn   *sqliteConn
	writes bool
}

func (s *sqliteStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *sqliteStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *sqliteStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.conn.exec(ctx, s.writes, func() (driver.Result, error) { return s.driverStmt.ExecContext(ctx, args) })
}

func (s *sqliteStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	leave, err := s.conn.enterFor(ctx, s.writes)
	if err != nil {
		return nil, err
	}
	rows, err := s.driverStmt.QueryContext(ctx, args)
	return closing(rows, err, leave)
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// sqliteRows call done when closed; the column-type methods are forwarded.
type sqliteRows struct {
	driver.Rows
	done func()
}

func (r *sqliteRows) Close() error {
	defer r.done()
	return r.Rows.Close()
}

func (r *sqliteRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *sqliteRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *sqliteRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *sqliteRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *sqliteRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// mayWrite reports whether a statement may take SQLite's write lock. Only
// SELECT, VALUES and EXPLAIN statements, and WITH statements that name no
// INSERT, UPDATE, DELETE or REPLACE, are known to read only (SQLite allows
// no writes inside a query); anything else, and any text of more than one
// statement, counts as a write.
func mayWrite(query string) bool {
	if i := strings.IndexByte(query, ';'); i >= 0 && strings.TrimSpace(query[i+1:]) != "" {
		return true
	}
	word, rest := firstWord(query)
	switch strings.ToUpper(word) {
	case "SELECT", "VALUES", "EXPLAIN":
		return false
	case "WITH":
		for _, w := range strings.FieldsFunc(strings.ToUpper(rest), func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r == '_')
		}) {
			switch w {
			case "INSERT", "UPDATE", "DELETE", "REPLACE":
				return true
			}
		}
		return false
	}
	return true
}

// firstWord returns the statement's first keyword, past blanks, opening
// parentheses and comments, and the text after it.
func firstWord(q string) (word, rest string) {
	for {
		q = strings.TrimLeft(q, " \t\r\n\f(")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return "", ""
			}
			q = q[i+1:]
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q[2:], "*/")
			if i < 0 {
				return "", ""
			}
			q = q[i+4:]
		default:
			end := strings.IndexFunc(q, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
			})
			if end < 0 {
				end = len(q)
			}
			return q[:end], q[end:]
		}
	}
}
