package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/direct"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// errCrashLoop stops a copy whose chunk went to more workers than its
// retries allow.
var errCrashLoop = errors.New("crash loop")

// chunkCall is one copy of a chunk: its job, resubmitted on failures that
// are not the function's fault, and what the map knows about it.
type chunkCall[In, Out any] struct {
	m       *mapRun[In, Out]
	f       *flight[In]
	unique  string
	ctx     context.Context
	stop    context.CancelCauseFunc
	payload []byte // the encoded chunk
	// more: the encoded chunk goes on with these, the large items' own
	// bytes, sent from where they are (encode)
	more [][]byte
	// offer: the payload goes by the direct path (direct.go): the job
	// carries a reference to it; inline is the payload, head and items,
	// should a worker fail to fetch it
	offer  *direct.Offer
	inline [][]byte

	// A map with a shared value (sharedsend.go).
	body       []byte           // the encoded chunk after its shared value header
	needs      int              // times a worker asked for the value (run's goroutine)
	inlineOut  atomic.Bool      // an attempt carrying the value inline awaits its start notice
	function   string           // the attempt's Gearman function if not the map's (a worker's alias)
	onAlias    atomic.Bool      // function is a worker's alias (read by checkJob)
	target     string           // the worker the attempt's copy of the value went to
	targetWait <-chan time.Time // when to give up on that copy's start notice

	// deferWrite: submit queues the job without writing it (the map's
	// goroutine writes it with others, flushSubmits).
	deferWrite bool

	lost    chan *ChunkLostError // the silent-chunk check found the job gone
	forgedN int                  // answers that failed the key check (run's goroutine)

	mu     sync.Mutex
	starts []string      // the workers that announced the chunk (ChunkStarted)
	task   *gearman.Task // the latest attempt's job
	news   time.Time     // when the job server last said something about it
}

// state returns the latest attempt's job and the worker that announced
// it last, if any.
func (c *chunkCall[In, Out]) state() (*gearman.Task, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.starts) == 0 {
		return c.task, ""
	}
	return c.task, c.starts[len(c.starts)-1]
}

// submitAfter encodes the chunk and submits it once after is closed.
func (c *chunkCall[In, Out]) submitAfter(after <-chan struct{}) (*gearman.Task, error) {
	payload, err := c.encode()
	select {
	case <-after:
	case <-c.ctx.Done():
		return nil, c.ctx.Err()
	}
	if err != nil {
		return nil, &encodeError{fmt.Errorf("pool: %s: cannot encode %s: %w", c.m.f.name, c.f.span(), err)}
	}
	c.putSharedHeader(payload)
	c.payload = c.seal(payload)
	c.offerDirect()
	return c.submit()
}

// encode encodes the chunk: into one buffer, or, for large items the
// caller holds until the map ends, as a head with the items' own bytes
// after it in c.more, not copied (a chunk of 1 MB items cost a copy of
// every item, and the memory for it).
func (c *chunkCall[In, Out]) encode() ([]byte, error) {
	req := wire.ChunkRequest[In]{Start: c.f.start, TaskTimeout: int64(c.m.o.taskTimeout), Items: c.f.items,
		InType: c.m.f.shapes.wireIn, OutType: c.m.f.shapes.wireOut}
	if !c.sendsInPlace() {
		return wire.EncodeSized(c.m.p.headroom()+c.sharedHeaderRoom(), c.m.chunkBufferSize(c.f.items), req)
	}
	parts, err := wire.EncodeParts(256+32*len(c.f.items), req)
	if err != nil {
		return nil, err
	}
	c.more = parts[1:]
	return parts[0], nil
}

// sendsInPlace says whether the chunk is sent from its items' memory: its
// items are large and are the slice given to Map, which holds them until
// it returns, and neither a cluster key (its MAC is over one contiguous
// payload) nor a shared value's header (sharedsend.go) needs the payload
// in one piece.
func (c *chunkCall[In, Out]) sendsInPlace() bool {
	m := c.m
	return m.itemsHeld && m.p.key == nil && m.share == nil && m.sizer != nil && m.sizer.perItem.Load() >= wire.PartMin
}

// encodeError is a chunk that cannot be encoded: no attempt can help.
type encodeError struct{ error }

func (e *encodeError) Unwrap() error { return e.error }

// submit sends one attempt without waiting for the job server's answer.
func (c *chunkCall[In, Out]) submit() (*gearman.Task, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	function := c.function
	if function == "" {
		function = wire.GearmanPrefix + c.m.f.name
	}
	opts := []gearman.SubmitOption{gearman.WithUnique(c.unique), gearman.WithPriority(c.priority()), gearman.WithUpdates(c.onUpdate), nil}[:3]
	if c.deferWrite {
		opts = append(opts, gearman.WithDeferredWrite())
	}
	if c.more != nil {
		opts = append(opts, gearman.WithMoreData(c.more...))
	}
	task, err := c.m.client.Dispatch(c.ctx, function, c.payload, opts...)
	if err == nil {
		c.mu.Lock()
		c.task, c.news = task, time.Now()
		c.mu.Unlock()
	}
	return task, err
}

// onUpdate counts the workers that start the chunk. gearmand gives the
// chunk of a worker that died to another one on its own, forever unless
// run with --job-retries: past Retries+1 starts, stop. It runs on the
// connection's reader goroutine.
func (c *chunkCall[In, Out]) onUpdate(u gearman.Update) {
	c.heard()
	if u.Kind != gearman.UpdateData {
		return
	}
	worker, ok := c.startedBy(u.Data)
	if !ok {
		return
	}
	c.sharedStarted(worker)
	c.mu.Lock()
	c.starts = append(c.starts, worker)
	n := len(c.starts)
	c.mu.Unlock()
	if n > c.m.o.retries+1 {
		if n == c.m.o.retries+2 {
			c.m.p.counters.crashLoops.Add(1)
		}
		c.stop(errCrashLoop)
	}
}

// ended says why the copy's context ended.
func (c *chunkCall[In, Out]) ended() error {
	if context.Cause(c.ctx) != errCrashLoop {
		return context.Cause(c.ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &CrashLoopError{Func: c.m.f.name, Chunk: c.f.idx, First: c.f.start, Last: c.f.last(), Workers: slices.Clone(c.starts)}
}

// run waits for the first attempt (task, or the error of its submission)
// and resubmits after failures that Retries allows, and after answers
// that failed the key check, up to maxForgedResults of them.
func (c *chunkCall[In, Out]) run(task *gearman.Task, err error) (_ []Out, runErr error) {
	defer c.stop(nil)
	defer c.dropOffer()
	defer c.inlineEnded()
	defer func() { c.leaveCopy(runErr) }()
	var lastErr error
	for attempt := 0; ; {
		var data []byte
		if err == nil {
			data, err = c.wait(task)
			data, err = c.verify(task, data, err)
		}
		c.inlineEnded()
		var resend bool
		if data, err, resend = c.directAnswer(data, err); resend {
			task, err = c.submit()
			continue
		}
		if err == nil {
			return c.results(data)
		}
		if c.ctx.Err() != nil {
			return nil, c.ended()
		}
		if worker, dropped, ok := c.needsShared(err); ok || c.copyLost(task, err) {
			task, err = c.resendShared(worker, dropped)
			continue
		}
		pause, ferr := c.afterForged(err)
		if ferr != nil {
			return nil, ferr
		}
		if pause == 0 {
			if lastErr, err = c.retryable(err); err != nil {
				return nil, err
			}
			if attempt++; attempt > c.m.o.retries {
				return nil, c.failed(lastErr)
			}
			c.m.p.counters.retries.Add(1)
			pause = time.Duration(attempt) * 50 * time.Millisecond
		}
		select {
		case <-time.After(pause):
		case <-c.ctx.Done():
			return nil, c.ended()
		}
		task, err = c.submit()
	}
}

// afterForged handles an answer that failed the key check: with a key,
// it reports the rogue and returns how long to pause before the chunk is
// submitted again, or the error once the budget is spent; without one,
// the error. A zero pause and no error: err is not such an answer.
func (c *chunkCall[In, Out]) afterForged(err error) (time.Duration, error) {
	var fe *ForgedResultError
	if !errors.As(err, &fe) {
		return 0, nil
	}
	if c.m.p.key == nil || fe.Attempts > maxForgedResults {
		return 0, fe
	}
	c.m.p.reportForged(c.ctx, fe)
	return time.Duration(min(fe.Attempts, 4)) * 5 * time.Millisecond, nil
}

// wait waits for the attempt's job to end, to be found lost at its job
// server, or for the copy's context.
func (c *chunkCall[In, Out]) wait(task *gearman.Task) ([]byte, error) {
	for {
		select {
		case <-task.Done():
			return task.Result()
		case lost := <-c.lost:
			if lost.Handle == task.Handle().Handle {
				if c.onAlias.Load() { // its worker is gone: see checkJob
					return nil, errSharedTargetSilent
				}
				return nil, lost
			}
			// A previous attempt's job: stale news.
		case <-c.targetWait:
			if c.targetSilent() {
				return nil, errSharedTargetSilent
			}
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		}
	}
}

// retryable sorts an attempt's error: worth another attempt (returned
// first), or final (second).
func (c *chunkCall[In, Out]) retryable(err error) (error, error) {
	var ee *encodeError
	if errors.As(err, &ee) {
		return nil, ee.error
	}
	var le *ChunkLostError
	if errors.As(err, &le) {
		return le, nil
	}
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		te := c.m.f.explain(parseTaskError(c.m.f.name, ex.Data))
		if !c.m.o.retryTaskErrors {
			return nil, te
		}
		return te, nil
	}
	if !errors.Is(err, gearman.ErrJobFailed) && !errors.Is(err, gearman.ErrConnectionLost) {
		return nil, fmt.Errorf("pool: %s: %s: %w", c.m.f.name, c.f.span(), err)
	}
	return err, nil
}

func (c *chunkCall[In, Out]) results(data []byte) ([]Out, error) {
	var res wire.ChunkResult[Out]
	if err := wire.Decode(data, &res); err != nil {
		return nil, fmt.Errorf("pool: %s: cannot decode the results of %s: %w", c.m.f.name, c.f.span(), err)
	}
	want := len(c.f.items)
	if c.m.o.folded {
		want = 1
	}
	if len(res.Items) != want {
		return nil, fmt.Errorf("pool: %s: %s came back with %d results, want %d", c.m.f.name, c.f.span(), len(res.Items), want)
	}
	return res.Items, nil
}

// failed is the error of a copy whose every attempt failed.
func (c *chunkCall[In, Out]) failed(lastErr error) error {
	var te *TaskError
	var le *ChunkLostError
	if errors.As(lastErr, &te) || errors.As(lastErr, &le) {
		return lastErr
	}
	return &ChunkFailedError{Func: c.m.f.name, Chunk: c.f.idx, First: c.f.start, Last: c.f.last(),
		Attempts: c.m.o.retries + 1, Err: lastErr}
}

// ChunkLostError is a chunk whose job its job server no longer knew, with
// no word to the client, on its last attempt: the job was cancelled with
// the admin command "cancel job" (the admin port has no authentication)
// or dropped. The map finds such chunks with GET_STATUS (see
// CheckSilentChunks) and resubmits them as Retries allows.
type ChunkLostError struct {
	Func        string // registered function name
	Chunk       int    // the chunk's index in the map
	First, Last int    // input indexes of its first and last items
	Server      string // the job server that lost it
	Handle      string // the job's handle there
}

func (e *ChunkLostError) Error() string {
	return fmt.Sprintf("pool: %s: %s was lost at job server %s: it no longer knows job %s (cancelled there, as by the admin command \"cancel job\", or dropped)",
		e.Func, chunkSpan(e.Chunk, e.First, e.Last), e.Server, e.Handle)
}

// heard notes news from the job server about the chunk's job.
func (c *chunkCall[In, Out]) heard() {
	c.mu.Lock()
	c.news = time.Now()
	c.mu.Unlock()
}

// silentJob returns the attempt's job if the job server has said nothing
// about it since before; nil if it has, or the job has no handle yet or
// has ended.
func (c *chunkCall[In, Out]) silentJob(before time.Time) *gearman.Task {
	c.mu.Lock()
	task, news := c.task, c.news
	c.mu.Unlock()
	if task == nil || !news.Before(before) || isDone(task) || task.Handle().Handle == "" {
		return nil
	}
	return task
}

// checkJob asks the job server about a silent job; if it no longer knows
// it, the copy hears that its job was lost. The answer comes on the
// connection that carries the job's results, after them: a job that ended
// first is done by then, and is left alone.
func (c *chunkCall[In, Out]) checkJob(ctx context.Context, task *gearman.Task) {
	h := task.Handle()
	st, err := c.m.client.Status(ctx, h)
	if err != nil || isDone(task) {
		return // a broken connection shows on the job itself
	}
	c.heard()
	if st.Known && (st.Running || !c.onAlias.Load()) {
		return // queued or running
	}
	// Lost, or queued under a worker's alias (sharedsend.go) with no news:
	// that worker died holding it (gearmand queued it again, for that
	// worker alone) or is busy elsewhere; the chunk goes to any worker.
	lost := &ChunkLostError{Func: c.m.f.name, Chunk: c.f.idx, First: c.f.start, Last: c.f.last(), Server: h.Server, Handle: h.Handle}
	select {
	case c.lost <- lost:
	default: // one is waiting already
	}
}
