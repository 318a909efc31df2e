package broker

import "github.com/prometheus/client_golang/prometheus"

var (
	labelsChannel = []string{"channel", "direction"}

	descMessages = prometheus.NewDesc("glimpse_broker_messages_total",
		"Messages the broker received to forward, by channel (command, log) and direction (down: publishers to subscribers; up: subscriptions).",
		labelsChannel, nil)
	descBytes = prometheus.NewDesc("glimpse_broker_bytes_total",
		"Bytes of the messages the broker received to forward, all parts included, by channel and direction.",
		labelsChannel, nil)
	descRefused = prometheus.NewDesc("glimpse_broker_refused_handshakes_total",
		"Peers refused because they are not CURVE clients of the cluster key.", nil, nil)
	descHWM = prometheus.NewDesc("glimpse_broker_high_water_mark_messages",
		"Messages each socket queues per peer before it drops (0: no limit). libzmq counts no drops: "+
			"an XPUB drops silently per subscriber at this mark, so a subscriber's gap shows on its side.",
		nil, nil)
)

// Collector returns the broker's Prometheus collector: its Stats (messages
// and bytes per channel and direction, refused handshakes) and its
// high-water mark. libzmq does not tell how many messages an XPUB dropped
// at the high-water mark (its proxy counts a message once, however many
// subscribers got it), so no drop count is exported. Each scrape asks the
// proxies for their counts, as Stats does.
func (b *Broker) Collector() prometheus.Collector { return brokerCollector{b} }

type brokerCollector struct{ b *Broker }

func (c brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descBytes, descRefused, descHWM} {
		ch <- d
	}
}

func (c brokerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.b.Stats()
	for _, cs := range []struct {
		name  string
		stats ChannelStats
	}{{"command", s.Command}, {"log", s.Log}} {
		for _, t := range []struct {
			dir string
			t   Traffic
		}{{"down", cs.stats.Down}, {"up", cs.stats.Up}} {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(t.t.Messages), cs.name, t.dir)
			ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(t.t.Bytes), cs.name, t.dir)
		}
	}
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedHandshakes))
	ch <- prometheus.MustNewConstMetric(descHWM, prometheus.GaugeValue, float64(c.b.hwm))
}
