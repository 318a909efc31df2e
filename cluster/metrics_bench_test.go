package cluster

import (
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/metrics/histogram"
	"github.com/prometheus/client_golang/prometheus"
)

// chunkResult is the result of a chunk of n int64 items, as a worker
// sends it.
func chunkResult(b *testing.B, n int) []byte {
	data, err := wire.Encode(wire.ChunkResult[int64]{Items: make([]int64, n)})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkCountChunk is what a worker's metrics cost per chunk: the
// counters, both histograms (a chunk's items observed at once), bytes.
// Compare with a trivial map's chunk of the automatic 25,000 items, about
// 1.3ms of CPU (poolbench: ~53ns of CPU per item on 2 cores).
func BenchmarkCountChunk(b *testing.B) {
	f, _ := wire.Lookup(funcs.Square.Name())
	m := newWorkerMetrics([]wire.Function{f})
	result := chunkResult(b, 25000)
	payload := make([]byte, 25000)
	b.ReportAllocs()
	for b.Loop() {
		m.chunkEnded(f.Name(), payload, result, time.Millisecond, nil)
	}
}

// BenchmarkItemHistogram compares observing a chunk's 25,000 item times
// one by one (client_golang's HistogramVec, as a per-item hook would)
// with one ObserveN at their mean, per chunk.
func BenchmarkItemHistogram(b *testing.B) {
	const items = 25000
	b.Run("per-item HistogramVec", func(b *testing.B) {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "x", Buckets: histogram.DurationBuckets}, []string{"function"})
		for b.Loop() {
			o := h.WithLabelValues("examples.square")
			for range items {
				o.Observe(50e-9)
			}
		}
	})
	b.Run("per-chunk ObserveN", func(b *testing.B) {
		h := histogram.New(histogram.DurationBuckets)
		for b.Loop() {
			h.ObserveN(50e-9, items)
		}
	})
}
