// Package histogram is a lock-free cumulative histogram that observes n
// equal values in one call, with no dependency: the components that keep
// one (a worker's chunk and item durations) do not link the Prometheus
// client, which costs a process about 6 MB of memory at start; package
// metrics exports their snapshots.
package histogram

import (
	"math"
	"slices"
	"sync/atomic"
)

// DurationBuckets are the upper bounds, in seconds, of glimpse's duration
// histograms: from 10µs (a trivial item) to 5 minutes (a long chunk).
var DurationBuckets = []float64{1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300}

// Histogram observes n equal values in one call (ObserveN): a worker
// observes each item of a chunk at the chunk's mean item time, a few
// atomic adds per chunk rather than per item, and the histogram's count
// still counts items. It is safe for concurrent use and takes no lock.
type Histogram struct {
	upper   []float64
	counts  []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumBits atomic.Uint64   // float64 bits of the sum
}

// New returns a histogram with the given bucket upper bounds, which must
// be sorted and finite (DurationBuckets, say).
func New(upper []float64) *Histogram {
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

// Snapshot is a histogram's state: Cumulative[i] values were at most
// Bounds[i]; Count is all of them (the +Inf bucket).
type Snapshot struct {
	Bounds     []float64
	Cumulative []uint64
	Count      uint64
	Sum        float64
}

// Snapshot returns the histogram's state. Its count is the sum of its
// buckets, so a snapshot that races an observation is still consistent.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Bounds: h.upper, Cumulative: make([]uint64, len(h.upper))}
	for i := range h.upper {
		s.Count += h.counts[i].Load()
		s.Cumulative[i] = s.Count
	}
	s.Count += h.counts[len(h.upper)].Load()
	s.Sum = math.Float64frombits(h.sumBits.Load())
	return s
}
