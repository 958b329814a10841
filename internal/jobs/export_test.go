package jobs

import (
	"context"
	"time"
)

// EnqueueTick stores the Cron scheduler's tick at, as the leader's
// periodic job does; duplicate is true when that tick was stored before.
func (q *Queue) EnqueueTick(ctx context.Context, at time.Time) (duplicate bool, err error) {
	return q.insert(ctx, TickArgs{At: at.UTC()})
}
