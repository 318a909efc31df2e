package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/gearman"
)

// NewLocalCollector returns one collector for a whole local cluster: its
// worker (the current one: a restarted worker counts from zero), pool,
// broker, fanout worker, and gearmand's queues (JobServers, asked afresh
// at each scrape). It describes nothing up front (an unchecked
// collector), since a restart replaces the worker behind it.
func NewLocalCollector(l *cluster.Local) prometheus.Collector {
	l.Worker().Metrics() // count from now, not from the first scrape
	return localCollector{l}
}

type localCollector struct{ l *cluster.Local }

func (c localCollector) Describe(chan<- *prometheus.Desc) {}

func (c localCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.l
	collectWorker(ch, l.Worker().Metrics())
	cs := []prometheus.Collector{NewPoolCollector(l.Pool())}
	if b := l.Broker(); b != nil {
		cs = append(cs, NewBrokerCollector(b))
	}
	if f := l.Fanout(); f != nil {
		cs = append(cs, NewFanoutCollector(f))
	}
	cfg := l.Config()
	var opts []gearman.AdminOption
	if tlsConf, err := cfg.TLSConfig(); err == nil && tlsConf != nil {
		opts = append(opts, gearman.WithTLS(tlsConf))
	}
	js := NewJobServers(cfg.JobServers, opts...)
	defer js.Close()
	for _, col := range append(cs, js) {
		col.Collect(ch)
	}
}
