package metrics

import (
	"github.com/glimpse-go/glimpse/metrics/histogram"
	"github.com/prometheus/client_golang/prometheus"
)

// HistogramMetric returns a histogram snapshot as a constant Prometheus
// metric of desc with the given label values.
func HistogramMetric(desc *prometheus.Desc, s histogram.Snapshot, labels ...string) (prometheus.Metric, error) {
	buckets := make(map[float64]uint64, len(s.Bounds))
	for i, le := range s.Bounds {
		buckets[le] = s.Cumulative[i]
	}
	return prometheus.NewConstHistogram(desc, s.Count, s.Sum, buckets, labels...)
}
