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
)

// tasksOpenTimeout bounds opening the task store and its job server
// connection when a worker starts.
const tasksOpenTimeout = 30 * time.Second

// workerTasks is a worker's part in durable tasks (WithTasks): the runner
// that serves task jobs and the scheduler's duties.
type workerTasks struct {
	db     *store.DB
	runner *tasks.Runner
	sched  *tasks.Scheduler
	once   sync.Once
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
	var ropts []tasks.RunnerOption
	if o.limiter != nil {
		ropts = append(ropts, tasks.WithLimiter(o.limiter))
	}
	if wt.runner, err = tasks.NewRunner(ctx, wt.db, workerID, o.tasksConf, append(ropts, tasks.WithRunnerLogger(log))...); err != nil {
		return nil, err
	}
	if wt.sched, err = tasks.NewScheduler(ctx, wt.db, client, o.tasksConf, log); err != nil {
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
	wt.runner.Start()
	wt.sched.Start()
}

// stopScheduling stops the duties: no more jobs are sent from here.
func (wt *workerTasks) stopScheduling() {
	if wt != nil && wt.sched != nil {
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
		if wt.db != nil {
			errs = append(errs, wt.db.Close())
		}
	})
	return errors.Join(errs...)
}
