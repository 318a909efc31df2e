package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/dashboard"
	"github.com/glimpse-go/glimpse/pool"
)

// defaultDashboardAddr is where the dashboard command listens by default.
const defaultDashboardAddr = "127.0.0.1:8470"

var dashboardCommand = &command{
	name:  "dashboard",
	args:  "[-listen ADDR]",
	short: "serve the live web dashboard (workers, queues, maps, throughput, logs)",
	long: `
Serves the cluster's live web dashboard on ADDR (default ` + defaultDashboardAddr + `,
loopback only; the page has no login, so give an address of this host
only on a trusted network) and prints its URL, until SIGTERM or SIGINT.

The page shows the workers (host, pid, slots, busy, NREQS, mean ETIME,
failures, memory, uptime, last heartbeat; a worker whose heartbeat is
overdue is marked stale), the functions and queues of every job server,
the maps running now with their progress, the throughput of the last
five minutes, tasks by state, and the workers' live log stream with a
level filter. It reads the job servers' admin ports and the broker's log
channel (with no broker it binds the log channel, as logs does).

The HTTP gateway (glimpse-cluster http) serves the same dashboard at its
"/", next to its JSON API, and so does glimpse-cluster local; this
command serves the dashboard alone.`,
	run: runDashboard,
}

func runDashboard(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	listen := fs.String("listen", defaultDashboardAddr, "serve on `ADDR` (host:port; port 0 picks a free one)")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	ln, err := dashboard.Listen(*listen)
	if err != nil {
		return e.usageError(c, "-listen: %v", err)
	}
	defer ln.Close()
	p, err := pool.New(file.Client)
	if err != nil {
		return e.failure(c, err)
	}
	defer p.Close()
	watch, err := dashboard.Watch(file.Client, dashboard.WatchOptions{Log: newLogger(e.stderr, file.Worker.LogLevel), Pool: p})
	if err != nil {
		return e.failure(c, err)
	}
	defer watch.Close()
	ctx, cancel := e.watchSignals(ctx)
	defer cancel()
	var opts []dashboard.Option
	if tc, closeTasks, err := openTasksClient(ctx, file); err == nil {
		defer closeTasks()
		opts = append(opts, dashboard.WithTasks(tc))
	} else if !errors.Is(err, errNoTaskStore) && !errors.Is(err, config.ErrNoStateDir) {
		return e.failure(c, err)
	}
	fmt.Fprintf(e.stdout, "dashboard: %s\n", dashboard.URL(ln))
	if err := dashboard.Serve(ctx, ln, dashboard.New(watch, opts...)); err != nil {
		return e.failure(c, err)
	}
	return exitOK
}
