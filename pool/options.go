package pool

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/direct"
)

// Option configures a Pool.
type Option func(*poolOptions)

type poolOptions struct {
	logger         *slog.Logger
	dialTimeout    time.Duration
	noWorkersGrace time.Duration
	maxPacket      int
	requestTimeout time.Duration

	directData *bool  // WithDirectData; nil: the config's direct_data
	directAddr string // WithDirectDataAddress
	// For tests (export_test.go): see directPath.
	directAdvertise string
	directPause     func(direct.Stage)
	directRefs      func(direct.Ref)
}

// buildPoolOptions applies opts over the defaults each option's doc
// states. It is the one place those defaults are set.
func buildPoolOptions(opts []Option) poolOptions {
	o := poolOptions{
		logger:         slog.New(slog.DiscardHandler),
		dialTimeout:    5 * time.Second,
		noWorkersGrace: 10 * time.Second,
		requestTimeout: gearman.DefaultRequestTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.requestTimeout <= 0 {
		o.requestTimeout = gearman.DefaultRequestTimeout
	}
	return o
}

// WithLogger sets where the pool logs connection events (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *poolOptions) { o.logger = l } }

// WithDirectData turns the direct path for large items on or off,
// overriding the config's direct_data (default on). On, a Map chunk whose
// large byte strings total DirectMinBytes or more is not relayed by the
// job server: its job carries a reference; the worker fetches the bytes
// from a TCP listener the pool starts for it (one per pool, at its first
// such chunk) and sends the result back the same way, and the job server
// carries only the job and a small "sent" answer. The job's queueing,
// retries, priorities and cancels are unchanged. A worker that cannot
// reach the pool answers so, and the pool sends that chunk, and later
// ones, through the job server (one warning). Never with TLS to the job
// servers: the direct path is plaintext.
func WithDirectData(on bool) Option { return func(o *poolOptions) { o.directData = &on } }

// WithDirectDataAddress is where the pool's direct-path listener binds,
// and what workers dial: "host" or "host:port" (default, and the
// config's direct_data_address when empty: the pool's local IP address on
// the route to its first job server, any free port).
func WithDirectDataAddress(addr string) Option { return func(o *poolOptions) { o.directAddr = addr } }

// WithDialTimeout bounds each connection attempt to a job server (default 5s).
func WithDialTimeout(d time.Duration) Option { return func(o *poolOptions) { o.dialTimeout = d } }

// WithRequestTimeout bounds how long a job server may take to answer each
// request the pool makes, whatever the caller's context: a new
// connection's handshake, a chunk's submission (not its run: ctx and
// TaskTimeout bound that) and each admin question (default
// gearman.DefaultRequestTimeout, 10s). A server that accepts and never
// answers fails them with a *gearman.TimeoutError naming it and what never
// came; a chunk that timed out is submitted again to another server, and a
// server that left an admin question unanswered is not asked again for
// three times the timeout.
func WithRequestTimeout(d time.Duration) Option { return func(o *poolOptions) { o.requestTimeout = d } }

// WithNoWorkersGrace sets how long a running map waits when no worker
// serves its function any more before it fails with ErrNoWorkers (default
// 10s: long enough for workers to restart).
func WithNoWorkersGrace(d time.Duration) Option { return func(o *poolOptions) { o.noWorkersGrace = d } }

// WithMaxPacketSize bounds a chunk job's payload and its result (0 or
// less: gearman.DefaultMaxPacketSize). A chunk over it fails its map at once,
// with an error naming the chunk, its items, its size and the limit; a
// result over it fails its map when it arrives.
func WithMaxPacketSize(n int) Option { return func(o *poolOptions) { o.maxPacket = n } }

// JobPriority is the Gearman queue a map's chunks go to.
type JobPriority int

// Priorities for the Priority option.
const (
	Normal JobPriority = iota
	High
	Low
)

// MapOption configures one map.
type MapOption func(*mapOptions)

type mapOptions struct {
	chunksize       int
	priority        JobPriority
	retries         int
	retryTaskErrors bool
	taskTimeout     time.Duration
	window          int
	progress        func(done, total int)
	backupTasks     bool
	waitWorkers     time.Duration
	silentCheck     time.Duration
	// folded: each chunk comes back as one accumulator (a reduce,
	// reduce.go), not one result per item. Set by the reduces only.
	folded bool
}

// DefaultRetries is how many times a chunk is resubmitted after a failure
// that is not its function's fault (WORK_FAIL, a lost job server
// connection) when the Retries option is not given.
const DefaultRetries = 3

// DefaultSilentChunkCheck is how long a chunk may go without news from its
// job server before the map asks the server about it (CheckSilentChunks).
const DefaultSilentChunkCheck = 5 * time.Second

// maxAutoChunk bounds automatic chunk sizes, so that one chunk's payload
// stays far below gearmand's 64 MiB job limit for typical items.
const maxAutoChunk = 100_000

// maxAdaptiveChunk bounds the chunks of an input of unknown length, which
// grow while they come back fast: a streamed map's memory reaches its
// ceiling (Window chunks of this size) within its first items and stays
// there, whatever the input's length. Past ten thousand items per chunk,
// per-job overhead no longer shows in throughput.
const maxAdaptiveChunk = 16_384

// buildMapOptions applies opts over the defaults each option's doc states
// and checks them. It is the one place those defaults are set, but for
// the automatic Chunksize and Window (0), which the map sizes from the
// worker slots it finds (mapRun.setup).
func buildMapOptions(opts []MapOption) (mapOptions, error) {
	o := mapOptions{retries: DefaultRetries, silentCheck: DefaultSilentChunkCheck}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.chunksize < 0:
		return o, fmt.Errorf("pool: Chunksize(%d): want >= 1 (or 0 for automatic)", o.chunksize)
	case o.retries < 0:
		return o, fmt.Errorf("pool: Retries(%d): want >= 0", o.retries)
	case o.taskTimeout < 0:
		return o, fmt.Errorf("pool: TaskTimeout(%v): want > 0 (or 0 for none)", o.taskTimeout)
	case o.window < 0:
		return o, fmt.Errorf("pool: Window(%d): want >= 1 (or 0 for automatic)", o.window)
	case o.silentCheck <= 0:
		return o, fmt.Errorf("pool: CheckSilentChunks(%v): want > 0", o.silentCheck)
	case o.waitWorkers < 0:
		return o, fmt.Errorf("pool: WaitForWorkers(%v): want >= 0", o.waitWorkers)
	case o.priority < Normal || o.priority > Low:
		return o, fmt.Errorf("pool: Priority(%d): want High, Normal or Low", o.priority)
	}
	return o, nil
}

func (p JobPriority) gearman() gearman.Priority {
	return [...]gearman.Priority{Normal: gearman.PriorityNormal, High: gearman.PriorityHigh, Low: gearman.PriorityLow}[p]
}

// Chunksize sets how many items go in one Gearman job. The default for
// Map is the item count divided by four times the worker slots (bounded);
// for Imap, whose input length is unknown, chunks start at one item and
// double while a chunk takes under 20ms to come back, up to 16384 items.
// Either way an automatic chunk also ends at about 4 MiB of encoded items
// (an item larger than that goes alone).
func Chunksize(n int) MapOption { return func(o *mapOptions) { o.chunksize = n } }

// Priority sets the Gearman priority of the map's chunks (default Normal).
func Priority(p JobPriority) MapOption { return func(o *mapOptions) { o.priority = p } }

// Retries sets how many times a chunk is resubmitted, with the same
// unique id, after WORK_FAIL or a lost connection (default DefaultRetries).
// A worker that dies holding a chunk needs no retry: gearmand gives the
// chunk to another worker by itself. It bounds that too: a chunk that
// goes to more than Retries+1 workers (they announce each start) without
// an answer fails the map with ErrCrashLoop, instead of killing workers
// for ever.
func Retries(n int) MapOption { return func(o *mapOptions) { o.retries = n } }

// CheckSilentChunks sets how long a chunk may go without news from its job
// server (no result, no progress, no start notice) before the map asks the
// server about its job with GET_STATUS (default DefaultSilentChunkCheck).
// A job the server no longer knows was lost there without a word to the
// client, as when the admin command "cancel job" cancelled it (the
// WORK_FAIL it sends makes the map resubmit the chunk, whose unique id
// joins the cancelled job, which gearmand drops when a worker next asks
// for work): the chunk is resubmitted, counting against Retries, and past them the map
// fails with a *ChunkLostError instead of waiting for ever. Queued and
// running chunks are left alone. One timer serves the whole map.
func CheckSilentChunks(d time.Duration) MapOption { return func(o *mapOptions) { o.silentCheck = d } }

// RetryTaskErrors makes errors, panics and timeouts of the function itself
// count as retryable too (default off: they are final, as rerunning a bug
// rarely fixes it).
func RetryTaskErrors() MapOption { return func(o *mapOptions) { o.retryTaskErrors = true } }

// TaskTimeout gives each item's call a deadline on the worker; an item
// that runs over it fails the map with a *TaskError whose Timeout is set
// (default 0: no deadline).
func TaskTimeout(d time.Duration) MapOption { return func(o *mapOptions) { o.taskTimeout = d } }

// Window bounds the chunks submitted and not yet consumed (default: twice
// the worker slots, plus two, and at least enough chunks for 128 items, so
// tiny chunks do not leave the slots waiting on round trips). It bounds
// the map's memory: Imap over ten million items holds at most Window
// chunks.
func Window(n int) MapOption { return func(o *mapOptions) { o.window = n } }

// Progress calls fn after each chunk with the items done and the total;
// total is -1 while an Imap's input is not exhausted. fn runs on the
// goroutine that called the map (default: none).
func Progress(fn func(done, total int)) MapOption { return func(o *mapOptions) { o.progress = fn } }

// BackupTasks turns on backup copies of the last chunks, as MapReduce does
// against stragglers: once every item has been submitted and fewer copies
// run than there are worker slots, a chunk that has run for twice the
// median chunk time is submitted once more, under a unique id of its own,
// so that an idle worker takes it. The first copy to succeed gives the
// results; the other is cancelled and whatever it returns is dropped.
//
// A function with side effects may then run twice on some items; that is
// the price of not waiting for a slow or cut-off worker. Off by default.
func BackupTasks() MapOption { return func(o *mapOptions) { o.backupTasks = true } }

// WaitForWorkers lets a map wait up to d for a worker serving its function
// to appear, instead of failing at once with ErrNoWorkers: for a batch job
// started together with its cluster. The default, 0, does not wait.
func WaitForWorkers(d time.Duration) MapOption { return func(o *mapOptions) { o.waitWorkers = d } }
