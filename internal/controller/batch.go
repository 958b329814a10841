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

// commitBatch makes the batch's changes in one transaction, setting each
// write's outcome, and reports whether anything changed.
//
// Round trips (each one pipeline on PostgreSQL): BEGIN, the revisions
// and the reads of the first writes; then each write's statements ride
// with the reads of the next writes that do not depend on them; the last
// statements ride with COMMIT. A batch of independent writes — and a
// single write — takes two.
func (s *Store) commitBatch(ctx context.Context, batch []*write) bool {
	changes := 0
	err := s.db.InPipeTx(ctx, func(p *store.PipeTx) error {
		changes = 0
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
	case len(batch) > 1 && errors.Is(err, store.ErrNotCommitted):
		// A statement failed and took the transaction with it: make each
		// write on its own, so that only the failing one fails.
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
	return false
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
