package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/dashboard"
	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
)

var httpCommand = &command{
	name:  "http",
	args:  "[-listen ADDR] [-metrics ADDR]",
	short: "serve the HTTP gateway: functions as JSON, Miyamoto's /queue, tasks, the dashboard",
	long: `
Serves the cluster over HTTP on ADDR ([http] listen, default ` + config.DefaultHTTPListen + `,
loopback only) and prints its URL, until SIGTERM or SIGINT; then it takes
no new request and lets those in flight finish ([http] shutdown_timeout).

Routes (the OpenAPI document is at /openapi.json):
  GET  /v1/functions                  the exposed functions, their In/Out shapes
  POST /v1/functions/NAME/map         a JSON array of items -> the results in order
                                      (NDJSON in, or Accept: application/x-ndjson: streamed)
  POST /v1/functions/NAME/call        one JSON item -> its result
  POST /v1/functions/NAME/tasks       enqueue a task of the function
  POST /queue, /queue/NAME            Miyamoto's enqueue of a webhook call (form or JSON)
  GET  /tasks/ID, DELETE /tasks/ID    a task; cancel it
  GET  /queues                        per queue: scheduled, queued, running, rate
  GET  /metrics                       Prometheus: requests by route and code, tasks
                                      enqueued, the job servers' queues
  GET  /healthz, /readyz              health (no token asked)
  GET  /                              the dashboard (see the dashboard command)
The functions served are those this binary exposes (gateway.Expose; the
examples' and the built-in webhook function in glimpse-cluster). The task
routes use the [tasks] store (the workers' one); they answer 503 when it
cannot be opened.

With [http] token or token_file set, every request but /healthz and
/readyz must carry "Authorization: Bearer TOKEN". [http] max_body,
max_concurrent, read_timeout and write_timeout bound requests.`,
	run: runHTTP,
}

func runHTTP(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	listen := fs.String("listen", "", "serve on `ADDR` (host:port; port 0 picks a free one; default [http] listen)")
	metricsAt := fs.String("metrics", "", "also serve the gateway's /metrics at http://`ADDR`/metrics, as the other "+
		"processes do: [HOST]:PORT or PORT, loopback unless HOST is given (default: off)")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	if code, ok := checkMetricsFlag(e, c, *metricsAt); !ok {
		return code
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	if *listen == "" {
		*listen = file.HTTP.Listen
	} else if _, _, err := net.SplitHostPort(*listen); err != nil {
		return e.usageError(c, "-listen %q: want HOST:PORT", *listen)
	}
	p, err := pool.New(file.Client)
	if err != nil {
		return e.failure(c, err)
	}
	defer p.Close()
	log := newLogger(e.stderr, file.Worker.LogLevel)
	tc, closeTasks := openGatewayTasks(ctx, file, log)
	defer closeTasks()
	gw, err := startGateway(file.Client, file.HTTP, *listen, p, gatewayTasks{tc, file.Queues}, log)
	if err != nil {
		return e.failure(c, err)
	}
	ms, err := startMetrics(*metricsAt, true, file, "http", log, gw.collectors...)
	if err != nil {
		gw.stop()
		return e.failure(c, err)
	}
	defer stopMetrics(ms, log)
	ctx, cancel := e.watchSignals(ctx)
	defer cancel()
	fmt.Fprintf(e.stdout, "http: %s\n", gw.url)
	<-ctx.Done()
	log.Info("stopping the gateway: finishing the requests in flight")
	if err := gw.stop(); err != nil {
		return e.failure(c, err)
	}
	return exitOK
}

// servedGateway is a gateway serving in the background, with the
// dashboard it serves at /.
type servedGateway struct {
	url   string
	watch *dashboard.Cluster
	js    *metrics.JobServers
	// collectors are what its /metrics serves, for a -metrics address.
	collectors []prometheus.Collector
	cancel     context.CancelFunc
	served     chan error
}

// openGatewayTasks opens the cluster's task store for the gateway's task
// routes; without one (it cannot be opened) they answer 503, as logged.
func openGatewayTasks(ctx context.Context, file *config.File, log *slog.Logger) (*tasks.Client, func()) {
	c, err := tasks.Open(ctx, file.Client, file.Tasks, file.Fanout, tasks.WithLogger(log))
	if err != nil {
		log.Warn("no task store: the task routes answer 503", "err", err)
		return nil, func() {}
	}
	return c, func() { c.Close() }
}

// gatewayTasks is the task service a gateway serves: its task routes and
// the dashboard's counts by state. A nil client: none.
type gatewayTasks struct {
	client *tasks.Client
	queues map[string]config.Queue // for the rates GET /queues shows
}

// startGateway serves the gateway of the cluster of client on listen,
// with the dashboard at /, the task routes on ts (none: 503) and its
// metrics, with the job servers', at /metrics.
func startGateway(client config.Client, h config.HTTP, listen string, p *pool.Pool, ts gatewayTasks, log *slog.Logger) (*servedGateway, error) {
	opts, err := gateway.OptionsFrom(h)
	if err != nil {
		return nil, err
	}
	ln, err := gateway.Listen(listen)
	if err != nil {
		return nil, err
	}
	watch, err := dashboard.Watch(client, dashboard.WatchOptions{Log: log, Pool: p})
	if err != nil {
		ln.Close()
		return nil, err
	}
	var dashOpts []dashboard.Option
	if ts.client != nil {
		opts.Tasks = gateway.TaskService(ts.client, ts.queues)
		dashOpts = append(dashOpts, dashboard.WithTasks(ts.client))
	}
	opts.Pool, opts.Dashboard, opts.Log = p, dashboard.New(watch, dashOpts...), log
	js, collectors := gatewayMetrics(client, &opts)
	ctx, cancel := context.WithCancel(context.Background())
	g := &servedGateway{url: gateway.URL(ln), watch: watch, js: js, collectors: collectors, cancel: cancel, served: make(chan error, 1)}
	go func() { g.served <- gateway.New(opts).Serve(ctx, ln, gateway.TimeoutsFrom(h)) }()
	return g, nil
}

// stop shuts the gateway down (within its shutdown timeout) and stops
// watching the cluster.
func (g *servedGateway) stop() error {
	if g == nil {
		return nil
	}
	g.cancel()
	err := <-g.served
	g.watch.Close()
	g.js.Close()
	return err
}

// gatewayMetrics sets opts' Stats and the /metrics handler: the
// gateway's counters and the job servers' queues, asked at each scrape
// over the connections of the returned collector.
func gatewayMetrics(client config.Client, opts *gateway.Options) (*metrics.JobServers, []prometheus.Collector) {
	var adminOpts []gearman.AdminOption
	if tlsConf, err := client.TLSConfig(); err == nil && tlsConf != nil {
		adminOpts = append(adminOpts, gearman.WithTLS(tlsConf))
	}
	js := metrics.NewJobServers(client.JobServers, adminOpts...)
	opts.Stats = gateway.NewStats()
	collectors := []prometheus.Collector{metrics.NewGatewayCollector(opts.Stats), js}
	opts.Metrics = metrics.Handler(metrics.NewRegistry(collectors...))
	return js, collectors
}
