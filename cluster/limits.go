package cluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// chunkLimits are a worker's [worker] limits on one chunk: its size, its
// items and what decoding it allocates, checked before it is decoded;
// and how long it may run.
type chunkLimits struct {
	maxBytes  int
	wire      wire.Limits
	timeLimit time.Duration
	// grace is how long a chunk over its time limit has to return once
	// its context is cancelled, before the worker gives its slot up for
	// lost and restarts.
	grace time.Duration
}

// limitGrace is chunkLimits.grace: a function that watches its context
// returns well within it.
const limitGrace = 2 * time.Second

// packetSlack is what a JOB_ASSIGN_UNIQ packet holds besides the chunk:
// the job handle, the Gearman function name (at most 208 bytes) and the
// unique id (at most 63).
const packetSlack = 4 << 10

// withLimitDefaults fills in the limits left 0.
func withLimitDefaults(w config.Worker) config.Worker {
	d := config.DefaultWorker()
	for _, l := range []struct{ v, d *int }{
		{&w.MaxChunkBytes, &d.MaxChunkBytes}, {&w.MaxChunkItems, &d.MaxChunkItems},
		{&w.MaxExpansion, &d.MaxExpansion}, {&w.CrashLoopLimit, &d.CrashLoopLimit},
	} {
		if *l.v == 0 {
			*l.v = *l.d
		}
	}
	if w.ChunkTimeLimit == 0 {
		w.ChunkTimeLimit = d.ChunkTimeLimit
	}
	return w
}

func newChunkLimits(wc config.Worker) chunkLimits {
	return chunkLimits{
		maxBytes:  wc.MaxChunkBytes,
		wire:      wire.Limits{MaxItems: wc.MaxChunkItems, MaxExpansion: wc.MaxExpansion},
		timeLimit: wc.ChunkTimeLimit,
		grace:     limitGrace,
	}
}

// maxPacket is the gearman.Worker's packet size limit: a job over it is
// skipped unread and failed by refuseUnread; a chunk between maxBytes and
// it is read, and refused by checkLimits. Either way the client's error
// names max_chunk_bytes.
func (l chunkLimits) maxPacket() int { return l.maxBytes + packetSlack }

// checkLimits refuses a chunk over the worker's max_chunk_bytes,
// max_chunk_items or max_expansion before anything of it is decoded.
func (w *Worker) checkLimits(f wire.Function, job *gearman.Job) error {
	l := w.limits
	if len(job.Data) > l.maxBytes {
		return w.refuseChunk(f.Name(), job, w.bytesOver(len(job.Data)))
	}
	var item reflect.Type // nil: estimated as any
	if typed, ok := f.(wire.ItemTyped); ok {
		item = typed.ItemType()
	}
	if err := wire.CheckChunk(job.Data, item, l.wire); err != nil {
		var le *wire.LimitError
		if errors.As(err, &le) {
			return w.refuseChunk(f.Name(), job, le)
		}
		return err
	}
	return nil
}

func (w *Worker) bytesOver(size int) *wire.LimitError {
	return &wire.LimitError{Limit: wire.LimitChunkBytes, Value: int64(size), Max: int64(w.limits.maxBytes), Payload: int64(size)}
}

// refuseUnread fails a chunk whose packet was over the gearman.Worker's
// size limit: it was skipped, never read (gearman.WithOversizeJobs).
func (w *Worker) refuseUnread(job *gearman.Job, size int) error {
	job.Function = strings.TrimSuffix(job.Function, "@"+w.id) // a shared value's alias (sharedcache.go)
	name := strings.TrimPrefix(job.Function, wire.GearmanPrefix)
	err := w.refuseChunk(name, job, w.bytesOver(size))
	w.log.Warn("chunk failed", "function", name, "job", job.Handle, "err", failureText(err))
	w.failures.Add(1)
	w.countChunk(name, nil, nil, 0, 0, nil, err)
	// Sealed like any answer of ours (chunkauth.go): a keyed client
	// takes nothing else, and would resubmit the chunk as if a rogue had
	// answered. The chunk itself was never read, so never checked.
	_, err = w.sealOutcome(job, nil, nil, err)
	return err
}

// refuseChunk is the error of a chunk refused for a limit: a
// *gearman.JobException carrying a *pool.TaskError that names the limit,
// the chunk and the function, as the client's other task errors do.
func (w *Worker) refuseChunk(name string, job *gearman.Job, le *wire.LimitError) error {
	te := &pool.TaskError{Func: name, Index: -1, Worker: w.id, Limit: le.Limit,
		Message: fmt.Sprintf("%s refused: %v", chunkName(job), le)}
	return taskFailure(te) // chunkEnded logs it
}

// chunkName names a chunk job in errors: by its unique id (a pool's is
// "<map id>-<chunk>") and job handle.
func chunkName(job *gearman.Job) string {
	if job.Unique == "" {
		return "job " + job.Handle
	}
	return fmt.Sprintf("chunk %q (job %s)", job.Unique, job.Handle)
}

// taskFailure is a chunk's failure as the client reads it: a
// *gearman.JobException whose data is the encoded task error. The worker
// finds the *pool.TaskError in it for its logs and stats.
func taskFailure(te *pool.TaskError) error {
	data, err := wire.Encode(te)
	if err != nil { // cannot happen for strings and ints; keep the text
		data = []byte(te.Error())
	}
	return &failure{te: te, ex: &gearman.JobException{Data: data}}
}

type failure struct {
	te *pool.TaskError
	ex *gearman.JobException
}

func (e *failure) Error() string   { return e.te.Error() }
func (e *failure) Unwrap() []error { return []error{e.te, e.ex} }

// errTimeLimit is the cause of a chunk's context cancelled at the
// worker's chunk_time_limit.
var errTimeLimit = errors.New("the chunk ran past the worker's chunk_time_limit")

// runLimited runs the chunk for at most the time limit: past it the
// chunk's context is cancelled and the chunk fails with a task error
// naming the limit. A function that does not return within the grace
// after that is left running, its slot given back, and the worker asks to
// be restarted: that is how the goroutine it pins is reclaimed. cancel
// cancels ctx (chunkRegistry.start's).
func (w *Worker) runLimited(ctx context.Context, cancel context.CancelCauseFunc, f wire.Function, job *gearman.Job) (result []byte, more [][]byte, err error) {
	headroom, slot := resultHeadroom(ctx)
	done := make(chan chunkOutcome, 1)
	w.runners.Go(func() {
		var o chunkOutcome
		defer func() {
			if v := recover(); v != nil { // as gearman.Worker would
				o = chunkOutcome{err: &gearman.PanicError{Value: v, Stack: debug.Stack()}}
			}
			done <- o
		}()
		o = runChunk(ctx, f, job, w.id, headroom)
	})
	limit := time.NewTimer(w.limits.timeLimit)
	defer limit.Stop()
	select {
	case o := <-done:
		return o.deliver(headroom, slot)
	case <-limit.C:
	}
	cancel(errTimeLimit)
	grace := time.NewTimer(w.limits.grace)
	defer grace.Stop()
	select {
	case <-done:
		return nil, nil, w.timeLimitFailure(f, job, true)
	case <-grace.C:
		return nil, nil, w.timeLimitFailure(f, job, false)
	}
}

// deliver hands the outcome over: the result after its headroom (sealed
// in place later, see chunkauth.go), or its first part and the others,
// which follow it (gearman.Job.SetMoreResult, or a direct path's
// connection: see jobFunc).
func (o chunkOutcome) deliver(headroom int, slot *resultSlot) (result []byte, more [][]byte, err error) {
	switch {
	case o.err != nil:
		return o.result, nil, o.err
	case headroom > 0:
		slot.frame = o.result
		return o.result[headroom:], nil, nil
	}
	return o.result, o.more, nil
}

type chunkOutcome struct {
	result []byte
	more   [][]byte // the result goes on with these (gearman.Job.SetMoreResult)
	err    error
}

// runChunk runs the chunk. With headroom (a cluster key seals the result
// in place) the result is one piece; without, a result holding large
// byte strings comes in parts that are sent from where they are.
func runChunk(ctx context.Context, f wire.Function, job *gearman.Job, worker string, headroom int) (o chunkOutcome) {
	if headroom > 0 {
		o.result, o.err = wire.RunChunkAfter(ctx, f, job.Data, worker, headroom)
		return o
	}
	parts, err := wire.RunChunkParts(ctx, f, job.Data, worker)
	if err != nil {
		return chunkOutcome{err: err}
	}
	o.result = parts[0]
	if len(parts) > 1 {
		o.more = parts[1:]
	}
	return o
}

// timeLimitFailure is the error of a chunk stopped at the time limit. If
// its function ignored the cancelled context (returned is false), the
// worker also asks to be restarted.
func (w *Worker) timeLimitFailure(f wire.Function, job *gearman.Job, returned bool) error {
	te := &pool.TaskError{Func: f.Name(), Index: -1, Worker: w.id, Timeout: true, Limit: wire.LimitChunkTime,
		Message: fmt.Sprintf("%s ran past the worker's %s (%v)", chunkName(job), wire.LimitChunkTime, w.limits.timeLimit)}
	if returned {
		return taskFailure(te) // chunkEnded logs it
	}
	te.Message += fmt.Sprintf(" and ignored its cancelled context for %v; the worker restarts to reclaim the slot", w.limits.grace)
	w.log.Error("chunk over the time limit ignores its cancelled context; restarting to reclaim its slot",
		"function", f.Name(), "job", job.Handle, "limit", w.limits.timeLimit)
	w.requestRestart("chunk " + job.Handle + " over " + wire.LimitChunkTime)
	return taskFailure(te)
}

// requestRestart asks whoever runs the worker to restart it (see
// Worker.StopRequested), as the restart command does, unless it is
// stopping already. A worker that runs inside a program (refuseStops)
// cannot be restarted: it logs that the slot stays lost.
func (w *Worker) requestRestart(why string) {
	c := w.control
	if c.refuseStop != "" {
		w.log.Error("cannot restart to reclaim the slot: "+c.refuseStop, "why", why)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return
	}
	select {
	case c.stop <- StopRequest{Command: why, Restart: true}:
		c.stopping = true
	default:
	}
}
