package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/pool"
)

// The collectors of glimpse's components. They read what each component
// counts itself (Worker.Metrics, Pool.Stats, Broker.Stats, fanout
// Worker.Stats), so that the components do not link the Prometheus
// client: only the programs that serve metrics do.

// funcCollector is a collector of fixed descriptions whose metrics a
// function sends.
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c funcCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
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

// NewWorkerCollector returns a worker's collector: chunks and items done
// and failed, panics, timeouts and chunk and item durations per function;
// bytes in and out; slots and busy slots; resident memory. The worker
// counts from this call on (see cluster.Worker.Metrics).
func NewWorkerCollector(w *cluster.Worker) prometheus.Collector {
	w.Metrics()
	return funcCollector{
		descs: []*prometheus.Desc{descChunks, descChunksFailed, descItems, descItemsFailed, descPanics,
			descTimeouts, descChunkTime, descItemTime, descBytesIn, descBytesOut, descSlots, descSlotsBusy, descMemory},
		collect: func(ch chan<- prometheus.Metric) { collectWorker(ch, w.Metrics()) },
	}
}

func collectWorker(ch chan<- prometheus.Metric, m cluster.WorkerMetrics) {
	for _, f := range m.Functions {
		counter(ch, descChunks, f.Chunks, f.Function)
		counter(ch, descChunksFailed, f.ChunksFailed, f.Function)
		counter(ch, descItems, f.Items, f.Function)
		counter(ch, descItemsFailed, f.ItemsFailed, f.Function)
		counter(ch, descPanics, f.Panics, f.Function)
		counter(ch, descTimeouts, f.Timeouts, f.Function)
		if h, err := HistogramMetric(descChunkTime, f.ChunkSeconds, f.Function); err == nil {
			ch <- h
		}
		if h, err := HistogramMetric(descItemTime, f.ItemSeconds, f.Function); err == nil {
			ch <- h
		}
	}
	counter(ch, descBytesIn, m.ReceivedBytes)
	counter(ch, descBytesOut, m.SentBytes)
	gauge(ch, descSlots, float64(m.Slots))
	gauge(ch, descSlotsBusy, float64(m.SlotsBusy))
	gauge(ch, descMemory, float64(m.MemoryRSS))
}

var (
	descMapsStarted     = prometheus.NewDesc("glimpse_pool_maps_started_total", "Maps that reached the cluster.", nil, nil)
	descMapsFinished    = prometheus.NewDesc("glimpse_pool_maps_finished_total", "Maps that ended without error.", nil, nil)
	descMapsFailed      = prometheus.NewDesc("glimpse_pool_maps_failed_total", "Maps that ended with an error (a failed item, a cancelled context, no workers, a crash loop).", nil, nil)
	descChunksInFlight  = prometheus.NewDesc("glimpse_pool_chunks_in_flight", "Chunk copies submitted whose outcome has not come back.", nil, nil)
	descRetries         = prometheus.NewDesc("glimpse_pool_retries_total", "Chunk resubmissions after a failure (the Retries option).", nil, nil)
	descCrashLoops      = prometheus.NewDesc("glimpse_pool_crash_loops_total", "Chunks stopped for going to more workers than Retries allows, none of which answered.", nil, nil)
	descBackupsLaunched = prometheus.NewDesc("glimpse_pool_backup_tasks_launched_total", "Backup copies launched for slow chunks (BackupTasks).", nil, nil)
	descBackupsWon      = prometheus.NewDesc("glimpse_pool_backup_tasks_won_total", "Backup copies whose result came before their original's.", nil, nil)
	descDirectChunks    = prometheus.NewDesc("glimpse_pool_direct_chunks_total", "Chunk results that came back by the direct path, not through a job server.", nil, nil)
	descDirectFallbacks = prometheus.NewDesc("glimpse_pool_direct_fallbacks_total", "Chunks whose worker could not fetch them from the pool, sent again through a job server.", nil, nil)
)

// NewPoolCollector returns a pool's collector (see pool.Stats), for a
// program to register on its own registry.
func NewPoolCollector(p *pool.Pool) prometheus.Collector {
	return funcCollector{
		descs: []*prometheus.Desc{descMapsStarted, descMapsFinished, descMapsFailed, descChunksInFlight,
			descRetries, descCrashLoops, descBackupsLaunched, descBackupsWon, descDirectChunks, descDirectFallbacks},
		collect: func(ch chan<- prometheus.Metric) {
			s := p.Stats()
			counter(ch, descMapsStarted, s.MapsStarted)
			counter(ch, descMapsFinished, s.MapsFinished)
			counter(ch, descMapsFailed, s.MapsFailed)
			gauge(ch, descChunksInFlight, float64(s.ChunksInFlight))
			counter(ch, descRetries, s.Retries)
			counter(ch, descCrashLoops, s.CrashLoops)
			counter(ch, descBackupsLaunched, s.BackupsLaunched)
			counter(ch, descBackupsWon, s.BackupsWon)
			counter(ch, descDirectChunks, s.DirectChunks)
			counter(ch, descDirectFallbacks, s.DirectFallbacks)
		},
	}
}

var (
	labelsChannel = []string{"channel", "direction"}

	descMessages = prometheus.NewDesc("glimpse_broker_messages_total",
		"Messages the broker received to forward, by channel (command, log) and direction (down: publishers to subscribers; up: subscriptions).",
		labelsChannel, nil)
	descBytes = prometheus.NewDesc("glimpse_broker_bytes_total",
		"Bytes of the messages the broker received to forward, all parts included, by channel and direction.", labelsChannel, nil)
	descRefused = prometheus.NewDesc("glimpse_broker_refused_handshakes_total",
		"Peers refused because they are not CURVE clients of the cluster key.", nil, nil)
	descHWM = prometheus.NewDesc("glimpse_broker_high_water_mark_messages",
		"Messages each socket queues per peer before it drops (0: no limit). libzmq counts no drops: "+
			"an XPUB drops silently per subscriber at this mark, so a subscriber's gap shows on its side.", nil, nil)
)

// NewBrokerCollector returns a broker's collector: its Stats (messages and
// bytes per channel and direction, refused handshakes) and its high-water
// mark. libzmq does not tell how many messages an XPUB dropped at the
// high-water mark (its proxy counts a message once, however many
// subscribers got it), so no drop count is exported. Each scrape asks the
// proxies for their counts, as Stats does.
func NewBrokerCollector(b *broker.Broker) prometheus.Collector {
	return funcCollector{
		descs: []*prometheus.Desc{descMessages, descBytes, descRefused, descHWM},
		collect: func(ch chan<- prometheus.Metric) {
			s := b.Stats()
			for _, c := range []struct {
				name string
				s    broker.ChannelStats
			}{{"command", s.Command}, {"log", s.Log}} {
				counter(ch, descMessages, c.s.Down.Messages, c.name, "down")
				counter(ch, descBytes, c.s.Down.Bytes, c.name, "down")
				counter(ch, descMessages, c.s.Up.Messages, c.name, "up")
				counter(ch, descBytes, c.s.Up.Bytes, c.name, "up")
			}
			counter(ch, descRefused, s.RefusedHandshakes)
			gauge(ch, descHWM, float64(b.HighWaterMark()))
		},
	}
}

var (
	descSubscribers    = prometheus.NewDesc("glimpse_fanout_subscribers", "Subscribers of the topic, as the fanout worker's cached list has them.", []string{"topic"}, nil)
	descCopiesSent     = prometheus.NewDesc("glimpse_fanout_copies_sent_total", "Copies delivered: foreground copies a subscriber completed, background copies a job server accepted.", nil, nil)
	descCopiesFailed   = prometheus.NewDesc("glimpse_fanout_copies_failed_total", "Copies not delivered (timed-out ones included).", nil, nil)
	descCopiesTimedOut = prometheus.NewDesc("glimpse_fanout_copies_timed_out_total", "Foreground copies cancelled at the copy timeout.", nil, nil)
)

// NewFanoutCollector returns a fanout worker's collector: subscribers per
// topic, and the copies sent, failed and timed out.
func NewFanoutCollector(w *fanout.Worker) prometheus.Collector {
	return funcCollector{
		descs: []*prometheus.Desc{descSubscribers, descCopiesSent, descCopiesFailed, descCopiesTimedOut},
		collect: func(ch chan<- prometheus.Metric) {
			s := w.Stats()
			for topic, n := range s.Subscribers {
				gauge(ch, descSubscribers, float64(n), topic)
			}
			counter(ch, descCopiesSent, s.CopiesSent)
			counter(ch, descCopiesFailed, s.CopiesFailed)
			counter(ch, descCopiesTimedOut, s.CopiesTimedOut)
		},
	}
}
