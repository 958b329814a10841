package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/systemsync/systemsync/internal/store"
)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 64

// A write is one change: fn runs inside a transaction and returns nil to
// keep its work, errUnchanged to undo it quietly, or another error to undo
// it and report that error.
type write struct {
	fn   func(ctx context.Context, tx *store.Tx) error
	err  error
	done chan struct{}
}

// batcher groups concurrent writes into one transaction (group commit):
// the caller that finds no batch running becomes the leader and commits
// everything queued, batch after batch, while the others wait for their
// result. Each write runs under its own savepoint, so one failing write
// does not undo the others; one commit (one fsync) serves the whole batch.
type batcher struct {
	mu      sync.Mutex
	pending []*write
	running bool
}

// write runs fn in a transaction shared with concurrent writes and returns
// its outcome once that transaction has committed (or failed).
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *store.Tx) error) error {
	w := &write{fn: fn, done: make(chan struct{})}
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
		s.commitBatch(lctx, batch)
		b.mu.Lock()
	}
	b.running = false
	b.mu.Unlock()
	<-w.done
	return w.err
}

func (s *Store) commitBatch(ctx context.Context, batch []*write) {
	changed := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if len(batch) == 1 {
			batch[0].err = batch[0].fn(ctx, tx)
			if batch[0].err != nil {
				return errRollback
			}
			changed = true
			return nil
		}
		for _, w := range batch {
			if _, err := tx.Exec(ctx, "SAVEPOINT write"); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			w.err = w.fn(ctx, tx)
			if w.err != nil {
				if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT write"); err != nil {
					return fmt.Errorf("roll back to savepoint: %w", err)
				}
			} else {
				changed = true
			}
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT write"); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRollback) {
		for _, w := range batch {
			if w.err == nil || errors.Is(w.err, errUnchanged) {
				w.err = err
			}
		}
		changed = false
	}
	if changed {
		s.notify.broadcast()
	}
	for _, w := range batch {
		close(w.done)
	}
}

// errRollback undoes a one-write transaction whose write failed or changed nothing.
var errRollback = errors.New("roll back")
