package fanout

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// copyCounters count what became of the copies of every fanout.
type copyCounters struct {
	sent, failed, timedOut atomic.Uint64
}

// count adds one fanout's copies: failed counts every copy that was not
// delivered, timedOut those of them that ran out of time.
func (c *copyCounters) count(res copyResult) {
	c.sent.Add(uint64(res.delivered))
	c.failed.Add(uint64(len(res.errs)))
	c.timedOut.Add(uint64(res.timedOut))
}

var (
	descSubscribers = prometheus.NewDesc("glimpse_fanout_subscribers",
		"Subscribers of the topic, as the fanout worker's cached list has them.", []string{"topic"}, nil)
	descCopiesSent = prometheus.NewDesc("glimpse_fanout_copies_sent_total",
		"Copies delivered: foreground copies a subscriber completed, background copies a job server accepted.", nil, nil)
	descCopiesFailed = prometheus.NewDesc("glimpse_fanout_copies_failed_total",
		"Copies not delivered (timed-out ones included).", nil, nil)
	descCopiesTimedOut = prometheus.NewDesc("glimpse_fanout_copies_timed_out_total",
		"Foreground copies cancelled at the copy timeout.", nil, nil)
)

// Collector returns the fanout worker's Prometheus collector: subscribers
// per topic, and the copies sent, failed and timed out.
func (w *Worker) Collector() prometheus.Collector { return fanoutCollector{w} }

type fanoutCollector struct{ w *Worker }

func (c fanoutCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSubscribers, descCopiesSent, descCopiesFailed, descCopiesTimedOut} {
		ch <- d
	}
}

func (c fanoutCollector) Collect(ch chan<- prometheus.Metric) {
	for topic, n := range c.w.cache.counts() {
		ch <- prometheus.MustNewConstMetric(descSubscribers, prometheus.GaugeValue, float64(n), topic)
	}
	cc := &c.w.copies
	ch <- prometheus.MustNewConstMetric(descCopiesSent, prometheus.CounterValue, float64(cc.sent.Load()))
	ch <- prometheus.MustNewConstMetric(descCopiesFailed, prometheus.CounterValue, float64(cc.failed.Load()))
	ch <- prometheus.MustNewConstMetric(descCopiesTimedOut, prometheus.CounterValue, float64(cc.timedOut.Load()))
}
