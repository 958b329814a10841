package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// busyTimeout is how long a SQLite writer waits for the write lock, in the
// gate and then in SQLite's busy handler, before it fails.
const busyTimeout = 10 * time.Second

// checkpointEvery is how often the WAL is copied into the database file.
const checkpointEvery = time.Second

// openSQLite opens a pool of at most maxConns connections to the SQLite
// database at rawURL whose writers pass through gate. A nil gate makes a
// new one, and the returned DB then also runs the checkpoints of the file.
//
// Connections never checkpoint when they commit (wal_autocheckpoint is
// off): SQLite's automatic checkpoint runs inside the COMMIT that crosses
// 1,000 WAL pages, fsyncing the WAL and the database file while that
// writer, and every writer queued behind it, waits; at 100 webhook jobs a
// second that was one commit in a hundred taking 20–30 ms. A goroutine
// runs a PASSIVE checkpoint every second instead, which takes no write
// lock and holds up no writer.
func openSQLite(ctx context.Context, rawURL string, maxConns int, gate *writeGate) (*DB, error) {
	path := strings.TrimPrefix(rawURL, "sqlite://")
	if path == "" {
		return nil, fmt.Errorf("open database: %q names no file", rawURL)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=journal_mode(WAL)&_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=wal_autocheckpoint(0)"
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	owner := gate == nil
	if owner {
		gate = newWriteGate(busyTimeout)
	}
	sqlDB := sql.OpenDB(sqliteConnector{Connector: connector, gate: gate})
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns) // a closed connection loses its kept statements
	db := &DB{DB: sqlDB, Dialect: SQLite, url: rawURL, gate: gate}
	if err := ping(ctx, db); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if owner {
		db.stopCheckpoints = checkpoints(connector, checkpointEvery)
	}
	return db, nil
}

// ping opens the first connection. Connections that open a new database
// at once all turn it to WAL mode, which needs the write lock after a read
// lock; SQLite then answers SQLITE_BUSY at once, without waiting in the
// busy handler (waiting could deadlock), so the open is tried again, for
// up to the busy timeout. Once the file is in WAL mode that step is a no-op.
func ping(ctx context.Context, db *DB) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a lock conflict.
const sqliteBusy = 5

// checkpoints runs a PASSIVE checkpoint every interval on a connection of
// its own, outside the gate, until the returned function is called, which
// waits for the last one to end (later calls do nothing). Pools opened
// with OpenPool rely on their owner's checkpoints: close them first. A failed checkpoint is tried again at the
// next tick: until then the WAL only grows.
func checkpoints(connector driver.Connector, every time.Duration) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var conn driver.Conn
		defer func() {
			if conn != nil {
				conn.Close()
			}
		}()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			if conn == nil {
				c, err := connector.Connect(context.Background())
				if err != nil {
					continue
				}
				conn = c
			}
			ex, ok := conn.(driver.ExecerContext)
			if !ok {
				return
			}
			if _, err := ex.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)", nil); err != nil {
				conn.Close()
				conn = nil
			}
		}
	}()
	return sync.OnceFunc(func() { close(quit); <-done })
}
