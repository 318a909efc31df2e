package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
)

var workerCommand = &command{
	name:    "worker",
	aliases: []string{"LaunchWorker"},
	args:    "[-n N] [-f FUNCS]",
	short:   "serve the registered functions to the cluster",
	long: `
Serves the functions registered in this binary to every job server of
[client] job_server_url, running N chunks at once. Job servers that are
down, or go away, are redialled with backoff, so workers may start first.

SIGTERM or SIGINT drains the worker: it finishes the chunks it is running,
takes no more and exits 0, waiting at most [worker] shutdown_timeout
(default 5m). A second signal exits at once, with status 1; the job
servers give the unfinished chunks to other workers.

Logs go to stderr, at [worker] log_level (default info).`,
	run: runWorker,
}

func runWorker(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	n := fs.Int("n", 0, "chunks run at once, `N` (default: [worker] slots, else one per CPU)")
	funcs := fs.String("f", "", "comma-separated registered names of the functions to serve, `FUNCS` (default: [worker] functions, else all)")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	wc := file.Worker
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
	w, err := cluster.NewWorker(file.Client, wc, cluster.WithLogger(log), cluster.WithFunctions(registeredFunctions()...))
	if err != nil {
		var ue *cluster.UnknownFunctionsError
		if errors.As(err, &ue) {
			err = ue // the "cluster: worker:" prefix would only repeat the command's name
		}
		return e.usageError(c, "%v", err)
	}
	return serveWorker(ctx, e, w, log, wc.ShutdownTimeout)
}

// registeredFunctions is what the worker command serves and functions
// lists; a variable so that the tests' worker processes can add functions
// whose jobs they control.
var registeredFunctions = wire.Functions

func newLogger(out io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}

func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// serveWorker runs w until a signal (or ctx) asks it to stop, then drains
// it for at most drainTimeout; a second signal cuts the drain short.
func serveWorker(ctx context.Context, e *env, w *cluster.Worker, log *slog.Logger, drainTimeout time.Duration) int {
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	var why string
	var restart bool
	select {
	case err := <-ran:
		// Only Shutdown and Close end Run, and nothing else calls them.
		log.Error("worker stopped", "err", err)
		return exitFailure
	case s := <-e.signals:
		why = s.String()
	case req := <-w.StopRequested():
		why, restart = "command "+req.Command, req.Restart
		letReplyOut(ctx)
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
			return exitFailure
		}
	case s := <-e.signals:
		log.Warn("second signal: stopping at once; the unfinished chunks go back to the job servers",
			"signal", s.String(), "running", w.Stats().Active)
		w.Close()
		return exitFailure
	}
	st := w.Stats()
	log.Info("worker stopped", "requests", st.Requests, "failures", st.Failures, "busy", st.Busy, "uptime", st.Uptime())
	if restart {
		return reexec(log)
	}
	return exitOK
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
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` for the [worker] section (default: the -c before the command, else $"+config.EnvVar+", else none)")
	n := fs.Int("n", 0, "worker slots, `N` (default: [worker] slots, else one per CPU)")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	file, err := e.loadConfig(*cfgPath, false)
	if err != nil {
		return e.configError(c, err)
	}
	wc := config.DefaultWorker()
	if file != nil {
		wc = file.Worker
	}
	if *n < 0 {
		return e.usageError(c, "-n %d: want 0 (one slot per CPU) or more", *n)
	}
	if flagsSet(fs)["n"] {
		wc.Slots = *n
	}

	// Start in the background so that a signal can interrupt the start.
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
	var l *cluster.Local
	select {
	case r := <-start:
		var ue *cluster.UnknownFunctionsError
		if errors.As(r.err, &ue) {
			return e.configError(c, ue) // [worker] functions of the config file
		}
		if r.err != nil {
			return e.failure(c, r.err)
		}
		l = r.l
	case <-e.signals:
		cancel()
		if r := <-start; r.l != nil {
			r.l.Close()
		}
		fmt.Fprintf(e.stderr, "%s %s: interrupted while starting\n", e.prog, c.name)
		return exitFailure
	}

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

	log := newLogger(e.stderr, wc.LogLevel)
	code := serveLocal(ctx, e, c, l, log)
	log.Info("stopping the local cluster")
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

// quitReplyGrace is how long a worker process waits after taking a quit
// or restart before it stops: the reply on the log channel may wait up to
// replyWait for the asker's subscription, and closing the channel (or,
// for the local command, the broker) sooner drops it; the asker would
// see no answer from a worker that obeyed.
const quitReplyGrace = 2 * wire.ReplyWait

// letReplyOut waits quitReplyGrace, or less if ctx ends.
func letReplyOut(ctx context.Context) {
	t := time.NewTimer(quitReplyGrace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
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
				log.Info("command quit: stopping the local cluster", "id", req.Command)
				letReplyOut(ctx)
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

var functionsCommand = &command{
	name:  "functions",
	short: "list the functions this binary serves",
	long: `
Lists the functions registered in this binary (pool.Register) with the
Gearman function that carries their chunks.`,
	run: func(ctx context.Context, e *env, c *command, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		if code, ok := e.parseFlags(c, fs, args); !ok {
			return code
		}
		fns := registeredFunctions()
		if len(fns) == 0 {
			fmt.Fprintln(e.stderr, "no functions are registered in this binary")
			return exitOK
		}
		t := newTable(e.stdout, "NAME", "GEARMAN FUNCTION")
		for _, f := range fns {
			t.row(f.Name(), f.GearmanName())
		}
		t.flush()
		return exitOK
	},
}
