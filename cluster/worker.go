package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
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

// registeredFunctions is where a Worker finds the functions to serve; a
// variable so that the tests' worker processes can add functions whose
// jobs they control.
var registeredFunctions = wire.Functions

// WorkerOption configures a Worker.
type WorkerOption func(*workerOptions)

type workerOptions struct {
	logger    *slog.Logger
	functions []wire.Function // nil: registeredFunctions()
}

// WithLogger sets the worker's structured log. The default writes text
// lines to stderr at config.Worker.LogLevel.
func WithLogger(l *slog.Logger) WorkerOption {
	return func(o *workerOptions) { o.logger = l }
}

// WithFunctions makes the worker choose the functions it serves from fs
// instead of the registry (wire.Functions): for functions that are not
// registered, such as a test's, or a program that serves a subset
// without a config file.
func WithFunctions(fs ...wire.Function) WorkerOption {
	return func(o *workerOptions) { o.functions = fs }
}

// Worker is a worker process's runtime: it serves registered pool
// functions to every job server of a cluster, running up to Slots chunks
// at once. Like an http.Server it runs until Shutdown (finish the running
// chunks, take no more) or Close (stop at once).
//
// It uses one Gearman connection per job server for all its slots, and
// names that connection wire.WorkerClientID(ID, slots) so that pools can
// read the slot count from gearmand's admin "workers" listing.
type Worker struct {
	id      string
	host    string
	pid     int
	slots   int
	funcs   []wire.Function
	servers []string
	start   time.Time
	gw      *gearman.Worker
	log     *slog.Logger

	requests atomic.Int64
	failures atomic.Int64
	busy     atomic.Int64 // nanoseconds spent in finished chunks
	active   atomic.Int64

	mu          sync.Mutex
	lastErr     string
	lastErrTime time.Time

	chunks        *chunkRegistry // running chunks, for cancel commands
	control       *control
	channels      *channels // nil without a broker
	heartbeat     time.Duration
	stopControl   context.CancelFunc
	controlDone   chan struct{}
	controlClosed bool
	life          lifecycle.Lifecycle // Run runs once
	ran           atomic.Bool         // Run began once
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
		all = registeredFunctions()
	}
	funcs, err := selectFunctions(all, worker.Functions)
	if err != nil {
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
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
	}
	w.id = newWorkerID(host, w.pid)
	logger := o.logger
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
	w.log = logger.With("worker", w.id)
	w.gw, err = gearman.NewWorker(w.servers,
		gearman.WithConcurrency(slots),
		gearman.WithClientID(wire.WorkerClientID(w.id, slots)),
		gearman.WithLogger(w.log))
	if err != nil {
		return nil, fmt.Errorf("cluster: worker: %w", err)
	}
	for _, f := range funcs {
		if err := w.gw.Register(f.GearmanName(), w.jobFunc(f)); err != nil {
			return nil, fmt.Errorf("cluster: worker: %w", err)
		}
	}
	if w.control, err = newControl(w); err != nil {
		return nil, fmt.Errorf("cluster: worker: command channel: %w", err)
	}
	w.controlDone = make(chan struct{})
	return w, nil
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
	return w
}

func newLogger(out io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}

// selectFunctions picks the functions named in names out of all, or all
// of them if names is empty.
func selectFunctions(all []wire.Function, names []string) ([]wire.Function, error) {
	if len(all) == 0 {
		return nil, errors.New("no functions are registered: the worker binary must import the package that calls pool.Register")
	}
	if len(names) == 0 {
		return all, nil
	}
	byName := make(map[string]wire.Function, len(all))
	for _, f := range all {
		byName[f.Name()] = f
	}
	var out []wire.Function
	var unknown []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("function %q listed twice", n)
		}
		seen[n] = true
		f, ok := byName[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		out = append(out, f)
	}
	if len(unknown) > 0 {
		return nil, &UnknownFunctionsError{Names: unknown, Registered: functionNames(all)}
	}
	return out, nil
}

// UnknownFunctionsError is returned by NewWorker when it is asked to serve
// functions this binary does not register.
type UnknownFunctionsError struct {
	Names      []string // the names asked for that are not registered
	Registered []string // every registered name
}

func (e *UnknownFunctionsError) Error() string {
	q := make([]string, len(e.Names))
	for i, n := range e.Names {
		q[i] = fmt.Sprintf("%q", n)
		if s, ok := strings.CutPrefix(n, wire.GearmanPrefix); ok && slices.Contains(e.Registered, s) {
			q[i] += fmt.Sprintf(" (did you mean %s?)", s)
		}
	}
	what := "function"
	if len(q) > 1 {
		what = "functions"
	}
	return fmt.Sprintf("unknown %s %s: this binary registers %s",
		what, strings.Join(q, ", "), strings.Join(e.Registered, ", "))
}

func functionNames(fs []wire.Function) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name()
	}
	return names
}

// newWorkerID makes "host-pid-random": readable in logs and listings,
// unique even for two processes that reuse a pid on one host. The host
// part keeps only characters that are safe in a client id and a shell.
func newWorkerID(host string, pid int) string {
	var b strings.Builder
	for _, r := range host {
		switch {
		case b.Len() >= 64:
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		b.WriteString("localhost")
	}
	var rnd [4]byte
	rand.Read(rnd[:]) // never fails (crypto/rand panics instead)
	return fmt.Sprintf("%s-%d-%s", b.String(), pid, hex.EncodeToString(rnd[:]))
}

// jobFunc serves one function: the chunk's outcome goes back unchanged
// (a failure is already a *gearman.JobException carrying the encoded task
// error); the worker only counts and logs. A cancel command for the
// chunk's map cancels its context (see chunkRegistry).
func (w *Worker) jobFunc(f wire.Function) gearman.JobFunc {
	name := f.Name()
	return func(ctx context.Context, job *gearman.Job) (result []byte, err error) {
		ctx, unregister, err := w.chunks.start(ctx, wire.ChunkMapID(job.Unique))
		if err != nil {
			w.log.Debug("chunk refused", "function", name, "job", job.Handle, "err", err)
			return nil, err
		}
		defer unregister()
		w.active.Add(1)
		start := time.Now()
		defer func() {
			w.chunkEnded(ctx, name, job.Handle, time.Since(start), len(result), context.Cause(ctx), err)
		}()
		// Tell the client who runs the chunk: if this process dies, the
		// client can count the workers the chunk went through.
		job.SendData(wire.ChunkStarted(w.id))
		return f.RunChunk(ctx, job.Data, w.id)
	}
}

// chunkEnded counts and logs a chunk's end. A chunk cancelled by its map
// is no failure: its client is gone and gearmand drops what it returns.
func (w *Worker) chunkEnded(ctx context.Context, name, handle string, took time.Duration, size int, cause, err error) {
	w.active.Add(-1)
	w.busy.Add(int64(took))
	w.requests.Add(1)
	switch {
	case err != nil && errors.Is(cause, errMapCancelled):
		w.log.Debug("chunk cancelled", "function", name, "job", handle, "took", took)
	case err != nil:
		w.failures.Add(1)
		msg := failureText(err)
		w.mu.Lock()
		w.lastErr, w.lastErrTime = msg, time.Now()
		w.mu.Unlock()
		w.log.Log(ctx, failureLevel(err), "chunk failed", "function", name, "job", handle, "took", took, "err", msg)
	default:
		w.log.Debug("chunk done", "function", name, "job", handle, "took", took, "bytes", size)
	}
}

// failureText makes a chunk's error readable for logs and Stats: the
// *pool.TaskError if it can be had, else the exception text if it is
// text. (The encoded task error is for the client, not for people.)
func failureText(err error) string {
	var te *pool.TaskError
	if errors.As(err, &te) {
		return firstLine(te.Error())
	}
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		if isText(ex.Data) {
			return firstLine(string(ex.Data))
		}
		return "task failed (its error was sent to the client)"
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	return strings.IndexFunc(string(b), func(r rune) bool {
		return !unicode.IsPrint(r) && r != '\n' && r != '\t'
	}) < 0
}

// ID is the worker's id, "host-pid-random".
func (w *Worker) ID() string { return w.id }

// Slots is how many chunks the worker runs at once.
func (w *Worker) Slots() int { return w.slots }

// Functions lists the registered names of the functions the worker serves.
func (w *Worker) Functions() []string { return functionNames(w.funcs) }

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
	defer w.closeControl(ctx)
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
	defer w.closeControl(ctx)
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

// Stats is a snapshot of a worker's counters (see pool.WorkerStats: the
// same data travels in heartbeats and ping replies).
type Stats = pool.WorkerStats

// Stats returns a snapshot of the worker's counters. It is safe to call
// at any time, from any goroutine.
func (w *Worker) Stats() Stats {
	s := Stats{
		Host:      w.host,
		PID:       w.pid,
		WorkerID:  w.id,
		Slots:     w.slots,
		Functions: w.Functions(),
		Start:     w.start,
		Time:      time.Now(),
		Active:    int(w.active.Load()),
		MemoryRSS: residentMemory(),
	}
	// Busy before Requests: a chunk ending between the two loads then
	// shows as one more request rather than as time with no request.
	s.Busy = time.Duration(w.busy.Load())
	s.Failures = w.failures.Load()
	s.Requests = w.requests.Load()
	w.mu.Lock()
	s.LastError, s.LastErrorTime = w.lastErr, w.lastErrTime
	w.mu.Unlock()
	return s
}

// residentMemory reads this process's resident set size from /proc; 0
// where that is not available.
func residentMemory() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
