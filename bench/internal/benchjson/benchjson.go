// Package benchjson is the machine-readable output of the bench programs
// (their -json FILE flag), read back by bench/report. One type per
// program, shared by writer and reader, so the two cannot drift apart.
package benchjson

import (
	"encoding/json"
	"fmt"
	"os"
)

// Gearman is gearmanbench's output: jobs/s of gearman.Client+Worker and of
// libgearman's C client+worker on the same gearmand, in the same run.
type Gearman struct {
	Jobs            int          `json:"jobs"`
	PayloadBytes    int          `json:"payload_bytes"`
	Window          int          `json:"window"`
	Rounds          int          `json:"rounds"`
	GearmandThreads int          `json:"gearmand_threads"` // 0: gearmand's default
	Rows            []GearmanRow `json:"rows"`
}

// GearmanRow is one (worker processes, Go worker concurrency) case.
type GearmanRow struct {
	Workers       int       `json:"workers"`         // worker processes, on each side
	GoConcurrency int       `json:"go_concurrency"`  // jobs at once per Go worker process
	GoJobsPerS    float64   `json:"go_jobs_per_s"`   // median of the rounds
	CJobsPerS     float64   `json:"c_jobs_per_s"`    // median of the rounds
	Ratio         float64   `json:"ratio"`           // Go / C
	GoRoundsPerS  []float64 `json:"go_rounds_per_s"` // every round, in order
	CRoundsPerS   []float64 `json:"c_rounds_per_s"`
	GoCPUus       CPU       `json:"go_cpu_us_per_job"` // of the median round
	CCPUus        CPU       `json:"c_cpu_us_per_job"`
}

// CPU is microseconds of CPU per job spent by each party.
type CPU struct {
	Client   float64 `json:"client"`
	Workers  float64 `json:"workers"`
	Gearmand float64 `json:"gearmand"`
}

// Pool is poolbench's output.
type Pool struct {
	Slots      int         `json:"slots"`
	GOMAXPROCS int         `json:"gomaxprocs"`
	Rounds     int         `json:"rounds"`
	Items      int         `json:"items"` // of the trivial map
	Chunks     []PoolChunk `json:"chunks"`
	CPUBound   PoolCPU     `json:"cpu_bound"`
	// Keyed is the cluster key's cost (poolbench -key); nil when not
	// measured, as in JSON written before -key existed.
	Keyed *PoolKeyed `json:"keyed,omitempty"`
	// Small is the small-calls section; nil in JSON written before it.
	Small *PoolSmall `json:"small,omitempty"`
	// Metrics is what Prometheus metrics cost (poolbench -metrics); nil
	// when not measured.
	Metrics *PoolMetrics `json:"metrics,omitempty"`
}

// PoolMetrics is what Prometheus metrics cost: the same local cluster
// with its metrics switched on and off between rounds (on: the worker
// counts, every collector is served and scraped every ScrapeEveryMs; off:
// the worker's counting stopped, nothing scraped), Rounds rounds of each,
// in pairs alternating which goes first. A round runs the trivial map
// until it has taken at least RoundMs.
type PoolMetrics struct {
	Rounds        int     `json:"rounds"` // of each setting: the pairs
	RoundMs       int64   `json:"round_ms"`
	Items         int     `json:"items"` // of the trivial map, automatic chunks
	ScrapeEveryMs int64   `json:"scrape_every_ms"`
	Scrapes       int     `json:"scrapes"`       // answered, during the "on" rounds
	ScrapeErrors  int     `json:"scrape_errors"` // failed or not 200
	OnSeconds     float64 `json:"on_seconds"`    // the "on" rounds' time: Scrapes/OnSeconds is the scrape rate
	// Medians of the rounds' items/s, and the rounds' own.
	OffItemsPerS  float64   `json:"off_items_per_s"`
	OnItemsPerS   float64   `json:"on_items_per_s"`
	OffRoundsPerS []float64 `json:"off_rounds_per_s"`
	OnRoundsPerS  []float64 `json:"on_rounds_per_s"`
	// Ratio is the median over the pairs of on/off items/s; RatioLow and
	// RatioHigh bound its 95% bootstrap interval (pairs resampled).
	Ratio     float64 `json:"ratio"`
	RatioLow  float64 `json:"ratio_low"`
	RatioHigh float64 `json:"ratio_high"`
	// CPU time per item of the whole process set, over all the rounds of
	// each setting: this process (client, worker, broker, fanout worker,
	// the scraper) and gearmand; the gearmand part on its own; per round.
	OffCPUNsPerItem      float64   `json:"off_cpu_ns_per_item"`
	OnCPUNsPerItem       float64   `json:"on_cpu_ns_per_item"`
	OffGearmandNsPerItem float64   `json:"off_gearmand_ns_per_item"`
	OnGearmandNsPerItem  float64   `json:"on_gearmand_ns_per_item"`
	OffCPURoundsNs       []float64 `json:"off_cpu_rounds_ns"`
	OnCPURoundsNs        []float64 `json:"on_cpu_rounds_ns"`
	// CPURatio is the median over the pairs of on/off CPU per item, with
	// its 95% bootstrap interval: steadier than items/s on a shared
	// machine, where other processes' load slows a round without adding
	// to its CPU time.
	CPURatio     float64 `json:"cpu_ratio"`
	CPURatioLow  float64 `json:"cpu_ratio_low"`
	CPURatioHigh float64 `json:"cpu_ratio_high"`
	// ScrapeCPUMs is one scrape's CPU time (this process and gearmand),
	// timed on the idle cluster after the rounds; ScrapeNsPerItem is that
	// at one scrape per ScrapeEveryMs over OffItemsPerS, and ScrapeShare
	// its share of OffCPUNsPerItem: the scrapes' cost, as an account
	// rather than a difference of noisy rounds.
	ScrapeCPUMs     float64 `json:"scrape_cpu_ms"`
	ScrapeNsPerItem float64 `json:"scrape_ns_per_item"`
	ScrapeShare     float64 `json:"scrape_share"`
}

// PoolSmall compares one-item maps with a bare gearman.Client.Call to an
// echo worker on the same gearmand, in the same run, and measures a
// Chunksize(1) map.
type PoolSmall struct {
	Calls           int     `json:"calls"`       // sequential calls of each for the p50s
	MapP50Ns        int64   `json:"map_p50_ns"`  // one-item pool.Map
	BareP50Ns       int64   `json:"bare_p50_ns"` // gearman.Client.Call echo
	Concurrency     int     `json:"concurrency"` // calls at once
	ConcurrentCalls int     `json:"concurrent_calls"`
	MapCallsPerS    float64 `json:"map_calls_per_s"`
	BareCallsPerS   float64 `json:"bare_calls_per_s"`
	// The process's most goroutines during the concurrent calls (the
	// local cluster's worker runs in it too).
	MapPeakGoroutines  int     `json:"map_peak_goroutines"`
	BarePeakGoroutines int     `json:"bare_peak_goroutines"`
	Chunk1Items        int     `json:"chunk1_items"`
	Chunk1ItemsPerS    float64 `json:"chunk1_items_per_s"`
	// pool.Call: p50 one after another (taking turns with the bare call
	// and the one-item map), calls/s from Concurrency goroutines, and
	// calls/s of pool.Go with Concurrency futures in flight.
	CallP50Ns     int64   `json:"call_p50_ns,omitempty"`
	CallCallsPerS float64 `json:"call_calls_per_s,omitempty"`
	GoCallsPerS   float64 `json:"go_calls_per_s,omitempty"`
}

// PoolKeyed compares a keyed local cluster (HMAC-sealed chunks and
// results, CURVE on the channels) with a keyless one of the same slots,
// in the same run: their maps alternate, each going first every other
// time, so that a slow moment of the machine hits both.
type PoolKeyed struct {
	Rounds int `json:"rounds"` // trivial maps on each cluster
	Items  int `json:"items"`  // of the trivial map, automatic chunks
	// Trivial map items/s: the medians of each cluster's rounds, and the
	// median over the rounds of keyed/keyless (the figure the bar of
	// issue 11, >= 0.90, is about).
	KeylessItemsPerS  float64   `json:"keyless_items_per_s"`
	KeyedItemsPerS    float64   `json:"keyed_items_per_s"`
	Ratio             float64   `json:"ratio"`
	KeylessRoundsPerS []float64 `json:"keyless_rounds_per_s"` // every round, in order
	KeyedRoundsPerS   []float64 `json:"keyed_rounds_per_s"`
	// One-item maps, called one after another, alternating clusters:
	// the p50 of each and keyed/keyless of the two p50s.
	OneItemCalls     int     `json:"one_item_calls"` // on each cluster
	KeylessOneItemMs float64 `json:"keyless_one_item_p50_ms"`
	KeyedOneItemMs   float64 `json:"keyed_one_item_p50_ms"`
	OneItemRatio     float64 `json:"one_item_ratio"`
}

// PoolChunk is the trivial map at one chunk size.
type PoolChunk struct {
	Chunksize  int       `json:"chunksize"`    // as asked; 0 is automatic
	ChunkItems int       `json:"chunk_items"`  // the largest chunk the map made
	ItemsPerS  float64   `json:"items_per_s"`  // median of the rounds
	RoundsPerS []float64 `json:"rounds_per_s"` // every round
}

// PoolCPU is the CPU-bound map against the same work in this process.
type PoolCPU struct {
	Items              int     `json:"items"`
	ItemCostNs         int64   `json:"item_cost_ns"` // the calibration target
	Goroutines         int     `json:"goroutines"`   // of the in-process map, = slots
	InProcessItemsPerS float64 `json:"in_process_items_per_s"`
	MapItemsPerS       float64 `json:"map_items_per_s"`
	Efficiency         float64 `json:"efficiency"` // map / in-process
}

// Ping is pingbench's output.
type Ping struct {
	Pings int       `json:"pings"` // per worker count and channel
	Rows  []PingRow `json:"rows"`  // without a cluster key
	// With pingbench -key: the same counts run again with a cluster key
	// (CURVE on the channels, sealed commands and replies), and per count
	// and channel the keyed median over the keyless one. Empty when not
	// measured, as in JSON written before -key kept them.
	Keyed     []PingRow      `json:"keyed_rows,omitempty"`
	KeyRatios []PingKeyRatio `json:"key_ratios,omitempty"`
}

// PingKeyRatio is the cluster key's cost to one worker count and channel.
type PingKeyRatio struct {
	Workers         int     `json:"workers"`
	Via             string  `json:"via"`
	KeylessMedianMs float64 `json:"keyless_median_ms"`
	KeyedMedianMs   float64 `json:"keyed_median_ms"`
	Ratio           float64 `json:"ratio"` // keyed / keyless; the bar of issue 11 is <= 1.5 at 50 workers
}

// PingRow is one worker count over one channel.
type PingRow struct {
	Workers  int       `json:"workers"`
	Via      string    `json:"via"` // "fanout" or "zmq"
	MedianMs float64   `json:"median_ms"`
	P90Ms    float64   `json:"p90_ms"`
	MaxMs    float64   `json:"max_ms"`
	AllMs    []float64 `json:"all_ms"` // every ping, in order
}

// Imap is imapmem's output.
type Imap struct {
	Workers int       `json:"workers"` // worker processes
	Slots   int       `json:"slots"`   // per worker process
	Rows    []ImapRow `json:"rows"`
}

// ImapRow is one Imap, run alone in a fresh process.
type ImapRow struct {
	Chunksize     int     `json:"chunksize"` // as asked; 0 is automatic
	Items         int     `json:"items"`
	Seconds       float64 `json:"seconds"`
	ItemsPerS     float64 `json:"items_per_s"`
	RSSBeforeKiB  int64   `json:"rss_before_kib"`  // VmRSS once the pool is dialled, before the map
	PeakRSSKiB    int64   `json:"peak_rss_kib"`    // VmHWM after the map: the process's peak
	PeakHeapKiB   int64   `json:"peak_heap_kib"`   // largest Go heap (runtime/metrics /memory/classes/heap/objects) sampled during the map
	LiveAfterKiB  int64   `json:"live_after_kib"`  // Go heap objects after the map and a GC, the pool still open
	TotalAllocMiB float64 `json:"total_alloc_mib"` // Go bytes allocated during the map
	Chunks        int     `json:"chunks"`          // progress callbacks = chunks retired
}

// Recovery is recovery's output.
type Recovery struct {
	Workers    int           `json:"workers"` // worker processes
	Slots      int           `json:"slots"`   // per worker process
	Items      int           `json:"items"`   // of the map
	ItemCostNs int64         `json:"item_cost_ns"`
	Chunksize  int           `json:"chunksize"`
	FaultAt    float64       `json:"fault_at"` // fraction of the items done when the fault is injected
	Rounds     int           `json:"rounds"`
	JobRetries int           `json:"gearmand_job_retries"`
	Rows       []RecoveryRow `json:"rows"`
}

// RecoveryRow is one kind of fault.
type RecoveryRow struct {
	Fault string `json:"fault"` // "none", "worker SIGKILL", "worker SIGKILL, not replaced", "gearmand restart"
	// Medians of the rounds. For "none", AfterFaultS is the time from the
	// same point of progress to the end.
	TotalS      float64   `json:"total_s"`
	AfterFaultS float64   `json:"after_fault_s"`
	FaultTookS  float64   `json:"fault_took_s"` // injecting it: kill+reap, or stop+start gearmand
	TotalRounds []float64 `json:"total_rounds_s"`
	AfterRounds []float64 `json:"after_fault_rounds_s"`
}

// Write writes v as indented JSON to path.
func Write(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("benchjson: encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("benchjson: %w", err)
	}
	return nil
}

// Read reads the JSON in path into v.
func Read(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("benchjson: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("benchjson: %s: %w", path, err)
	}
	return nil
}

// Large is largeitems' output: identity round trips of large items, all
// maps in one client process.
type Large struct {
	Items           int       `json:"items"`
	ItemBytes       int       `json:"item_bytes"`
	Chunksize       int       `json:"chunksize"` // 0: automatic
	Workers         int       `json:"workers"`   // worker processes
	Slots           int       `json:"slots"`     // per worker process
	FirstMBps       float64   `json:"first_map_mb_per_s"`
	SteadyMBps      float64   `json:"steady_mb_per_s"` // median of the maps after the first
	AllMBps         []float64 `json:"all_mb_per_s"`
	ChunkItems      int       `json:"chunk_items"`         // largest chunk of the first map
	PeakRSSKiB      int64     `json:"client_peak_rss_kib"` // VmHWM of the client process
	InOutKiB        int64     `json:"input_output_kib"`    // one map's input plus output
	RSSRatio        float64   `json:"client_peak_rss_over_input_output"`
	ClientCPUms     float64   `json:"client_cpu_ms_per_map"`  // user+system, mean over the maps
	WorkersCPUms    float64   `json:"workers_cpu_ms_per_map"` // all worker processes together
	GearmandCPUms   float64   `json:"gearmand_cpu_ms_per_map"`
	WorkerRSSBefKiB []int64   `json:"worker_rss_before_kib"`
	WorkerRSSKiB    []int64   `json:"worker_rss_after_kib"` // a second after the last map
	// Floor is the same items' round trip without the pool, same run:
	// bare Gearman, then raw loopback TCP through a relay process.
	Floor []LargeFloor `json:"floor,omitempty"`
	// DirectOff is the same maps with the pool's direct path off
	// (pool.WithDirectData(false): gearmand relays the items), same run,
	// in a client process of its own; nil if not measured. The figures
	// above are the pool's default, the direct path on.
	DirectOff *LargeFloor `json:"direct_off,omitempty"`
}

// LargeFloor is one floor under Large: the same round trips without the
// pool.
type LargeFloor struct {
	Name         string    `json:"name"`
	Server       string    `json:"server"` // the process between client and workers
	FirstMBps    float64   `json:"first_mb_per_s"`
	SteadyMBps   float64   `json:"steady_mb_per_s"`
	AllMBps      []float64 `json:"all_mb_per_s"`
	ClientCPUms  float64   `json:"client_cpu_ms_per_map"`
	WorkersCPUms float64   `json:"workers_cpu_ms_per_map"`
	ServerCPUms  float64   `json:"server_cpu_ms_per_map"`
}

// Webhook is webhookbench's output: deliveries/s of the built-in webhook
// function (webhook.Deliver) to a receiver on loopback, medians of Rounds.
type Webhook struct {
	Calls       int `json:"calls"`       // deliveries per measurement
	Rounds      int `json:"rounds"`      // measurements of each kind; the median is reported
	Concurrency int `json:"concurrency"` // goroutines of the in-process measurement
	Workers     int `json:"workers"`     // worker processes
	Slots       int `json:"slots"`       // per worker process
	// InProcess: webhook.Client.Deliver from Concurrency goroutines in
	// this process, no Gearman.
	InProcess float64 `json:"in_process_per_s"`
	// Chunk1: pool.Map of webhook.Deliver with Chunksize(1) (one Gearman
	// job per delivery, as a task is) through the worker processes.
	Chunk1 float64 `json:"chunk1_per_s"`
	// AutoChunks: the same map with automatic chunks (ChunkItems
	// deliveries per job at most, run one after another in a slot).
	AutoChunks float64 `json:"auto_chunks_per_s"`
	ChunkItems int     `json:"chunk_items"`
	Received   int64   `json:"received"` // calls the receiver counted, all measurements
	Want       int64   `json:"want"`     // calls sent, all measurements
}

// Tasks is bench/tasksbench's figures: durable background tasks.
type Tasks struct {
	Tasks        int       `json:"tasks"`
	Workers      int       `json:"workers"`
	Slots        int       `json:"slots"`
	Concurrency  int       `json:"concurrency"` // goroutines of the enqueuing client
	EnqueuePerS  float64   `json:"enqueue_per_s"`
	DrainPerS    float64   `json:"drain_per_s"` // tasks queued before the workers started, worker start included
	EndToEndPerS float64   `json:"end_to_end_per_s"`
	Celery       TasksPeer `json:"celery"`
}

// TasksPeer is a peer's figures for the same workload.
type TasksPeer struct {
	Name         string  `json:"name"`
	EnqueuePerS  float64 `json:"enqueue_per_s"`
	EndToEndPerS float64 `json:"end_to_end_per_s"`
	Error        string  `json:"error,omitempty"`
}

// Gateway is gatewaybench's output: requests/s and items/s through a
// `glimpse-cluster http` process to worker processes, from Clients
// keep-alive HTTP clients; medians of Rounds.
type Gateway struct {
	Clients  int `json:"clients"`   // concurrent keep-alive HTTP clients
	Rounds   int `json:"rounds"`    // measurements of each kind; the median is reported
	Workers  int `json:"workers"`   // worker processes
	Slots    int `json:"slots"`     // per worker process
	Calls    int `json:"calls"`     // POST /call requests per measurement
	Maps     int `json:"maps"`      // POST /map requests per measurement
	MapItems int `json:"map_items"` // items of each of those maps
	BigItems int `json:"big_items"` // items of the one large map
	// CallsPerS: POST /v1/functions/examples.square/call, one item each.
	CallsPerS float64 `json:"calls_per_s"`
	// MapsPerS and MapItemsPerS: POST .../map of MapItems items each.
	MapsPerS     float64 `json:"maps_per_s"`
	MapItemsPerS float64 `json:"map_items_per_s"`
	// BigItemsPerS: one POST .../map of BigItems items (JSON array in
	// and out), one client.
	BigItemsPerS float64 `json:"big_map_items_per_s"`
	// NDJSONItemsPerS: the same items streamed as NDJSON both ways.
	NDJSONItemsPerS float64 `json:"ndjson_items_per_s"`
	// Enqueues: POST /queue requests (form, a task due in an hour, so
	// that the figure is the enqueue alone) per measurement; EnqueuesPerS
	// their rate from Clients clients.
	Enqueues     int     `json:"enqueues,omitempty"`
	EnqueuesPerS float64 `json:"enqueues_per_s,omitempty"`
	// EnqueueServerCPUus and EnqueueClientCPUus: CPU microseconds per
	// enqueue of the gateway process and of the bench process (the
	// clients), in the median round.
	EnqueueServerCPUus float64 `json:"enqueue_server_cpu_us,omitempty"`
	EnqueueClientCPUus float64 `json:"enqueue_client_cpu_us,omitempty"`
	// CeilingPerS: the same requests from the same clients to a no-op
	// HTTP server process (net/http, with the gateway's timeouts: it
	// reads the body and answers a fixed {"status":"scheduled",...}),
	// rounds taken in turn with the enqueue's: what HTTP alone allows
	// here; with its CPU per request.
	CeilingPerS        float64 `json:"ceiling_per_s,omitempty"`
	CeilingServerCPUus float64 `json:"ceiling_server_cpu_us,omitempty"`
	CeilingClientCPUus float64 `json:"ceiling_client_cpu_us,omitempty"`
	// PostgresEnqueuesPerS: EnqueuesPerS into a PostgreSQL task store
	// (-postgres URL; 0: not measured), with the gateway's CPU per
	// enqueue (PostgreSQL's own not counted).
	PostgresEnqueuesPerS     float64 `json:"postgres_enqueues_per_s,omitempty"`
	PostgresEnqueueServerCPU float64 `json:"postgres_enqueue_server_cpu_us,omitempty"`
	// ABEnqueuesPerS: the same enqueues sent by ApacheBench, `ab -k -c
	// Clients -n Enqueues -p FORM`, as Miyamoto's PERFORMANCE file measured
	// ("10000 requests, 10 concurrent, keepalives"): ab's "Requests per
	// second" of a round with no failed or non-2xx request, whose tasks
	// were counted in GET /queues; with the gateway's and ab's CPU µs per
	// request. ABCeiling*: ab's rounds to the no-op server. Rounds in
	// turn with the Go client's. ABError: why they are missing (ab not
	// installed); "" when measured.
	ABEnqueuesPerS       float64 `json:"ab_enqueues_per_s,omitempty"`
	ABEnqueueServerCPUus float64 `json:"ab_enqueue_server_cpu_us,omitempty"`
	ABEnqueueClientCPUus float64 `json:"ab_enqueue_client_cpu_us,omitempty"`
	ABCeilingPerS        float64 `json:"ab_ceiling_per_s,omitempty"`
	ABCeilingServerCPUus float64 `json:"ab_ceiling_server_cpu_us,omitempty"`
	ABCeilingClientCPUus float64 `json:"ab_ceiling_client_cpu_us,omitempty"`
	ABError              string  `json:"ab_error,omitempty"`
	// Deliveries: tasks due now enqueued by POST /queue per measurement;
	// DeliveriesPerS: from the first enqueue to the receiver (an HTTP
	// server in the bench process) having got every one.
	Deliveries     int     `json:"deliveries,omitempty"`
	DeliveriesPerS float64 `json:"deliveries_per_s,omitempty"`
}
