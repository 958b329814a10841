package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 64

// A change is one write to the resources: it reads what its outcome
// depends on, decides in Go, and hands back the statements that make it.
// Nothing is written before every check has passed, so a change that is
// refused, or changes nothing, leaves no trace in its batch's transaction.
type change interface {
	// key is the resource the change writes.
	key() spec.Key
	// readsKey reports whether what read reads depends on a write to k.
	readsKey(k spec.Key) bool
	// read is the statement that reads what decide needs; its Scan keeps
	// the row in the change.
	read() store.Stmt
	// decide runs once read's row is scanned. It returns the statements
	// that make the change with revision rev at time now, or errUnchanged,
	// or the error to answer (an *Error for a refusal).
	decide(rev int64, now time.Time) ([]store.Stmt, error)
}

// A checkedChange can also be made by one statement that reads, checks and
// writes only when every check passes, taking the next revision then
// (PostgreSQL's data-modifying WITH clauses): a batch of them is one round
// trip. The checks are decide's, in SQL; settle reads them back.
type checkedChange interface {
	change
	// checkedWrite is that statement, writing at time now; its Scan keeps
	// the row it returns (what it read, and the revision it took).
	checkedWrite(now time.Time) store.Stmt
	// settle runs once checkedWrite's row is scanned. It reports whether
	// the statement wrote, and returns nil, errUnchanged or the refusal,
	// as decide would have.
	settle(now time.Time) (wrote bool, err error)
}

// A write is one change waiting for its batch to commit.
type write struct {
	change change
	err    error
	done   chan struct{}
}

// batcher groups concurrent writes into one transaction (group commit):
// the caller that finds no batch running becomes the leader and commits
// everything queued, batch after batch, while the others wait for their
// result. One commit (one fsync) serves the whole batch.
type batcher struct {
	mu      sync.Mutex
	pending []*write
	running bool
}

// write makes c in a transaction shared with concurrent writes and returns
// its outcome once that transaction has committed (or failed).
func (s *Store) write(ctx context.Context, c change) error {
	w := &write{change: c, done: make(chan struct{})}
	b := &s.batch
	b.mu.Lock()
	b.pending = append(b.pending, w)
	if b.running {
		b.mu.Unlock()
		<-w.done
		return w.err
	}
	b.running = true
	// The leader works for everyone: its own cancellation must not fail others.
	lctx := context.WithoutCancel(ctx)
	for len(b.pending) > 0 {
		n := min(len(b.pending), maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		if s.commitBatch(lctx, batch) {
			s.notify.broadcast()
		}
		for _, w := range batch {
			close(w.done)
		}
		b.mu.Lock()
	}
	b.running = false
	b.mu.Unlock()
	<-w.done
	return w.err
}

// Statements that take the revisions of a batch. The first reserves one
// revision per write and holds the counter's row lock until the batch
// commits, which orders commits by revision: a follower reading the log
// never sees a revision commit after a higher one. The second gives back
// the revisions of writes that changed nothing, so that revisions stay
// consecutive.
const (
	reserveRevisions = `UPDATE revision_counter SET revision = revision + ? WHERE id = 1 RETURNING revision`
	setRevision      = `UPDATE revision_counter SET revision = ? WHERE id = 1`
)

// lockWriters, on PostgreSQL, is every write transaction's first
// statement: it serialises writers (across processes too) until the
// transaction ends. A checkedWrite reads in the same statement as it
// writes, so with the snapshot that statement starts with: the lock, taken
// by an earlier statement, makes that snapshot hold every write committed
// before. (The revision counter's row lock, taken inside the statement,
// would come too late: the snapshot is older.) This needs READ COMMITTED,
// PostgreSQL's default, where each statement takes its own snapshot: under
// a default_transaction_isolation of repeatable read the snapshot would be
// the lock statement's, taken before the wait, and concurrent checked
// writes would fail with serialization errors. An advisory lock takes no
// transaction ID, so a transaction that writes nothing commits without a
// WAL flush. The key is the revision counter's table, so that controllers
// in different schemas of one database do not wait for each other.
// Processes of a version from before this lock do not take it: one of
// those writing the same database at once as this one could make a
// checked write read a stale row (a create then fails on the primary key;
// an update could miss a 409), so upgrade writers all at once.
const lockWriters = `SELECT pg_advisory_xact_lock(727272, 'revision_counter'::regclass::oid::int)`

// commitBatch makes the batch's changes in one transaction, setting each
// write's outcome, and reports whether anything changed.
//
// On PostgreSQL a batch of checked changes (applies and deletes) is one
// round trip: see commitChecked. Otherwise (SQLite, where a round trip is
// a function call) the rounds are: BEGIN, the revisions and the reads of
// the first writes; then each write's statements ride with the reads of
// the next writes that do not depend on them; the last statements ride
// with COMMIT. A batch of independent writes — and a single write — takes
// two.
func (s *Store) commitBatch(ctx context.Context, batch []*write) bool {
	if s.checkedWrites && allChecked(batch) {
		return s.commitChecked(ctx, batch)
	}
	changes := 0
	err := s.db.InPipeTx(ctx, func(p *store.PipeTx) error {
		changes = 0
		if s.db.Dialect == store.Postgres {
			p.Queue(store.Stmt{Query: lockWriters})
		}
		var head int64 // the newest revision before the batch
		p.Queue(store.Stmt{Query: reserveRevisions, Args: []any{int64(len(batch))}, Scan: func(r store.Row) error {
			var reserved int64
			if err := r.Scan(&reserved); err != nil {
				return fmt.Errorf("take revisions: %w", err)
			}
			head = reserved - int64(len(batch))
			return nil
		}})
		for i := 0; i < len(batch); {
			j := independentRun(batch, i)
			for _, w := range batch[i:j] {
				p.Queue(w.change.read())
			}
			if err := p.Flush(); err != nil {
				return err
			}
			for _, w := range batch[i:j] {
				stmts, err := w.change.decide(head+int64(changes)+1, s.now().UTC())
				w.err = err
				if err == nil {
					p.Queue(stmts...)
					changes++
				}
			}
			i = j
		}
		if changes == 0 {
			return errRollback
		}
		if changes < len(batch) {
			p.Queue(store.Stmt{Query: setRevision, Args: []any{head + int64(changes)}})
		}
		return nil
	})
	switch {
	case err == nil:
		return true
	case errors.Is(err, errRollback):
		return false
	}
	return s.failed(ctx, batch, err)
}

// failed sets the outcome of a batch whose transaction failed with err, and
// reports whether anything may have changed. When a statement failed and
// took the transaction with it, it makes each write on its own, so that
// only the failing one fails.
func (s *Store) failed(ctx context.Context, batch []*write, err error) bool {
	if len(batch) > 1 && errors.Is(err, store.ErrNotCommitted) {
		changed := false
		for _, w := range batch {
			changed = s.commitBatch(ctx, []*write{w}) || changed
		}
		return changed
	}
	for _, w := range batch {
		if w.err == nil || errors.Is(w.err, errUnchanged) {
			w.err = err
		}
	}
	// Unless surely not committed, it may have: waking the event log's
	// readers for nothing costs them one read.
	return !errors.Is(err, store.ErrNotCommitted)
}

// commitChecked makes a batch of checked changes in one round trip on
// PostgreSQL: lockWriters and each change's checkedWrite in one pipeline,
// one transaction (store.PipeTx). Each statement sees what the ones before
// it wrote (a write that depends on an earlier one of the batch reads it),
// and takes a revision only when it writes, so revisions stay consecutive
// without being reserved and given back. A transaction none of whose
// writes passed its checks wrote nothing and commits as a read.
func (s *Store) commitChecked(ctx context.Context, batch []*write) bool {
	now := s.now().UTC()
	err := s.db.InPipeTx(ctx, func(p *store.PipeTx) error {
		p.Queue(store.Stmt{Query: lockWriters})
		for _, w := range batch {
			p.Queue(w.change.(checkedChange).checkedWrite(now))
		}
		p.ReadRowsWithCommit()
		return nil
	})
	if err != nil {
		return s.failed(ctx, batch, err)
	}
	changed := false
	for _, w := range batch {
		var wrote bool
		wrote, w.err = w.change.(checkedChange).settle(now)
		changed = changed || wrote
	}
	return changed
}

// allChecked reports whether every change of batch is a checkedChange.
func allChecked(batch []*write) bool {
	for _, w := range batch {
		if _, ok := w.change.(checkedChange); !ok {
			return false
		}
	}
	return true
}

// independentRun returns the end of the run of writes from batch[i] on
// that read nothing an earlier write of the run changes: their reads can
// travel together.
func independentRun(batch []*write, i int) int {
	j := i + 1
	for ; j < len(batch); j++ {
		for _, w := range batch[i:j] {
			if batch[j].change.readsKey(w.change.key()) {
				return j
			}
		}
	}
	return j
}

// errRollback ends a transaction none of whose writes changed anything.
var errRollback = errors.New("roll back")
