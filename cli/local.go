package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
)

var localCommand = &command{
	name:  "local",
	args:  "[-n N]",
	short: "run a cluster on this machine: gearmand, broker, fanout and a worker",
	long: `
Starts gearmand (Debian package gearman-job-server) on a free 127.0.0.1
port, a broker and a fanout worker, and a worker with N slots serving the
functions registered in this binary; prints a config.ini for programs that
want to use the cluster, and runs until SIGTERM or SIGINT, then stops them.

The broadcast commands work on it: quit stops the whole local cluster
(exit 0, as SIGTERM), restart replaces its worker with a new one (a new
worker id; the binary is not reloaded) while gearmand, the broker and the
fanout worker stay.

The output is itself a config file:
  glimpse-cluster local > local.ini &
  glimpse-cluster -c local.ini status

A config file, if given, is read for its [worker] section only.`,
	run: runLocal,
}

func runLocal(ctx context.Context, e *env, c *command, args []string) int {
	wc, code, ok := parseLocalFlags(e, c, args)
	if !ok {
		return code
	}
	l, code, ok := startLocal(ctx, e, c, wc)
	if !ok {
		return code
	}
	printLocalConfig(e, l)
	log := newLogger(e.stderr, wc.LogLevel)
	code = serveLocal(ctx, e, c, l, log)
	log.Info("stopping the local cluster")
	return closeLocal(e, c, l, code)
}

// parseLocalFlags reads local's flags and config file into the worker's
// config; ok is false, with the exit status in code, when they are wrong.
func parseLocalFlags(e *env, c *command, args []string) (wc config.Worker, code int, ok bool) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` for the [worker] section (default: the -c before the command, else $"+config.EnvVar+", else none)")
	n := fs.Int("n", 0, "worker slots, `N` (default: [worker] slots, else one per CPU)")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return wc, code, false
	}
	file, err := e.loadConfig(*cfgPath, false)
	if err != nil {
		return wc, e.configError(c, err), false
	}
	wc = config.DefaultWorker()
	if file != nil {
		wc = file.Worker
	}
	if *n < 0 {
		return wc, e.usageError(c, "-n %d: want 0 (one slot per CPU) or more", *n), false
	}
	if flagsSet(fs)["n"] {
		wc.Slots = *n
	}
	return wc, exitOK, true
}

// startLocal starts the local cluster in the background so that a signal
// can interrupt the start; ok is false, with the exit status in code, when
// it failed or was interrupted.
func startLocal(ctx context.Context, e *env, c *command, wc config.Worker) (l *cluster.Local, code int, ok bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type started struct {
		l   *cluster.Local
		err error
	}
	start := make(chan started, 1)
	go func() {
		l, err := cluster.StartLocalWith(sctx, cluster.LocalConfig{Worker: wc, Log: e.stderr, ObeyStops: true})
		start <- started{l, err}
	}()
	select {
	case r := <-start:
		var ue *cluster.UnknownFunctionsError
		if errors.As(r.err, &ue) {
			return nil, e.configError(c, ue), false // [worker] functions of the config file
		}
		if r.err != nil {
			return nil, e.failure(c, r.err), false
		}
		return r.l, exitOK, true
	case <-e.signals:
		cancel()
		if r := <-start; r.l != nil {
			r.l.Close()
		}
		fmt.Fprintf(e.stderr, "%s %s: interrupted while starting\n", e.prog, c.name)
		return nil, exitFailure, false
	}
}

// printLocalConfig writes the local cluster's config.ini to stdout.
func printLocalConfig(e *env, l *cluster.Local) {
	lc := l.Config()
	addr := lc.JobServers[0]
	fmt.Fprintf(e.stdout, `# glimpse-go local cluster: gearmand on %s, worker %s with %d slots,
# a fanout worker and a broker. SIGTERM, Ctrl-C or glimpse-cluster quit
# stops it; glimpse-cluster restart replaces its worker.
# A config.ini for programs that use it:
[client]
job_server_url = %s
command_frontend_url = %s
command_backend_url = %s
log_frontend_url = %s
log_backend_url = %s
`, addr, l.Worker().ID(), l.Worker().Slots(), addr,
		lc.CommandFrontendURL, lc.CommandBackendURL, lc.LogFrontendURL, lc.LogBackendURL)
}

// closeLocal closes the local cluster, unless a second signal comes first,
// and returns the exit status: code, or a failure.
func closeLocal(e *env, c *command, l *cluster.Local, code int) int {
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			return e.failure(c, err)
		}
		return code
	case <-e.signals:
		// The process exits now; the kernel kills gearmand (Pdeathsig).
		fmt.Fprintf(e.stderr, "%s %s: second signal: stopping at once\n", e.prog, c.name)
		return exitFailure
	}
}

// serveLocal runs the local cluster until a signal, ctx or a quit command
// stops it, replacing its worker on each restart command; it returns the
// exit status for after the cluster is closed.
func serveLocal(ctx context.Context, e *env, c *command, l *cluster.Local, log *slog.Logger) int {
	for {
		select {
		case <-e.signals:
			return exitOK
		case <-ctx.Done():
			return exitOK
		case req := <-l.StopRequested():
			if !req.Restart {
				// Close stops the worker before the broker, and the worker
				// flushes its reply on the way out.
				log.Info("command quit: stopping the local cluster", "id", req.Command)
				return exitOK
			}
			if err := l.RestartWorker(ctx); err != nil {
				// The old worker took the restart and would refuse the
				// next command: stop rather than run on unsteerable.
				e.failure(c, err)
				return exitFailure
			}
		}
	}
}
