package cluster

import (
	"log/slog"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/periodic"
)

// WorkerOption configures a Worker.
type WorkerOption func(*workerOptions)

type workerOptions struct {
	logger    *slog.Logger
	functions []wire.Function // nil: wire.Functions()

	withTasks bool // WithTasks with Serve
	tasksDSN  string
	tasksConf config.Tasks
	limiter   tasks.Limiter
	queues    map[string]config.Queue // WithTaskQueues
	periodic  []periodic.Entry        // WithPeriodic
}

// WithLogger sets the worker's structured log. The default writes text
// lines to stderr at config.Worker.LogLevel.
func WithLogger(l *slog.Logger) WorkerOption {
	return func(o *workerOptions) { o.logger = l }
}

// WithFunctions makes the worker choose the functions it serves from fs
// instead of the registry (wire.Functions): for functions that are not
// registered, such as a test's, or a program that serves a subset
// without a config file.
func WithFunctions(fs ...wire.Function) WorkerOption {
	return func(o *workerOptions) { o.functions = fs }
}

// WithTasks makes the worker serve durable background tasks (package
// tasks) of its functions, with task records in the store dsn (an SQLite
// path or a postgres:// URL, as config.Tasks.StorePath gives), and run the
// scheduler's duties (dispatcher, sweeper, retention). With conf.Serve
// false the option does nothing.
func WithTasks(dsn string, conf config.Tasks) WorkerOption {
	return func(o *workerOptions) { o.tasksDSN, o.tasksConf, o.withTasks = dsn, conf, conf.Serve }
}

// WithTaskLimiter makes the worker's task runner ask l before each task of
// a queue runs (cluster-wide rate and concurrency limits).
func WithTaskLimiter(l tasks.Limiter) WorkerOption {
	return func(o *workerOptions) { o.limiter = l }
}

// WithTaskQueues gives the worker's task runner the cluster-wide limits
// of the task queues ([queue NAME] sections): the worker makes one
// ratelimit.Limiter over its task store and asks it before each task of
// a limited queue (WithTaskLimiter overrides it). Every process of the
// cluster should be given the same limits.
func WithTaskQueues(queues map[string]config.Queue) WorkerOption {
	return func(o *workerOptions) { o.queues = queues }
}

// WithPeriodic makes the worker run a periodic.Scheduler over entries
// ([periodic NAME] sections) and those tasks.Periodic added, enqueueing
// each entry's task once per period, cluster-wide. Without it the
// scheduler runs the tasks.Periodic entries only.
func WithPeriodic(entries ...periodic.Entry) WorkerOption {
	return func(o *workerOptions) { o.periodic = append(o.periodic, entries...) }
}
