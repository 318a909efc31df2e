package cli

import (
	"context"
	"flag"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/metrics"
)

var fanoutCommand = &command{
	name:  "fanout",
	args:  "[-id ID]",
	short: "run the fanout worker that copies broadcasts to every subscriber",
	long: `
Runs a gearhorn-compatible fanout worker on every job server of [client]
job_server_url. It serves the Gearman functions subscribe_fanout,
unsubscribe_fanout and fanout (JSON payloads {"topic", "client_id"} and
{"topic", "payload"[, "unique"][, "background"][, "collect"]}) and copies
each fanout to the queue "<topic>_<client_id>" of every subscriber. The
broadcast commands (ping, quit, restart, stats) go through it.

The subscriber list lives in [fanout] store: an SQLite file (default
fanout.db in $STATE_DIRECTORY, else $XDG_STATE_HOME/glimpse, else
~/.local/state/glimpse) or a postgres:// URL, which several fanout workers may
share; they tell each other to reload it through the __matchmaking topic.
A foreground copy waits at most [fanout] copy_timeout (default 30s);
subscribers whose queue has had no worker for [fanout] prune_after
(default 1m) are removed.

SIGTERM or SIGINT drains the worker: it takes no more jobs, finishes the
fanouts in progress (at most copy_timeout) and exits 0. A second signal
exits at once, with status 1.

Logs go to stderr, at [worker] log_level (default info).`,
	run: runFanout,
}

func runFanout(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	id := fs.String("id", "", "the worker's `ID` on the job servers and the __matchmaking topic (default: fanout-HOST-PID-RANDOM)")
	metricsFlagAddr := metricsFlag(fs, "fanout")
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
	log := newLogger(e.stderr, file.Worker.LogLevel)
	opts := []fanout.Option{fanout.WithLogger(log)}
	if file.Client.KeyFile == "" {
		auth.WarnIfNoKey(log, nil, "fanout worker")
	}
	if *id != "" {
		opts = append(opts, fanout.WithID(*id))
	}
	w, err := fanout.NewWorker(file.Client, file.Fanout, opts...)
	if err != nil {
		return e.failure(c, err)
	}
	addr, fromFlag := metricsAddr(*metricsFlagAddr, file.Fanout.Metrics)
	ms, err := startMetrics(addr, fromFlag, file, "fanout", log, metrics.NewFanoutCollector(w))
	if err != nil {
		w.Close()
		return e.failure(c, err)
	}
	defer stopMetrics(ms, log)
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	log.Info("fanout worker started", "id", w.ID(), "job_servers", strings.Join(file.Client.JobServers, ","),
		"store", redactStore(file.Fanout.Store), "copy_timeout", file.Fanout.CopyTimeout, "prune_after", file.Fanout.PruneAfter)

	var why string
	select {
	case err := <-ran:
		// Only Shutdown and Close end Run, and nothing else calls them.
		log.Error("fanout worker stopped", "err", err)
		w.Close()
		return exitFailure
	case s := <-e.signals:
		why = s.String()
	case <-ctx.Done():
		why = context.Cause(ctx).Error()
	}
	return drainFanout(e, w, ran, file.Fanout.CopyTimeout, why, log)
}

// drainFanout shuts the fanout worker down, letting the fanouts in
// progress finish unless a second signal comes first, and returns the exit
// status. ran gets the worker's Run result.
func drainFanout(e *env, w *fanout.Worker, ran <-chan error, copyTimeout time.Duration, why string, log *slog.Logger) int {
	// Fanouts in progress end within copy_timeout (their copies run at
	// once); the margin covers leaving the matchmaking topic.
	drain := copyTimeout + 5*time.Second
	log.Info("shutting down", "cause", why, "timeout", drain)
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- w.Shutdown(dctx) }()
	select {
	case err := <-shut:
		<-ran
		if err != nil {
			log.Error("drain cut short: the fanouts in progress were cancelled", "err", err)
			return exitFailure
		}
	case s := <-e.signals:
		log.Warn("second signal: stopping at once", "signal", s.String())
		w.Close()
		<-shut
		<-ran
		return exitFailure
	}
	log.Info("fanout worker stopped")
	return exitOK
}

// redactStore hides a password in a postgres:// store URL.
func redactStore(dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil {
			return u.Redacted()
		}
		return "(unparsable URL)"
	}
	return dsn
}
