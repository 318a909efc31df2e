package cluster

import (
	"context"
	"log/slog"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/periodic"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
)

// taskLimiter is a ratelimit.Limiter as the task runner's tasks.Limiter.
type taskLimiter struct{ l *ratelimit.Limiter }

func (t taskLimiter) Acquire(ctx context.Context, queue string) (func(), error) {
	release, err := t.l.Acquire(ctx, queue)
	return release, err
}

// Limits tells the runner which queues need a grant before their claim.
func (t taskLimiter) Limits(queue string) bool { return !t.l.Limits(queue).Unlimited() }

// limitsAny says whether any queue has a limit.
func limitsAny(queues map[string]config.Queue) bool {
	for _, q := range queues {
		if q.Rate > 0 || q.MaxRunning > 0 {
			return true
		}
	}
	return false
}

// periodicStopTimeout bounds the wait for an Enqueue in progress when the
// periodic scheduler stops.
const periodicStopTimeout = 5 * time.Second

// periodicTasks is a worker's periodic scheduler and the tasks client it
// enqueues with.
type periodicTasks struct {
	sched  *periodic.Scheduler
	client *tasks.Client
	owned  func() error // the client's Gearman connection; nil: none
}

// newPeriodicTasks makes the scheduler of o's entries and tasks.Periodic's
// (nil when there are none). Its tasks client sends due tasks at once
// when the job servers answer now, else the sweeper sends them later.
func newPeriodicTasks(ctx context.Context, db *store.DB, client config.Client, o workerOptions, log *slog.Logger) (*periodicTasks, error) {
	entries := append(append([]periodic.Entry(nil), o.periodic...), tasks.PeriodicEntries()...)
	if len(entries) == 0 {
		return nil, nil
	}
	pt := &periodicTasks{}
	gc, err := tasks.DialJobServers(ctx, client)
	if err != nil {
		log.Warn("periodic tasks: job servers not reachable now; the sweeper sends the tasks later", "err", err)
	} else {
		pt.owned = gc.Close
	}
	if pt.client, err = tasks.NewClient(ctx, db, gc, o.tasksConf, tasks.WithLogger(log)); err != nil {
		pt.close()
		return nil, err
	}
	if pt.sched, err = periodic.New(db, entries, tasks.PeriodicEnqueue(pt.client), periodic.Logger(log)); err != nil {
		pt.close()
		return nil, err
	}
	return pt, nil
}

func (pt *periodicTasks) start(log *slog.Logger) {
	if pt == nil {
		return
	}
	// Not a context with a timeout: the scheduler runs until the end of
	// the one Start is given (or Stop).
	if err := pt.sched.Start(context.Background()); err != nil {
		log.Error("periodic tasks not scheduled", "err", err)
	}
}

// stop stops the scheduler and closes its client.
func (pt *periodicTasks) stop() {
	if pt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), periodicStopTimeout)
	defer cancel()
	pt.sched.Stop(ctx)
	pt.close()
}

// close closes the client; it only waits for its enqueues and their
// sending, so there is nothing to report.
func (pt *periodicTasks) close() {
	if pt.client != nil {
		pt.client.Close()
		pt.client = nil
	}
	if pt.owned != nil {
		pt.owned()
		pt.owned = nil
	}
}
