package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/tasks/periodic"
)

var localCommand = &command{
	name:  "local",
	args:  "[-n N] [-tls] [-key] [-http ADDR]",
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

With -tls, gearmand listens on 127.0.0.1 behind a TLS proxy holding a
certificate from a throwaway CA made for this run; the printed config
connects to the proxy (tls = true) and trusts that CA only (tls_ca_file,
removed when the cluster stops).

With -key, the cluster runs with a fresh cluster key (see keygen and
SECURITY.md), written mode 0600 in a temporary directory and removed
when the cluster stops; the printed config names it (key_file), so save
it with chmod 600 (umask 077): a config naming a key that others may read
is refused. A key_file in the config file given is used instead.

It also serves the HTTP gateway (see the http command), with the web
dashboard at its /, on a free loopback port, and prints its URL as a
comment at the end of the config; -http ADDR picks the address, -http ""
serves none (-dashboard ADDR is an alias of -http).

A config file, if given, is read for its [worker] section, its [queue NAME]
and [periodic NAME] sections, which the worker applies, and the gateway's
[http] keys (token, limits, timeouts; not listen) only.`,
	run: runLocal,
}

func runLocal(ctx context.Context, e *env, c *command, args []string) int {
	lc, lf, code, ok := parseLocalFlags(e, c, args)
	if !ok {
		return code
	}
	l, code, ok := startLocal(ctx, e, c, lc)
	if !ok {
		return code
	}
	log := newLogger(e.stderr, lc.Worker.LogLevel)
	ms, err := startMetrics(lf.metrics.addr, lf.metrics.fromFlag, lf.metrics.file, "worker", log, metrics.NewLocalCollector(l),
		metrics.NewTasksCollector(l.Worker().TaskLimiter()))
	if err != nil {
		l.Close()
		return e.failure(c, err)
	}
	defer stopMetrics(ms, log)
	gw, err := startLocalGateway(l, lf.http, lc.Queues, log)
	if err != nil {
		e.failure(c, err)
		return closeLocal(e, c, l, exitFailure)
	}
	printLocalConfig(e, l)
	if gw != nil {
		fmt.Fprintf(e.stdout, "# http: %s\n# dashboard: %s\n", gw.url, gw.url)
	}
	code = serveLocal(ctx, e, c, l, log)
	log.Info("stopping the local cluster")
	if err := gw.stop(); err != nil {
		log.Error("gateway stopped", "err", err)
	}
	return closeLocal(e, c, l, code)
}

// parseLocalFlags reads local's flags and config file into the local
// cluster's worker config and TLS choice, and where to serve metrics and
// the gateway; ok is false, with the exit
// status in code, when they are wrong.
func parseLocalFlags(e *env, c *command, args []string) (lc cluster.LocalConfig, lf localFlags, code int, ok bool) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` for the [worker] section (default: the -c before the command, else $"+config.EnvVar+", else none)")
	n := fs.Int("n", 0, "worker slots, `N` (default: [worker] slots, else one per CPU)")
	fs.BoolVar(&lc.TLS, "tls", false, "serve gearmand over TLS, through a proxy with a throwaway CA")
	fs.BoolVar(&lc.GenerateKey, "key", false, "run with a fresh cluster key (signed commands and chunks, CURVE)")
	var listen string
	fs.StringVar(&listen, "http", "127.0.0.1:0", "serve the HTTP gateway and the dashboard on `ADDR` (\"\": none)")
	fs.StringVar(&listen, "dashboard", "127.0.0.1:0", "the same as -http (the dashboard is the gateway's /)")
	metricsFlagAddr := metricsFlag(fs, "worker")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return lc, lf, code, false
	}
	if code, ok := checkMetricsFlag(e, c, *metricsFlagAddr); !ok {
		return lc, lf, code, false
	}
	file, err := e.loadConfig(*cfgPath, false)
	if err != nil {
		return lc, lf, e.configError(c, err), false
	}
	lc.Worker, lf.http = config.DefaultWorker(), config.DefaultHTTP()
	if file != nil {
		lc.Worker, lf.http = file.Worker, file.HTTP
		lc.KeyFile = file.Client.KeyFile
		lc.Queues, lc.Periodic = file.Queues, periodic.FromConfig(file.Periodic)
	}
	if *n < 0 {
		return lc, lf, e.usageError(c, "-n %d: want 0 (one slot per CPU) or more", *n), false
	}
	if listen != "" {
		if _, _, err := net.SplitHostPort(listen); err != nil {
			flagName := "http"
			if flagsSet(fs)["dashboard"] {
				flagName = "dashboard"
			}
			return lc, lf, e.usageError(c, "-%s %q: want HOST:PORT", flagName, listen), false
		}
	}
	lf.http.Listen = listen
	if flagsSet(fs)["n"] {
		lc.Worker.Slots = *n
	}
	lf.metrics.addr, lf.metrics.fromFlag = metricsAddr(*metricsFlagAddr, lc.Worker.Metrics)
	lf.metrics.file = file
	return lc, lf, exitOK, true
}

// localFlags are local's choices besides the cluster's own config.
type localFlags struct {
	metrics metricsChoice
	http    config.HTTP // the gateway's, its Listen from -http ("": none)
}

// startLocal starts the local cluster in the background so that a signal
// can interrupt the start; ok is false, with the exit status in code, when
// it failed or was interrupted.
func startLocal(ctx context.Context, e *env, c *command, lc cluster.LocalConfig) (l *cluster.Local, code int, ok bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type started struct {
		l   *cluster.Local
		err error
	}
	start := make(chan started, 1)
	go func() {
		lc.Log, lc.ObeyStops = e.stderr, true
		l, err := cluster.StartLocalWith(sctx, lc)
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
	where := "gearmand on " + addr
	if lc.TLS {
		where = "gearmand behind a TLS proxy on " + addr
	}
	fmt.Fprintf(e.stdout, `# glimpse-go local cluster: %s, worker %s with %d slots,
# a fanout worker and a broker. SIGTERM, Ctrl-C or glimpse-cluster quit
# stops it; glimpse-cluster restart replaces its worker.
# A config.ini for programs that use it:
[client]
job_server_url = %s
command_frontend_url = %s
command_backend_url = %s
log_frontend_url = %s
log_backend_url = %s
`, where, l.Worker().ID(), l.Worker().Slots(), addr,
		lc.CommandFrontendURL, lc.CommandBackendURL, lc.LogFrontendURL, lc.LogBackendURL)
	if lc.TLS {
		// The file name is quoted: a temp dir may hold ';' or '#'.
		fmt.Fprintf(e.stdout, "tls = true\ntls_ca_file = %q\n", lc.TLSCAFile)
	}
	if lc.KeyFile != "" {
		fmt.Fprintf(e.stdout, "key_file = %q\n", lc.KeyFile)
	}
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

// startLocalGateway serves the HTTP gateway of the local cluster, with
// the dashboard at /; nil, and no error, when h.Listen is "".
func startLocalGateway(l *cluster.Local, h config.HTTP, queues map[string]config.Queue, log *slog.Logger) (*servedGateway, error) {
	if h.Listen == "" {
		return nil, nil
	}
	return startGateway(l.Config(), h, h.Listen, l.Pool(), gatewayTasks{l.Tasks(), queues}, log)
}
