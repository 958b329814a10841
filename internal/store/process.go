package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Process is this process's row in the processes table: how the bot's
// processes on one database (replicas, or a process and the one it
// replaced) tell which of them are alive. A process holds a lease that its
// heartbeat renews; a process whose lease ran out, or that gave it back, is
// gone, and so is any process recorded in a lock file that is free: work
// recorded as theirs (a run In Progress) was cut short.
//
// The lease is renewed every heartbeat and lasts LeaseBeats heartbeats,
// measured by the database's clock, so replicas on hosts whose clocks
// disagree still agree on it.
type Process struct {
	// ID names the process in the processes table and in what it owns.
	ID string
	// Previous is the process that last held this process's lock file and
	// is gone ("" when there was none, or the lock was held by another
	// live process sharing the folder).
	Previous string

	db        *DB
	heartbeat time.Duration
	lock      *os.File
}

// LeaseBeats is how many heartbeats a lease outlasts the beat that renewed it.
const LeaseBeats = 3

// LockFile is the file, in the folder StartProcess is given, that a process
// holds locked while it runs.
const LockFile = "process.lock"

// StartProcess records this process as alive, with a lease of LeaseBeats ×
// heartbeat, and forgets the processes whose leases ran out. When lockDir
// is set, the process also holds lockDir/process.lock (an flock the kernel
// releases when the process dies, however it dies) and records its ID
// there: when it finds the lock free, the process recorded in it is gone
// and is forgotten at once, without waiting for its lease. Call Run to keep
// the lease, and Stop to give it back.
func (db *DB) StartProcess(ctx context.Context, lockDir string, heartbeat time.Duration) (*Process, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("process id: %w", err)
	}
	host, _ := os.Hostname()
	p := &Process{ID: hex.EncodeToString(b[:]), db: db, heartbeat: heartbeat}
	if lockDir != "" {
		lock, prev, err := lockProcess(filepath.Join(lockDir, LockFile), p.ID)
		if err != nil {
			return nil, err
		}
		p.lock, p.Previous = lock, prev
	}
	now := db.nowMillis()
	err := db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO processes (id, host, pid, started_at, expires_ms) VALUES (?, ?, ?, ?, `+now+` + ?)`,
			p.ID, host, os.Getpid(), time.Now().UTC().Format(time.RFC3339Nano), p.lease()); err != nil {
			return err
		}
		if p.Previous != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM processes WHERE id = ?`, p.Previous); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM processes WHERE expires_ms < `+now)
		return err
	})
	if err != nil {
		p.unlock()
		return nil, fmt.Errorf("record process: %w", err)
	}
	return p, nil
}

func (p *Process) lease() int64 { return LeaseBeats * p.heartbeat.Milliseconds() }

// Beat renews the lease (recording the process again if another process
// forgot it while it was stalled) and forgets processes whose leases ran
// out.
func (p *Process) Beat(ctx context.Context) error {
	now := p.db.nowMillis()
	err := p.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE processes SET expires_ms = `+now+` + ? WHERE id = ?`, p.lease(), p.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			host, _ := os.Hostname()
			if _, err := tx.Exec(ctx, `INSERT INTO processes (id, host, pid, started_at, expires_ms) VALUES (?, ?, ?, ?, `+now+` + ?)`,
				p.ID, host, os.Getpid(), time.Now().UTC().Format(time.RFC3339Nano), p.lease()); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM processes WHERE expires_ms < `+now)
		return err
	})
	if err != nil {
		return fmt.Errorf("process heartbeat: %w", err)
	}
	return nil
}

// Run beats every heartbeat until ctx ends, calling after (when set) after
// each beat, and reporting a failed beat to onErr (when set).
func (p *Process) Run(ctx context.Context, after func(context.Context), onErr func(error)) {
	t := time.NewTicker(p.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.Beat(ctx); err != nil {
			if onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
			continue
		}
		if after != nil {
			after(ctx)
		}
	}
}

// Stop gives the lease back and releases the lock file: the process is
// gone for every other process at once.
func (p *Process) Stop(ctx context.Context) error {
	defer p.unlock()
	if _, err := p.db.Exec(ctx, `DELETE FROM processes WHERE id = ?`, p.ID); err != nil {
		return fmt.Errorf("forget process %s: %w", p.ID, err)
	}
	return nil
}

func (p *Process) unlock() {
	if p.lock != nil {
		p.lock.Close() // closing the last descriptor releases the flock
		p.lock = nil
	}
}

// nowMillis is SQL for the database clock's time in Unix milliseconds.
func (db *DB) nowMillis() string {
	if db.Dialect == Postgres {
		return `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`
	}
	return `CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)`
}
