package cluster

import (
	"cmp"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/metrics/histogram"
	"github.com/glimpse-go/glimpse/pool"
)

// workerMetrics are the counters a worker keeps once its Metrics were
// asked for: until then a chunk's end costs one atomic load more and
// nothing else. Each is an atomic add per chunk, never per item: a
// chunk's items are observed in one Histogram.ObserveN at their mean.
type workerMetrics struct {
	funcs             map[string]*funcMetrics // fixed at creation: read without a lock
	bytesIn, bytesOut atomic.Uint64
}

// funcMetrics are one function's counters.
type funcMetrics struct {
	chunks, chunksFailed atomic.Uint64
	items, itemsFailed   atomic.Uint64
	panics, timeouts     atomic.Uint64
	chunkTime, itemTime  *histogram.Histogram
}

func newWorkerMetrics(funcs []wire.Function) *workerMetrics {
	m := &workerMetrics{funcs: make(map[string]*funcMetrics, len(funcs))}
	for _, f := range funcs {
		m.funcs[f.Name()] = &funcMetrics{
			chunkTime: histogram.New(histogram.DurationBuckets),
			itemTime:  histogram.New(histogram.DurationBuckets),
		}
	}
	return m
}

// chunkEnded counts a chunk of function name that ran for took: its
// payload and result sizes, its items (from the result, or up to the
// failing item), and how it failed.
func (m *workerMetrics) chunkEnded(name string, payload, result []byte, took time.Duration, err error) {
	fm := m.funcs[name]
	if fm == nil {
		return
	}
	m.bytesIn.Add(uint64(len(payload)))
	m.bytesOut.Add(uint64(len(result)))
	fm.chunks.Add(1)
	fm.chunkTime.Observe(took.Seconds())
	items := chunkItems(payload, result, err)
	if err != nil {
		fm.chunksFailed.Add(1)
		fm.countFailure(err, items > 0)
	}
	if items > 0 {
		fm.items.Add(uint64(items))
		fm.itemTime.ObserveN(took.Seconds()/float64(items), uint64(items))
	}
}

// countFailure counts a failed chunk's panic or timeout, and its failed
// item if one of its items ran (a chunk refused for a limit ran none).
func (fm *funcMetrics) countFailure(err error, itemRan bool) {
	if itemRan {
		fm.itemsFailed.Add(1)
	}
	var te *pool.TaskError
	var pe *gearman.PanicError
	switch {
	case errors.As(err, &te) && te.Panic, errors.As(err, &pe):
		fm.panics.Add(1)
	case te != nil && te.Timeout:
		fm.timeouts.Add(1)
	}
}

// chunkItems is how many of a chunk's items ran: all of a result's, or a
// failed chunk's items up to and including the one that failed.
func chunkItems(payload, result []byte, err error) int {
	if err == nil {
		n, _ := wire.ResultItems(result)
		return n
	}
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Index < 0 {
		return 0
	}
	start, ok := wire.ChunkStart(payload)
	if !ok || te.Index < start {
		return 0
	}
	return te.Index - start + 1
}

// WorkerMetrics are a worker's metrics (metrics.NewWorkerCollector
// exports them to Prometheus).
type WorkerMetrics struct {
	Functions     []FunctionMetrics // by name
	ReceivedBytes uint64            // of chunk payloads
	SentBytes     uint64            // of chunk results
	Slots         int
	SlotsBusy     int   // chunks running now
	MemoryRSS     int64 // the process's resident set size, as heartbeats report it
}

// FunctionMetrics are the counts of one function's chunks. A chunk's
// items are those that ran: all of a chunk that succeeded, those of a
// failed chunk up to the one that failed (none for a chunk a limit
// refused). Failed counts are included in the totals.
type FunctionMetrics struct {
	Function                  string
	Chunks, ChunksFailed      uint64
	Items, ItemsFailed        uint64
	Panics                    uint64 // chunks failed by a panic
	Timeouts                  uint64 // chunks failed by TaskTimeout or chunk_time_limit
	ChunkSeconds, ItemSeconds histogram.Snapshot
}

// Metrics returns the worker's metrics. The worker counts only from the
// first call on (metrics.NewWorkerCollector makes it), or the first after
// StopMetrics, so that a worker whose metrics nobody reads pays nothing
// for them: the counts are a few atomic adds per chunk, never per item.
func (w *Worker) Metrics() WorkerMetrics {
	m := w.countingMetrics()
	out := WorkerMetrics{ReceivedBytes: m.bytesIn.Load(), SentBytes: m.bytesOut.Load(),
		Slots: w.slots, SlotsBusy: int(w.active.Load()), MemoryRSS: residentMemory()}
	for name, fm := range m.funcs {
		out.Functions = append(out.Functions, FunctionMetrics{Function: name,
			Chunks: fm.chunks.Load(), ChunksFailed: fm.chunksFailed.Load(),
			Items: fm.items.Load(), ItemsFailed: fm.itemsFailed.Load(),
			Panics: fm.panics.Load(), Timeouts: fm.timeouts.Load(),
			ChunkSeconds: fm.chunkTime.Snapshot(), ItemSeconds: fm.itemTime.Snapshot()})
	}
	slices.SortFunc(out.Functions, func(a, b FunctionMetrics) int { return cmp.Compare(a.Function, b.Function) })
	return out
}

// countingMetrics returns the worker's counters, starting them if they
// are not. A StopMetrics racing this call leaves fresh counters that
// nobody adds to: this call reads zeros, as it would have a moment later.
func (w *Worker) countingMetrics() *workerMetrics {
	if m := w.metrics.Load(); m != nil {
		return m
	}
	fresh := newWorkerMetrics(w.funcs)
	if w.metrics.CompareAndSwap(nil, fresh) {
		return fresh
	}
	if m := w.metrics.Load(); m != nil {
		return m
	}
	return fresh
}

// StopMetrics stops the counting that Metrics started, for a program
// that no longer exports them: a chunk's end costs one atomic load again.
// The counts are dropped; a later Metrics call counts from zero (to
// Prometheus, a counter reset).
func (w *Worker) StopMetrics() { w.metrics.Store(nil) }
