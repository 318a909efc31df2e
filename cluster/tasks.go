package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
)

// tasksOpenTimeout bounds opening the task store and its job server
// connection when a worker starts.
const tasksOpenTimeout = 30 * time.Second

// workerTasks is a worker's part in durable tasks (WithTasks): the runner
// that serves task jobs and the scheduler's duties.
type workerTasks struct {
	db       *store.DB
	runner   *tasks.Runner
	sched    *tasks.Scheduler
	limiter  *ratelimit.Limiter // made from WithTaskQueues; nil: none or WithTaskLimiter's
	periodic *periodicTasks     // nil: no entries
	log      *slog.Logger
	once     sync.Once
	// mu orders start and stopScheduling, which Run and Shutdown call
	// from their goroutines: a worker shut down while it starts must not
	// start its duties after stopping them.
	mu      sync.Mutex
	stopped bool
}

func openWorkerTasks(client config.Client, o workerOptions, workerID string, log *slog.Logger) (_ *workerTasks, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), tasksOpenTimeout)
	defer cancel()
	wt := &workerTasks{}
	defer func() {
		if err != nil {
			wt.close()
		}
	}()
	if wt.db, err = store.Open(ctx, o.tasksDSN); err != nil {
		return nil, err
	}
	wt.log = log
	var ropts []tasks.RunnerOption
	if o.limiter == nil && limitsAny(o.queues) {
		if wt.limiter, err = ratelimit.New(ctx, wt.db, ratelimit.FromConfig(o.queues), ratelimit.Logger(log)); err != nil {
			return nil, err
		}
		o.limiter = taskLimiter{wt.limiter}
	}
	if o.limiter != nil {
		ropts = append(ropts, tasks.WithLimiter(o.limiter))
	}
	if wt.runner, err = tasks.NewRunner(ctx, wt.db, workerID, o.tasksConf, append(ropts, tasks.WithRunnerLogger(log))...); err != nil {
		return nil, err
	}
	if wt.sched, err = tasks.NewScheduler(ctx, wt.db, client, o.tasksConf, log); err != nil {
		return nil, err
	}
	if wt.periodic, err = newPeriodicTasks(ctx, wt.db, client, o, log); err != nil {
		return nil, err
	}
	return wt, nil
}

// register serves the task jobs of funcs on gw.
func (wt *workerTasks) register(gw *gearman.Worker, funcs []wire.Function) error {
	for _, f := range funcs {
		if err := gw.Register(tasks.GearmanName(f.Name()), wt.runner.JobFunc(f)); err != nil {
			return err
		}
	}
	return nil
}

func (wt *workerTasks) start() {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if wt.stopped {
		return
	}
	wt.runner.Start()
	wt.sched.Start()
	wt.periodic.start(wt.log)
}

// interrupt ends the running tasks: the worker is closing.
func (wt *workerTasks) interrupt() {
	if wt != nil && wt.runner != nil {
		wt.runner.Interrupt()
	}
}

// stopScheduling stops the duties and the periodic scheduler: no more
// jobs are sent from here.
func (wt *workerTasks) stopScheduling() {
	if wt == nil {
		return
	}
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if wt.stopped {
		return
	}
	wt.stopped = true
	wt.periodic.stop()
	if wt.sched != nil {
		wt.sched.Stop()
	}
}

// close stops everything and closes the store and the job servers'
// connection; the running tasks have ended (or been given back) by then.
func (wt *workerTasks) close() error {
	if wt == nil {
		return nil
	}
	var errs []error
	wt.once.Do(func() {
		wt.stopScheduling()
		if wt.runner != nil {
			wt.runner.Stop()
		}
		if wt.limiter != nil {
			errs = append(errs, wt.limiter.Close())
		}
		if wt.db != nil {
			errs = append(errs, wt.db.Close())
		}
	})
	return errors.Join(errs...)
}
