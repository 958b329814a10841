package pipeline

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/systemsync/systemsync/internal/reconcile"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// How a Follower learns of the system's changes.
const (
	// FollowEvents long-polls the controller's event log (the embedded
	// controller, or a remote one that serves `GET …/events`).
	FollowEvents = "events"
	// FollowList lists every resource each ListInterval and compares the
	// list with the one before, for a controller without an event log.
	FollowList = "list"
)

// listedPosition marks that a first list was recorded: the follower has a
// baseline to compare with.
const listedPosition = "follow:listed"

// listStep lists the system, compares it with the list stored at the end
// of the previous step, exports what differs, and only then stores the new
// list, so that a change made while the bot was down, or interrupted
// before its commit, is exported when it comes back. A list gives no user:
// the commit's author is the bot. The very first list is the baseline and
// exports nothing (history before the bot is left to a full sync).
func (f *Follower) listStep(ctx context.Context) error {
	cur, err := f.listHashes(ctx)
	if err != nil {
		return err
	}
	baseline, err := f.Runner.DB.Position(ctx, listedPosition)
	if err != nil {
		return err
	}
	prev, err := loadListed(ctx, f.Runner.DB)
	if err != nil {
		return err
	}
	changes := diffListed(prev, cur)
	if baseline != "" { // changes, or stages with changes left from a failed export
		if err := f.export(ctx, changes); err != nil {
			return err
		}
	}
	if err := storeListed(ctx, f.Runner.DB, prev, cur); err != nil {
		return err
	}
	if baseline == "" {
		return f.Runner.DB.SetPosition(ctx, listedPosition, time.Now().UTC().Format(time.RFC3339))
	}
	return nil
}

// listHashes lists every resource of the system with its content hash.
func (f *Follower) listHashes(ctx context.Context) (map[spec.Key]string, error) {
	objs, err := reconcile.LoadActual(ctx, f.Runner.System, reconcile.Scope{})
	if err != nil {
		return nil, fmt.Errorf("list the system: %w", err)
	}
	out := make(map[spec.Key]string, len(objs))
	for k, obj := range objs {
		out[k] = reconcile.Hash(obj)
	}
	return out, nil
}

// diffListed returns the changes from prev to cur, in key order.
func diffListed(prev, cur map[spec.Key]string) []Change {
	var out []Change
	for k, h := range cur {
		switch old, ok := prev[k]; {
		case !ok:
			out = append(out, Change{Key: k, Type: "Create"})
		case old != h:
			out = append(out, Change{Key: k, Type: "Update"})
		}
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			out = append(out, Change{Key: k, Type: "Delete"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out
}

func loadListed(ctx context.Context, db *store.DB) (map[spec.Key]string, error) {
	rows, err := db.Query(ctx, `SELECT kind, project, name, hash FROM listed_objects`)
	if err != nil {
		return nil, fmt.Errorf("read the last list of the system: %w", err)
	}
	defer rows.Close()
	out := map[spec.Key]string{}
	for rows.Next() {
		var k spec.Key
		var h string
		if err := rows.Scan(&k.Kind, &k.Project, &k.Name, &h); err != nil {
			return nil, fmt.Errorf("read the last list of the system: %w", err)
		}
		out[k] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the last list of the system: %w", err)
	}
	return out, nil
}

// storeListed makes the stored list cur, writing only the rows that differ from prev.
func storeListed(ctx context.Context, db *store.DB, prev, cur map[spec.Key]string) error {
	changes := diffListed(prev, cur)
	if len(changes) == 0 {
		return nil
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for _, c := range changes {
			k := c.Key
			var err error
			if c.Type == "Delete" {
				_, err = tx.Exec(ctx, `DELETE FROM listed_objects WHERE kind = ? AND project = ? AND name = ?`, k.Kind, k.Project, k.Name)
			} else {
				_, err = tx.Exec(ctx, `INSERT INTO listed_objects (kind, project, name, hash) VALUES (?, ?, ?, ?)
					ON CONFLICT (kind, project, name) DO UPDATE SET hash = excluded.hash`, k.Kind, k.Project, k.Name, cur[k])
			}
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store the list of the system: %w", err)
	}
	return nil
}
