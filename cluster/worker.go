package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/runners"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
)

// ErrWorkerClosed is returned by Worker.Run after Shutdown or Close. It
// wraps gearman.ErrWorkerClosed, which wraps lifecycle.ErrClosed like
// every service's "closed", so each of them matches with errors.Is.
var ErrWorkerClosed = fmt.Errorf("cluster: %w", gearman.ErrWorkerClosed)

// ErrWorkerRunning is returned by a second call of Worker.Run: a Worker
// runs once (make a new one with NewWorker to serve again). It wraps
// lifecycle.ErrRunning.
var ErrWorkerRunning = fmt.Errorf("cluster: worker: Run was called already; a Worker runs once: %w", lifecycle.ErrRunning)

// errRunAfterStop is Run's error once the worker was stopped: it runs
// once, and it is closed.
var errRunAfterStop = fmt.Errorf("%w; %w", ErrWorkerRunning, ErrWorkerClosed)

// Worker is a worker process's runtime: it serves registered pool
// functions to every job server of a cluster, running up to Slots chunks
// at once. Like an http.Server it runs until Shutdown (finish the running
// chunks, take no more) or Close (stop at once).
//
// It uses one Gearman connection per job server for all its slots, and
// names that connection wire.WorkerClientID(ID, slots) so that pools can
// read the slot count from gearmand's admin "workers" listing.
//
// Its files, by concern: this one (creation and lifecycle), options.go,
// functions.go (choosing the functions to serve), chunks.go (running a
// chunk, counting and logging its end), id.go, stats.go (counters and
// /proc memory), control.go and stop.go (broadcast commands), channels.go
// (the broker's command and log channels), sharedcache.go (maps' shared
// values).
type Worker struct {
	id      string
	host    string
	pid     int
	slots   int
	runners *runners.Set // the chunks' goroutines (runLimited), reused
	funcs   []wire.Function
	servers []string
	key     *auth.Key   // the cluster key; nil: none
	tls     *tls.Config // to the job servers; nil: plaintext
	start   time.Time
	gw      *gearman.Worker
	log     *slog.Logger

	requests atomic.Int64
	failures atomic.Int64
	busy     atomic.Int64 // nanoseconds spent in finished chunks
	active   atomic.Int64
	mem      memReleaser                   // frees memory after large chunks (memrelease.go)
	metrics  atomic.Pointer[workerMetrics] // nil until Metrics is called (metrics.go)

	// Chunks refused by the key check (chunkauth.go), and the rate of
	// warnings about them.
	refusedChunks auth.Refusals // chunks that failed the key check

	mu          sync.Mutex
	lastErr     string
	lastErrTime time.Time

	chunks        *chunkRegistry // running chunks, for cancel commands
	shared        *sharedCache   // decoded shared values (sharedcache.go)
	limits        chunkLimits    // [worker] limits on one chunk
	crashes       *crashGuard    // jobs that killed worker processes; nil if it could not start
	control       *control
	channels      *channels // nil without a broker
	heartbeat     time.Duration
	stopControl   context.CancelFunc
	controlDone   chan struct{}
	controlClosed bool
	life          lifecycle.Lifecycle // Run runs once
	ran           atomic.Bool         // Run began once
	tasks         *workerTasks        // WithTasks; nil: no tasks served
}

// NewWorker returns a worker for the job servers of client, serving the
// registered functions that worker.Functions names (all of them if it is
// empty) with worker.Slots slots (GOMAXPROCS if 0). Zero durations in
// worker mean their defaults, so config.Worker{Slots: 4} is fine in code.
// Call Run to start serving.
func NewWorker(client config.Client, worker config.Worker, opts ...WorkerOption) (*Worker, error) {
	var o workerOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := client.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
	worker = withWorkerDefaults(worker)
	if err := worker.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
	all := o.functions
	if all == nil {
		all = wire.Functions()
	}
	funcs, err := selectFunctions(all, worker.Functions)
	if err != nil {
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
	key, err := auth.LoadKeyFile(client.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
	tlsConf, err := client.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
	w := newWorkerState(client, worker, funcs)
	w.key = key
	w.tls = tlsConf
	w.log = w.newLog(client, worker, o.logger).With("worker", w.id)
	w.shared = newSharedCache(int64(worker.SharedCacheBytes), w.log)
	auth.WarnIfNoKey(w.log, key, "worker")
	if o.withTasks {
		if w.tasks, err = openWorkerTasks(client, o, w.id, w.log); err != nil {
			return nil, fmt.Errorf("cluster: worker: tasks: %w", err)
		}
	}
	if err := w.registerFunctions(); err != nil {
		w.tasks.close()
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
	if w.control, err = newControl(w, worker.SubscriptionRenewal); err != nil {
		w.tasks.close()
		return nil, fmt.Errorf("cluster: worker: command channel: %w", err)
	}
	w.controlDone = make(chan struct{})
	w.crashes = w.openCrashGuard(worker.CrashLoopLimit)
	return w, nil
}

// newWorkerState returns a worker's identity and counters: its host, pid,
// id, slots (GOMAXPROCS if worker.Slots is 0), functions and job servers.
func newWorkerState(client config.Client, worker config.Worker, funcs []wire.Function) *Worker {
	slots := worker.Slots
	if slots == 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	host, _ := os.Hostname()
	w := &Worker{
		host:    host,
		pid:     os.Getpid(),
		slots:   slots,
		funcs:   funcs,
		servers: slices.Clone(client.JobServers),
		start:   time.Now(),
		chunks:  newChunkRegistry(),
		limits:  newChunkLimits(worker),
		runners: runners.New(slots),
	}
	w.id = newWorkerID(host, w.pid)
	w.refusedChunks.Every = refusalLogEvery
	return w
}

// newLog returns the worker's log: logger, else text on stderr at
// worker.LogLevel, and with a broker also JSON records on its log channel
// (setting up w.channels and the heartbeat interval).
func (w *Worker) newLog(client config.Client, worker config.Worker, logger *slog.Logger) *slog.Logger {
	if logger == nil {
		logger = newLogger(os.Stderr, worker.LogLevel)
	}
	if client.HasBroker() {
		// Logs go to the broker's log channel too, as JSON records.
		w.channels = newChannels(w, client)
		w.heartbeat = worker.HeartbeatInterval
		json := slog.NewJSONHandler(logWriter{w.channels}, &slog.HandlerOptions{Level: worker.LogLevel, ReplaceAttr: durationsAsText})
		logger = slog.New(teeHandler{logger.Handler(), json})
	}
	return logger
}

// registerFunctions makes the worker's Gearman worker, one connection per
// job server named wire.WorkerClientID(id, slots), and registers each of
// its functions on it.
func (w *Worker) registerFunctions() error {
	gw, err := gearman.NewWorker(w.servers, gearman.WithTLS(w.tls),
		gearman.WithConcurrency(w.slots),
		// While chunks end within a millisecond, ask for up to four per
		// slot ahead (gearman.Worker's own default in-flight count), so
		// that a freed slot does not wait a round trip for the next one
		// and the job server answers asks in batches (small calls,
		// Chunksize(1) maps: half the worker's reads per chunk, measured,
		// against one per slot ahead).
		gearman.WithPrefetch(4*w.slots),
		gearman.WithMaxPacketSize(w.limits.maxPacket()),
		gearman.WithOversizeJobs(w.refuseUnread),
		gearman.WithClientID(wire.WorkerClientID(w.id, w.slots)),
		gearman.WithLogger(w.log))
	if err != nil {
		return err
	}
	w.gw = gw
	for _, f := range w.funcs {
		run := w.authenticated(w.jobFunc(f))
		if err := w.gw.Register(f.GearmanName(), run); err != nil {
			return err
		}
		if err := w.registerSharedAlias(f, run); err != nil {
			return err
		}
	}
	if w.tasks != nil {
		return w.tasks.register(w.gw, w.funcs)
	}
	return nil
}

// withWorkerDefaults fills in the zero fields that have a default.
func withWorkerDefaults(w config.Worker) config.Worker {
	d := config.DefaultWorker()
	if w.ShutdownTimeout == 0 {
		w.ShutdownTimeout = d.ShutdownTimeout
	}
	if w.HeartbeatInterval == 0 {
		w.HeartbeatInterval = d.HeartbeatInterval
	}
	if w.SubscriptionRenewal == 0 {
		w.SubscriptionRenewal = d.SubscriptionRenewal
	}
	if w.SharedCacheBytes == 0 {
		w.SharedCacheBytes = d.SharedCacheBytes
	}
	return withLimitDefaults(w)
}

func newLogger(out io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}

// ID is the worker's id, "host-pid-random".
func (w *Worker) ID() string { return w.id }

// Slots is how many chunks the worker runs at once.
func (w *Worker) Slots() int { return w.slots }

// Run connects to the job servers and serves chunks until Shutdown or
// Close, then returns ErrWorkerClosed. Job servers that are down, or go
// away, are redialled with backoff, so a worker may start before them.
// A Worker runs once: a second call returns ErrWorkerRunning (which wraps
// lifecycle.ErrRunning); after Shutdown or Close it matches ErrWorkerClosed
// too.
//
// As with http.Server, Run returns as soon as Shutdown begins, while the
// running chunks still finish: wait for Shutdown to return.
func (w *Worker) Run() error {
	if err := w.life.Begin(); err != nil {
		if errors.Is(err, lifecycle.ErrClosed) && !w.ran.Load() {
			return ErrWorkerClosed // stopped before it ever ran
		}
		if errors.Is(err, lifecycle.ErrClosed) {
			return errRunAfterStop
		}
		return ErrWorkerRunning
	}
	w.ran.Store(true)
	defer w.life.End()
	w.log.Info("worker serving", "slots", w.slots, "functions", strings.Join(w.Functions(), ","),
		"job_servers", strings.Join(w.servers, ","))
	ctx, cancel := context.WithCancel(context.Background())
	w.mu.Lock()
	if !w.controlClosed {
		w.stopControl = cancel
		go func() {
			defer close(w.controlDone)
			var wg sync.WaitGroup
			if w.channels != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.channels.run(ctx, w.heartbeat)
				}()
			}
			w.control.run(ctx)
			wg.Wait()
		}()
	}
	w.mu.Unlock()
	if w.tasks != nil {
		w.tasks.start()
	}
	err := w.gw.Run()
	cancel()
	if errors.Is(err, gearman.ErrWorkerClosed) {
		return ErrWorkerClosed
	}
	return fmt.Errorf("cluster: worker: %w", err)
}

// Shutdown stops taking chunks, waits for the running ones to finish and
// their results to reach the job servers, then disconnects. If ctx ends
// first it closes the worker (the unfinished chunks go back to the job
// servers for other workers) and returns ctx's error.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.life.Stop()
	defer w.runners.Stop()
	defer w.crashes.close()
	defer w.closeControl(ctx)
	defer w.tasks.close()
	w.tasks.stopScheduling()
	// Tasks outlive their job's connection; a drain cut short ends them.
	defer context.AfterFunc(ctx, w.tasks.interrupt)()
	if err := w.gw.Shutdown(ctx); err != nil {
		return fmt.Errorf("cluster: worker shutdown: %w", err)
	}
	return nil
}

// Close disconnects at once and cancels the context of running chunks;
// the job servers give those chunks to other workers.
func (w *Worker) Close() error {
	w.life.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	defer w.runners.Stop()
	defer w.crashes.close()
	defer w.closeControl(ctx)
	defer w.tasks.close()
	w.tasks.stopScheduling()
	w.tasks.interrupt()
	return w.gw.Close()
}

// StopRequested delivers a broadcast quit or restart meant for this
// worker; the process that runs the worker decides what to do with it
// (glimpse-cluster worker drains, then exits or re-executes itself).
func (w *Worker) StopRequested() <-chan StopRequest { return w.control.stop }

// closeControl leaves the command topic and stops the command queue.
func (w *Worker) closeControl(ctx context.Context) {
	w.mu.Lock()
	stop := w.stopControl
	w.stopControl, w.controlClosed = nil, true
	w.mu.Unlock()
	if stop == nil {
		w.control.gw.Close() // Run never started it
		return
	}
	// Renewals end first: none may reach the job server after the
	// unsubscribe and subscribe us again.
	w.control.stopRenewing()
	uctx, cancel := context.WithTimeout(ctx, time.Second)
	w.control.unsubscribe(uctx)
	cancel()
	stop()
	// Drain, not Close: the reply to the quit that stops us may still be
	// on its way out.
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	w.control.gw.Shutdown(sctx)
	cancel()
	<-w.controlDone
}

// TaskLimiter is the rate limiter the worker made from WithTaskQueues, for
// its metrics; nil when it has none.
func (w *Worker) TaskLimiter() *ratelimit.Limiter {
	if w.tasks == nil {
		return nil
	}
	return w.tasks.limiter
}
