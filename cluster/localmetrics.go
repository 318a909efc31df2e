package cluster

import (
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns one collector for the whole local cluster: its worker
// (the current one: a restarted worker counts from zero), broker, fanout
// worker, pool, and gearmand's queues (metrics.JobServers, asked afresh at
// each scrape). It describes nothing up front (an unchecked collector),
// since a restart replaces the worker behind it.
func (l *Local) Collector() prometheus.Collector {
	l.Worker().Collector() // start counting now, not at the first scrape
	return localCollector{l}
}

type localCollector struct{ l *Local }

func (c localCollector) Describe(chan<- *prometheus.Desc) {}

func (c localCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.l
	cs := []prometheus.Collector{l.Worker().Collector(), l.pool.Collector()}
	if l.broker != nil {
		cs = append(cs, l.broker.Collector())
	}
	if l.fan != nil {
		cs = append(cs, l.fan.Collector())
	}
	var opts []gearman.AdminOption
	if tlsConf, err := l.cfg.TLSConfig(); err == nil && tlsConf != nil {
		opts = append(opts, gearman.WithTLS(tlsConf))
	}
	js := metrics.NewJobServers(l.cfg.JobServers, opts...)
	defer js.Close()
	for _, col := range append(cs, js) {
		col.Collect(ch)
	}
}
