package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/periodic"
	"github.com/glimpse-go/glimpse/webhook"
)

var workerCommand = &command{
	name:    "worker",
	aliases: []string{"LaunchWorker"},
	args:    "[-n N] [-f FUNCS] [-metrics ADDR [-pprof]] [-cpuprofile FILE]",
	short:   "serve the registered functions to the cluster",
	long: `
Serves the functions registered in this binary to every job server of
[client] job_server_url, running N chunks at once. Job servers that are
down, or go away, are redialled with backoff, so workers may start first.

Unless [tasks] serve = false, it also runs the durable background tasks of
those functions (Gearman functions glimpse-task.<name>) and the tasks
scheduler's duties (dispatcher, sweeper, retention), with the task records
in [tasks] store (default: the [fanout] store).

SIGTERM or SIGINT drains the worker: it finishes the chunks it is running,
takes no more and exits 0, waiting at most [worker] shutdown_timeout
(default 5m). A second signal exits at once, with status 1; the job
servers give the unfinished chunks to other workers.

Logs go to stderr, at [worker] log_level (default info).

Besides them it serves the built-in webhook function, glimpse.webhook
(webhook tasks: docs/WEBHOOKS.md), unless [worker] webhooks = false; its
calls are signed with [http] webhook_secret_file or webhook_secret.

To see where a worker's CPU goes: -pprof serves the Go runtime's profiles
(net/http/pprof) beside the metrics, at http://ADDR/debug/pprof/ (for
example go tool pprof http://ADDR/debug/pprof/profile?seconds=10); or
-cpuprofile FILE writes a CPU profile of the whole run, from start to exit.`,
	run: runWorker,
}

func runWorker(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	n := fs.Int("n", 0, "chunks run at once, `N` (default: [worker] slots, else one per CPU)")
	funcs := fs.String("f", "", "comma-separated registered names of the functions to serve, `FUNCS` (default: [worker] functions, else all)")
	metricsFlagAddr := metricsFlag(fs, "worker")
	prof := profileFlags(fs)
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	if code, ok := checkMetricsFlag(e, c, *metricsFlagAddr); !ok {
		return code
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	wc := file.Worker
	addr, fromFlag := metricsAddr(*metricsFlagAddr, wc.Metrics)
	if prof.served && addr == "" {
		return e.usageError(c, "-pprof serves the profiles on the metrics endpoint: give -metrics ADDR (or [worker] metrics)")
	}
	set := flagsSet(fs)
	if set["n"] {
		if *n < 0 {
			return e.usageError(c, "-n %d: want 0 (one slot per CPU) or more", *n)
		}
		wc.Slots = *n
	}
	if set["f"] {
		wc.Functions = nil
		for _, name := range strings.Split(*funcs, ",") {
			if name = strings.TrimSpace(name); name == "" {
				return e.usageError(c, "-f %q: empty function name", *funcs)
			}
			wc.Functions = append(wc.Functions, name)
		}
	}
	log := newLogger(e.stderr, wc.LogLevel)
	fns, err := webhookFunctions(&wc, registeredFunctions())
	if err == nil {
		err = configureWebhooks(file, wc, log)
	}
	if err != nil {
		return e.configError(c, err)
	}
	opts := []cluster.WorkerOption{cluster.WithLogger(log), cluster.WithFunctions(fns...)}
	if file.Tasks.Serve {
		dsn, err := file.Tasks.StorePath(file.Fanout)
		switch {
		case errors.Is(err, config.ErrNoStateDir):
			// No default store and none configured: serve maps, not tasks.
			log.Warn("not running tasks: no [tasks] store and no state directory for the default one", "err", err)
		case err != nil:
			return e.configError(c, err)
		default:
			opts = append(opts, cluster.WithTasks(dsn, file.Tasks), cluster.WithTaskQueues(file.Queues),
				cluster.WithPeriodic(periodic.FromConfig(file.Periodic)...))
		}
	}
	w, err := cluster.NewWorker(file.Client, wc, opts...)
	if err != nil {
		var ue *cluster.UnknownFunctionsError
		if errors.As(err, &ue) {
			err = ue // the "cluster: worker:" prefix would only repeat the command's name
		}
		return e.usageError(c, "%v", err)
	}
	ms, err := startMetricsWith(addr, fromFlag, file, "worker", log, prof.listenOptions(),
		metrics.NewWorkerCollector(w), metrics.NewTasksCollector(w.TaskLimiter()))
	if err == nil {
		err = prof.startCPU()
	}
	if err != nil {
		stopMetrics(ms, log)
		w.Close()
		return e.failure(c, err)
	}
	code, restart := serveWorker(ctx, e, w, log, wc.ShutdownTimeout)
	if err := prof.stopCPU(); err != nil {
		log.Error("CPU profile not written whole", "file", prof.cpuFile, "err", err)
		code = exitFailure
	}
	stopMetrics(ms, log)
	if restart {
		return reexec(log)
	}
	return code
}

// serveWorker runs w until a signal (or ctx) asks it to stop, then drains
// it for at most drainTimeout; a second signal cuts the drain short. It
// returns the exit status, and whether a restart command asks the process
// to run again (reexec).
func serveWorker(ctx context.Context, e *env, w *cluster.Worker, log *slog.Logger, drainTimeout time.Duration) (code int, restart bool) {
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	var why string
	select {
	case err := <-ran:
		// Only Shutdown and Close end Run, and nothing else calls them.
		log.Error("worker stopped", "err", err)
		return exitFailure, false
	case s := <-e.signals:
		why = s.String()
	case req := <-w.StopRequested():
		// The reply to it leaves during Shutdown: the worker's channels
		// flush what is queued before they close.
		why, restart = "command "+req.Command, req.Restart
	case <-ctx.Done():
		why = context.Cause(ctx).Error()
	}
	log.Info("shutting down", "cause", why, "timeout", drainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- w.Shutdown(dctx) }()
	// Run returns once the worker has stopped taking chunks; from here on
	// it only finishes the ones it holds.
	<-ran
	log.Info("draining", "running", w.Stats().Active)
	select {
	case err := <-shut:
		if err != nil {
			log.Error("drain cut short: the unfinished chunks go back to the job servers", "err", err)
			return exitFailure, false
		}
	case s := <-e.signals:
		log.Warn("second signal: stopping at once; the unfinished chunks go back to the job servers",
			"signal", s.String(), "running", w.Stats().Active)
		w.Close()
		return exitFailure, false
	}
	st := w.Stats()
	log.Info("worker stopped", "requests", st.Requests, "failures", st.Failures, "busy", st.Busy, "uptime", st.Uptime())
	return exitOK, restart
}

// reexec replaces this process with a fresh run of the same command line:
// the restart command. It returns only if that fails.
func reexec(log *slog.Logger) int {
	exe, err := os.Executable()
	if err == nil {
		log.Info("restarting", "exe", exe)
		err = syscall.Exec(exe, os.Args, os.Environ())
	}
	log.Error("restart failed", "err", err)
	return exitFailure
}

// webhookFunctions applies [worker] webhooks to the functions the worker
// serves: the built-in webhook function is served besides those that
// [worker] functions names, or left out.
func webhookFunctions(wc *config.Worker, all []wire.Function) ([]wire.Function, error) {
	if wc.Webhooks {
		if len(wc.Functions) > 0 && !slices.Contains(wc.Functions, webhook.Name) {
			wc.Functions = append(slices.Clone(wc.Functions), webhook.Name)
		}
		return all, nil
	}
	if slices.Contains(wc.Functions, webhook.Name) {
		return nil, fmt.Errorf("[worker] functions names %s, but webhooks = false leaves it out: keep one", webhook.Name)
	}
	return slices.DeleteFunc(slices.Clone(all), func(f wire.Function) bool { return f.Name() == webhook.Name }), nil
}

// configureWebhooks gives the webhook function this worker's secret and
// timeout.
func configureWebhooks(file *config.File, wc config.Worker, log *slog.Logger) error {
	if !wc.Webhooks {
		return nil
	}
	secret, err := file.HTTP.WebhookKey()
	if err != nil {
		return fmt.Errorf("[http] webhook_secret_file: %w", err)
	}
	if secret == nil {
		log.Warn("webhook calls go unsigned: give [http] webhook_secret_file so that receivers can check them")
	}
	webhook.Configure(webhook.Config{Secret: secret, Timeout: file.HTTP.WebhookTimeout, TaskInfo: webhookTaskInfo})
	return nil
}

// webhookTaskInfo gives a webhook call the task it runs for (its id,
// queue and attempt: X-Glimpse-Task-Id, -Queue, -Attempt).
func webhookTaskInfo(ctx context.Context) (id, queue string, attempt int, ok bool) {
	info, ok := tasks.FromContext(ctx)
	return string(info.ID), info.Queue, info.Attempt, ok
}
