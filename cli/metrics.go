package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// metricsStopTimeout bounds the metrics server's stop: a scrape under way
// gets this long to finish.
const metricsStopTimeout = 2 * time.Second

// metricsFlag adds -metrics to a long-running command's flags.
func metricsFlag(fs *flag.FlagSet, section string) *string {
	return fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics: [HOST]:PORT or PORT, "+
		"loopback unless HOST is given (default: ["+section+"] metrics, else off)")
}

// metricsAddr is where to serve metrics: the -metrics flag if given, else
// the config key; "" for off. fromFlag says which.
func metricsAddr(flagAddr, keyAddr string) (addr string, fromFlag bool) {
	if flagAddr != "" {
		return flagAddr, true
	}
	return keyAddr, false
}

// startMetrics serves the collectors (with the Go and process ones) at
// addr; nil, and no error, when addr is "". An address that cannot be
// served is an error naming the -metrics flag, or the config key it came
// from.
func startMetrics(addr string, fromFlag bool, file *config.File, section string, log *slog.Logger, cs ...prometheus.Collector) (*metrics.Server, error) {
	return startMetricsWith(addr, fromFlag, file, section, log, nil, cs...)
}

// startMetricsWith is startMetrics with what opts add to the endpoint
// (the worker's -pprof).
func startMetricsWith(addr string, fromFlag bool, file *config.File, section string, log *slog.Logger,
	opts []metrics.ListenOption, cs ...prometheus.Collector) (*metrics.Server, error) {
	if addr == "" {
		return nil, nil
	}
	s, err := metrics.Listen(addr, metrics.NewRegistry(cs...), opts...)
	if err != nil {
		if fromFlag || file == nil {
			return nil, fmt.Errorf("-metrics %q: %w", addr, err)
		}
		return nil, &config.Error{File: file.Path, Section: section, Key: "metrics", Err: err}
	}
	log.Info("serving metrics", "url", s.URL())
	return s, nil
}

// stopMetrics stops a metrics server (nil: none) within metricsStopTimeout.
func stopMetrics(s *metrics.Server, log *slog.Logger) {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), metricsStopTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Warn("metrics server stopped with an error", "err", err)
	}
}

// checkMetricsFlag refuses a -metrics value that is no address, before
// anything starts; ok is false, with the exit status, if it is wrong.
func checkMetricsFlag(e *env, c *command, addr string) (code int, ok bool) {
	if addr == "" {
		return exitOK, true
	}
	if err := config.CheckMetricsAddr(addr); err != nil {
		return e.usageError(c, "-metrics: %v", err), false
	}
	return exitOK, true
}

// metricsChoice is where a command serves metrics: addr ("" for off), from
// the -metrics flag or from file's key.
type metricsChoice struct {
	addr     string
	fromFlag bool
	file     *config.File
}
