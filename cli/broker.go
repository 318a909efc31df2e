package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/metrics"
)

// brokerStopTimeout bounds the broker's shutdown; it takes milliseconds.
const brokerStopTimeout = time.Second

var brokerCommand = &command{
	name:    "broker",
	aliases: []string{"LaunchBroker"},
	short:   "forward the command and log channels (ZeroMQ)",
	long: `
Binds the four URLs of the config file's [server] section and forwards
two channels between them:

  command  clients publish to command_frontend_url, workers subscribe
           at command_backend_url
  log      workers publish log records, heartbeats and replies to
           log_frontend_url, clients subscribe at log_backend_url

Subscriptions travel the other way, so publishers send only what
someone wants. A subscriber too slow to keep up loses messages beyond
100,000 queued, without slowing the others down.

SIGTERM or SIGINT stops the broker at once (messages still queued are
dropped) and prints, per channel, the messages and bytes it forwarded:
"commands" and "logs" from publishers to subscribers, "subscriptions"
(subscribe and unsubscribe messages) from subscribers to publishers.

Logs go to stderr, at [worker] log_level (default info).`,
	run: runBroker,
}

func runBroker(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	metricsFlagAddr := metricsFlag(fs, "server")
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
	if file.Client.Direct() {
		return e.configError(c, &config.Error{File: file.Path, Section: "client", Key: "command_frontend_url", Err: errors.New(
			"equals command_backend_url, and log_frontend_url equals log_backend_url: this cluster has no broker " +
				"(the client binds these URLs and the workers connect to it), so there is nothing to forward")})
	}
	if !file.HasServer() {
		return e.configError(c, &config.Error{File: file.Path, Section: "server", Err: errors.New(
			"missing: the broker binds the URLs of [server]: command_frontend_url, command_backend_url, " +
				"log_frontend_url and log_backend_url (for example tcp://*:9000 to tcp://*:9003)")})
	}
	log := newLogger(e.stderr, file.Worker.LogLevel)
	key, err := auth.LoadKeyFile(file.Client.KeyFile)
	if err != nil {
		return e.configError(c, err)
	}
	auth.WarnIfNoKey(log, key, "broker")
	b, err := broker.New(file.Server, broker.WithLogger(log), broker.WithKey(key), broker.WithMaxMessageSize(maxMessageSize(file.Client)))
	if err != nil {
		return e.failure(c, err)
	}
	addr, fromFlag := metricsAddr(*metricsFlagAddr, file.Server.Metrics)
	ms, err := startMetrics(addr, fromFlag, file, "server", log, metrics.NewBrokerCollector(b))
	if err != nil {
		b.Close()
		return e.failure(c, err)
	}
	defer stopMetrics(ms, log)
	served := make(chan error, 1)
	go func() { served <- b.Serve() }() // logs the bound endpoints

	var why string
	select {
	case err := <-served:
		// Only a failure ends Serve before Shutdown; it has closed the broker.
		printBrokerStats(e.stdout, b.Stats())
		return e.failure(c, err)
	case s := <-e.signals:
		why = s.String()
	case <-ctx.Done():
		why = context.Cause(ctx).Error()
	}
	log.Info("shutting down", "cause", why)
	sctx, cancel := context.WithTimeout(context.Background(), brokerStopTimeout)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		return e.failure(c, fmt.Errorf("stop the broker: %w", err))
	}
	code := exitOK
	if err := <-served; !errors.Is(err, broker.ErrClosed) {
		log.Error("broker failed while stopping", "err", err)
		code = exitFailure
	}
	printBrokerStats(e.stdout, b.Stats())
	return code
}

// maxMessageSize is the broker's limit for [client] zmq_max_message_size,
// whose 0 means the default.
func maxMessageSize(c config.Client) int64 {
	if c.ZMQMaxMessageSize == 0 {
		return broker.DefaultMaxMessageSize
	}
	return c.ZMQMaxMessageSize
}

func printBrokerStats(w io.Writer, st broker.Stats) {
	t := newTable(w, "CHANNEL", "FLOW", "MESSAGES", "BYTES")
	row := func(channel, flow string, tr broker.Traffic) {
		t.row(channel, flow, strconv.FormatUint(tr.Messages, 10), strconv.FormatUint(tr.Bytes, 10))
	}
	row("command", "commands", st.Command.Down)
	row("command", "subscriptions", st.Command.Up)
	row("log", "logs", st.Log.Down)
	row("log", "subscriptions", st.Log.Up)
	t.flush() // nothing to do about a stdout that fails
}
