// Package jobs is the bot's durable work queue, River on the bot's own
// database (SQLite or PostgreSQL): a webhook delivery's job (what its
// event's handler needs, not the payload) is stored before the delivery is
// acknowledged, de-duplicated by its delivery ID, and worked with retries
// and backoff, surviving restarts; a job that can never succeed is
// cancelled after its first attempt. It also ticks the Cron scheduler: a
// River periodic job, inserted by the replica River elects leader, one
// unique job per tick however many replicas share the database.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/systemsync/systemsync/internal/metrics"
	"github.com/systemsync/systemsync/internal/store"
)

// EventArgs is one GitHub webhook delivery to work on: its delivery ID,
// its event, and the job its event's handler stored for the work — the
// fields the work reads, never the whole payload.
type EventArgs struct {
	DeliveryID string `json:"delivery_id" river:"unique"`
	Event      string `json:"event"`
	// Job is what the event's handler decoded from the payload for the
	// work (JSON of the handler's own type).
	Job json.RawMessage `json:"job,omitempty"`
	// Payload is set only in rows stored by versions of the bot that kept
	// the body as GitHub sent it (base64 in the row); a handler decodes it
	// when the job runs.
	Payload []byte `json:"payload,omitempty"`
}

// Kind names the job type in River.
func (EventArgs) Kind() string { return "github_event" }

// MaxAttempts is how often a job that keeps failing is tried, with
// backoff, before River discards it.
const MaxAttempts = 8

// InsertOpts makes a delivery unique: the same X-GitHub-Delivery is stored once.
func (EventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ErrPermanent marks a failure that retrying cannot mend (a stored job
// that does not decode, or is not a valid job of its event): a Work error
// wrapping it cancels the job at once, after one attempt.
var ErrPermanent = errors.New("permanent failure")

// Handler does the work of a stored delivery. An error retries it with
// backoff, up to MaxAttempts; one wrapping ErrPermanent cancels it.
type Handler interface {
	Work(ctx context.Context, args EventArgs) error
}

type eventWorker struct {
	river.WorkerDefaults[EventArgs]
	handler Handler
	log     *slog.Logger
}

func (w *eventWorker) Work(ctx context.Context, job *river.Job[EventArgs]) error {
	// metrics: jobs by kind (job.Args.Event) and outcome (done, retried, cancelled), with durations.
	err := w.handler.Work(ctx, job.Args)
	if errors.Is(err, ErrPermanent) {
		w.log.Error("job cancelled: retrying cannot help", "event", job.Args.Event, "delivery", job.Args.DeliveryID,
			"attempt", job.Attempt, "err", err)
		return river.JobCancel(err)
	}
	if err != nil {
		w.log.Warn("job failed; it will be retried", "event", job.Args.Event, "delivery", job.Args.DeliveryID,
			"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	}
	return err
}

// Ticker is the Cron scheduler's work: Tick is called once for each tick,
// on one replica, with the time the tick stands for.
type Ticker interface {
	Tick(ctx context.Context, at time.Time) error
}

// TickArgs is one tick of the Cron scheduler. Its time makes it unique:
// each tick is one job across replicas, whichever of them leads.
type TickArgs struct {
	At time.Time `json:"at" river:"unique"`
}

// Kind names the job type in River.
func (TickArgs) Kind() string { return "cron_tick" }

// InsertOpts makes a tick unique and tries it once: a tick that fails is
// not tried again, the next tick is.
func (TickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type tickWorker struct {
	river.WorkerDefaults[TickArgs]
	ticker Ticker
	log    *slog.Logger
}

func (w *tickWorker) Work(ctx context.Context, job *river.Job[TickArgs]) error {
	if err := w.ticker.Tick(ctx, job.Args.At); err != nil {
		w.log.Warn("cron tick failed; the next tick tries again", "tick", job.Args.At.UTC().Format(time.RFC3339), "err", err)
		return err
	}
	return nil
}

// DefaultTick is how often the Cron scheduler ticks: once a minute, on the
// minute, the granularity of cron expressions.
const DefaultTick = time.Minute

// tickSchedule ticks every d, on multiples of d (on the minute for a minute).
type tickSchedule struct{ d time.Duration }

func (s tickSchedule) Next(t time.Time) time.Time { return t.Truncate(s.d).Add(s.d) }

// tickAt is the tick a periodic job inserted now stands for: River calls
// the constructor when the tick is due, or up to 100ms before.
func (s tickSchedule) tickAt(now time.Time) time.Time {
	return now.Add(min(s.d/2, time.Second)).Truncate(s.d).UTC()
}

// observe is River middleware that records every job attempt of every
// kind in m: its outcome, as River will act on it, and how long it took.
func observe(m *metrics.Metrics) rivertype.Middleware {
	return river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, work func(context.Context) error) error {
		start := time.Now()
		err := work(ctx)
		outcome := metrics.JobSuccess
		switch {
		case err == nil:
		case errors.Is(err, &rivertype.JobCancelError{}):
			outcome = metrics.JobCancelled
		case errors.Is(err, &rivertype.JobSnoozeError{}):
			outcome = metrics.JobSnoozed
		case job.Attempt >= job.MaxAttempts:
			outcome = metrics.JobDiscarded
		default:
			outcome = metrics.JobRetry
		}
		m.Job(job.Kind, outcome, time.Since(start))
		return err
	})
}

// Options tune the queue.
type Options struct {
	Workers      int           // concurrent jobs (default 4 on SQLite, 10 on PostgreSQL)
	PollInterval time.Duration // how often SQLite is polled for new jobs (default 200ms)
	JobTimeout   time.Duration // default 30 minutes: a full apply of a large folder takes time
	// Metrics counts each job attempt by kind and outcome, with its
	// duration; nil counts nothing.
	Metrics *metrics.Metrics
	// Cron, when set, is called at every tick of the Cron scheduler: a
	// River periodic job, which only the replica River elected leader
	// inserts, one job per tick.
	Cron Ticker
	// Tick is how often the scheduler ticks; 0 is DefaultTick. Tests tick
	// faster.
	Tick time.Duration
}

// Queue stores and works jobs.
type Queue struct {
	insert func(ctx context.Context, args river.JobArgs) (bool, error)
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	close  func()
}

// Open connects River to db's database through connections of its own,
// runs River's migrations, and returns a queue whose workers call h for
// deliveries (h nil: the queue takes none, as in local mode) and
// opt.Cron at ticks. Call Start to work jobs; a queue that is never
// started still stores them.
func Open(ctx context.Context, db *store.DB, h Handler, log *slog.Logger, opt Options) (*Queue, error) {
	if opt.Workers == 0 {
		// On SQLite River has one connection, which the webhook's insert
		// shares with the workers' fetches and completions: fewer workers
		// keep acknowledgements fast. PostgreSQL has a pool.
		opt.Workers = 10
		if db.Dialect == store.SQLite {
			opt.Workers = 4
		}
	}
	if opt.PollInterval == 0 {
		opt.PollInterval = 200 * time.Millisecond
	}
	if opt.JobTimeout == 0 {
		opt.JobTimeout = 30 * time.Minute
	}
	workers := river.NewWorkers()
	if h != nil {
		river.AddWorker(workers, &eventWorker{handler: h, log: log})
	}
	var periodic []*river.PeriodicJob
	if opt.Cron != nil {
		river.AddWorker(workers, &tickWorker{ticker: opt.Cron, log: log})
		if opt.Tick <= 0 {
			opt.Tick = DefaultTick
		}
		sched := tickSchedule{opt.Tick}
		periodic = append(periodic, river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			return TickArgs{At: sched.tickAt(time.Now())}, nil
		}, &river.PeriodicJobOpts{ID: "cron_tick"}))
	}
	cfg := &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opt.Workers}},
		Workers:           workers,
		Logger:            log,
		FetchPollInterval: opt.PollInterval,
		FetchCooldown:     min(opt.PollInterval, river.FetchCooldownDefault),
		JobTimeout:        opt.JobTimeout,
		Middleware:        []rivertype.Middleware{observe(opt.Metrics)},
		PeriodicJobs:      periodic,
	}
	if db.Dialect == store.SQLite {
		// River's SQLite driver wants a single connection: its internal
		// operations run in parallel and SQLite has one writer. Its writes
		// queue in the same gate as the store's (see store.DB.OpenPool),
		// so neither sleeps in SQLite's busy handler waiting for the other.
		pool, err := db.OpenPool(ctx, 1)
		if err != nil {
			return nil, err
		}
		q, err := open(ctx, riversqlite.New(pool.DB), cfg)
		if err != nil {
			pool.Close()
			return nil, err
		}
		q.close = func() { pool.Close() }
		return q, nil
	}
	pool, err := pgxpool.New(ctx, db.URL())
	if err != nil {
		return nil, fmt.Errorf("open job queue database %s: %w", store.Redact(db.URL()), err)
	}
	q, err := open(ctx, riverpgxv5.New(pool), cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	q.close = pool.Close
	return q, nil
}

func open[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg *river.Config) (*Queue, error) {
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("migrate job queue: %w", err)
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("job queue client: %w", err)
	}
	return &Queue{
		insert: func(ctx context.Context, args river.JobArgs) (bool, error) {
			res, err := client.Insert(ctx, args, nil)
			if err != nil {
				return false, err
			}
			return res.UniqueSkippedAsDuplicate, nil
		},
		start: client.Start,
		stop:  client.Stop,
	}, nil
}

// Enqueue stores a delivery; it is durable when Enqueue returns. duplicate
// is true when the same delivery ID was stored before (nothing is added).
func (q *Queue) Enqueue(ctx context.Context, args EventArgs) (duplicate bool, err error) {
	dup, err := q.insert(ctx, args)
	if err != nil {
		return false, fmt.Errorf("enqueue %s delivery %s: %w", args.Event, args.DeliveryID, err)
	}
	return dup, nil
}

// Start begins working jobs in the background.
func (q *Queue) Start(ctx context.Context) error { return q.start(ctx) }

// Stop waits for running jobs to finish, then closes the connections.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.stop(ctx)
	q.close()
	return err
}

// Close releases the connections of a queue that was never started.
func (q *Queue) Close() { q.close() }
