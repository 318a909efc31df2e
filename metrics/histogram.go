package metrics

import (
	"math"
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// DurationBuckets are the upper bounds, in seconds, of glimpse's duration
// histograms: from 10µs (a trivial item) to 5 minutes (a long chunk).
var DurationBuckets = []float64{1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300}

// Histogram is a cumulative histogram that observes n equal values in one
// call (ObserveN): a worker observes each item of a chunk at the chunk's
// mean item time, a few atomic adds per chunk rather than per item, and
// the histogram's count still counts items. It is safe for concurrent use
// and takes no lock; a collector exports it with Metric.
type Histogram struct {
	upper   []float64
	counts  []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumBits atomic.Uint64   // float64 bits of the sum
}

// NewHistogram returns a histogram with the given bucket upper bounds,
// which must be sorted and finite (DurationBuckets, say).
func NewHistogram(upper []float64) *Histogram {
	return &Histogram{upper: slices.Clone(upper), counts: make([]atomic.Uint64, len(upper)+1)}
}

// Observe records one value.
func (h *Histogram) Observe(v float64) { h.ObserveN(v, 1) }

// ObserveN records n values equal to v.
func (h *Histogram) ObserveN(v float64, n uint64) {
	if n == 0 {
		return
	}
	i, _ := slices.BinarySearch(h.upper, v) // the first bound >= v: Prometheus' buckets are "le"
	h.counts[i].Add(n)
	add := v * float64(n)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+add)) {
			return
		}
	}
}

// Metric returns the histogram as a constant Prometheus metric of desc
// with the given label values. Its count is the sum of its buckets, so a
// scrape that races an observation still sees a consistent histogram.
func (h *Histogram) Metric(desc *prometheus.Desc, labels ...string) (prometheus.Metric, error) {
	buckets := make(map[float64]uint64, len(h.upper))
	var count uint64
	for i, le := range h.upper {
		count += h.counts[i].Load()
		buckets[le] = count
	}
	count += h.counts[len(h.upper)].Load()
	sum := math.Float64frombits(h.sumBits.Load())
	return prometheus.NewConstHistogram(desc, count, sum, buckets, labels...)
}
