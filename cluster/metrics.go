package cluster

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/prometheus/client_golang/prometheus"
)

// workerMetrics are the counters a worker keeps once its Collector was
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
	chunkTime, itemTime  *metrics.Histogram
}

func newWorkerMetrics(funcs []wire.Function) *workerMetrics {
	m := &workerMetrics{funcs: make(map[string]*funcMetrics, len(funcs))}
	for _, f := range funcs {
		m.funcs[f.Name()] = &funcMetrics{
			chunkTime: metrics.NewHistogram(metrics.DurationBuckets),
			itemTime:  metrics.NewHistogram(metrics.DurationBuckets),
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

var (
	labelFunction = []string{"function"}

	descChunks       = prometheus.NewDesc("glimpse_worker_chunks_total", "Chunks the worker ran, failed ones included.", labelFunction, nil)
	descChunksFailed = prometheus.NewDesc("glimpse_worker_chunks_failed_total", "Chunks that failed (an item failed, a limit refused the chunk, the time limit stopped it).", labelFunction, nil)
	descItems        = prometheus.NewDesc("glimpse_worker_items_total", "Items the worker ran: every item of a chunk that succeeded, and those of a failed chunk up to the one that failed.", labelFunction, nil)
	descItemsFailed  = prometheus.NewDesc("glimpse_worker_items_failed_total", "Items whose function failed (error, panic or timeout).", labelFunction, nil)
	descPanics       = prometheus.NewDesc("glimpse_worker_panics_total", "Chunks failed by a panic of their function.", labelFunction, nil)
	descTimeouts     = prometheus.NewDesc("glimpse_worker_timeouts_total", "Chunks failed by a timeout: the map's TaskTimeout or the worker's chunk_time_limit.", labelFunction, nil)
	descChunkTime    = prometheus.NewDesc("glimpse_worker_chunk_duration_seconds", "How long chunks ran.", labelFunction, nil)
	descItemTime     = prometheus.NewDesc("glimpse_worker_item_duration_seconds", "How long items ran: each item of a chunk is counted at the chunk's mean item time.", labelFunction, nil)
	descBytesIn      = prometheus.NewDesc("glimpse_worker_received_bytes_total", "Bytes of chunk payloads the worker received.", nil, nil)
	descBytesOut     = prometheus.NewDesc("glimpse_worker_sent_bytes_total", "Bytes of chunk results the worker sent back.", nil, nil)
	descSlots        = prometheus.NewDesc("glimpse_worker_slots", "Chunks the worker runs at once.", nil, nil)
	descSlotsBusy    = prometheus.NewDesc("glimpse_worker_slots_busy", "Chunks the worker runs now.", nil, nil)
	descMemory       = prometheus.NewDesc("glimpse_worker_resident_memory_bytes", "The worker process's resident set size, as its heartbeats report it.", nil, nil)
)

// workerCollector exports a worker's metrics.
type workerCollector struct {
	w *Worker
	m *workerMetrics
}

// Collector returns the worker's Prometheus collector: chunks and items
// done and failed, panics, timeouts and chunk and item durations per
// function; bytes in and out; slots and busy slots; resident memory.
// The worker counts only from the first call on, so that a worker whose
// metrics nobody reads pays nothing for them. Register it on a registry
// (metrics.NewRegistry adds the Go and process collectors).
func (w *Worker) Collector() prometheus.Collector {
	w.metrics.CompareAndSwap(nil, newWorkerMetrics(w.funcs))
	return workerCollector{w: w, m: w.metrics.Load()}
}

func (c workerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descChunks, descChunksFailed, descItems, descItemsFailed, descPanics,
		descTimeouts, descChunkTime, descItemTime, descBytesIn, descBytesOut, descSlots, descSlotsBusy, descMemory} {
		ch <- d
	}
}

func (c workerCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	for name, fm := range c.m.funcs {
		counter(descChunks, fm.chunks.Load(), name)
		counter(descChunksFailed, fm.chunksFailed.Load(), name)
		counter(descItems, fm.items.Load(), name)
		counter(descItemsFailed, fm.itemsFailed.Load(), name)
		counter(descPanics, fm.panics.Load(), name)
		counter(descTimeouts, fm.timeouts.Load(), name)
		for _, h := range []struct {
			d *prometheus.Desc
			h *metrics.Histogram
		}{{descChunkTime, fm.chunkTime}, {descItemTime, fm.itemTime}} {
			if m, err := h.h.Metric(h.d, name); err == nil {
				ch <- m
			}
		}
	}
	counter(descBytesIn, c.m.bytesIn.Load())
	counter(descBytesOut, c.m.bytesOut.Load())
	gauge(descSlots, float64(c.w.slots))
	gauge(descSlotsBusy, float64(c.w.active.Load()))
	gauge(descMemory, float64(residentMemory()))
}
