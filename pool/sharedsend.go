package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// How a map's shared value reaches its workers. A client cannot serve a
// job (a worker cannot call back for the value), so every chunk names the
// value by its hash only, and a worker that lacks it answers
// wire.CodeNeedShared before it starts the chunk. The client sends that
// chunk again with the value inline to that worker alone, under the alias
// it serves the function by (wire.SharedAlias): sent to the function
// itself, the copy went mostly to a worker that held the value already and
// was asking for work, and a 2-worker map sent 6 to 10 copies. One copy
// per worker is in flight at a time: the worker's other chunks that came
// back wait for its start notice for the copy, then go again by hash (its
// slots wait for a load under way). A worker that says it dropped the
// value (evicted it) gets another copy. A copy whose worker never
// announces it within sharedTargetWait (the worker died), or that its job
// server still holds queued with no news at the map's silent-chunk check
// (the worker died holding it, and gearmand queued it again under the
// alias), is given up, and the chunk goes inline to the function itself;
// that worker gets no more copies from the map. gearmand would keep such
// an abandoned job for ever (nobody else serves the alias): the pool
// sweeps it (sharedsweep.go).

// maxSharedNeeds bounds the times one chunk is sent again for its shared
// value: past it the map fails, rather than loop on a worker that keeps
// asking (one whose shared_cache_bytes is below the value's size asks for
// every chunk, each of which then goes with a copy).
const maxSharedNeeds = 64

// sharedTargetWait is how long a copy sent to one worker may go without
// its start notice before the chunk goes to the function itself.
const sharedTargetWait = 10 * time.Second

// errSharedTargetSilent: a copy sent to one worker was not announced
// within sharedTargetWait.
var errSharedTargetSilent = errors.New("the worker that asked for the shared value did not take its copy")

// sharedSender is a map's side of its shared value.
type sharedSender struct {
	arg *sharedArg

	mu      sync.Mutex
	sending map[string]struct{} // workers sent a copy not yet announced
	holders map[string]struct{} // workers that started a chunk of the value
	gone    map[string]struct{} // workers a copy was lost to: sent no more
	changed chan struct{}       // closed (and replaced) when the above change
}

func newSharedSender(arg *sharedArg) *sharedSender {
	return &sharedSender{arg: arg, sending: map[string]struct{}{}, holders: map[string]struct{}{}, gone: map[string]struct{}{}, changed: make(chan struct{})}
}

// plan says how the chunk that worker asked for goes again: with a copy
// to that worker (inline) unless one is on its way, else by hash once the
// worker announces it. worker "": inline to any. A worker that announced
// a copy and asks again (its slots answer concurrently, so its answer to
// a chunk that came before the copy can follow the copy's notice) is taken
// to be loading it, unless it says it dropped the value (evicted it, or
// failed to load it).
func (s *sharedSender) plan(ctx context.Context, worker string, dropped bool) (inline bool, err error) {
	if dropped {
		s.mu.Lock()
		delete(s.holders, worker)
		s.mu.Unlock()
	}
	for {
		s.mu.Lock()
		_, holds := s.holders[worker]
		_, sending := s.sending[worker]
		switch {
		case worker == "":
			s.mu.Unlock()
			return true, nil
		case holds:
			s.mu.Unlock()
			return false, nil // it announced the copy since it asked: it loads it
		case !sending:
			s.sending[worker] = struct{}{}
			s.mu.Unlock()
			return true, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// started notes a worker's start notice for a chunk: it holds the value,
// or is loading the copy the chunk carries (inline).
func (s *sharedSender) started(worker string, inline bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, known := s.holders[worker]
	if known && !inline {
		return
	}
	s.holders[worker] = struct{}{}
	if inline {
		delete(s.sending, worker)
	}
	s.signal()
}

// forget notes a worker that a copy was lost to: it died, or is too busy
// to take one; the chunks it asks for go inline to any worker from now on.
func (s *sharedSender) forget(worker string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone[worker] = struct{}{}
}

// forgotten says whether worker was forgotten.
func (s *sharedSender) forgotten(worker string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.gone[worker]
	return ok
}

// settled notes a copy sent to worker that ended with no start notice.
func (s *sharedSender) settled(worker string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sending, worker)
	s.signal()
}

// signal wakes the chunks waiting in plan. Called with s.mu held.
func (s *sharedSender) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// sharedHeaderRoom is the room a chunk's encoding leaves for the header
// naming its shared value by hash: 0 without one.
func (c *chunkCall[In, Out]) sharedHeaderRoom() int {
	if c.m.share == nil {
		return 0
	}
	return wire.SharedHeaderSize(c.m.share.arg.ref(false))
}

// putSharedHeader writes the hash-only header in the room left in front
// of the encoded chunk (after the key's headroom) and keeps the chunk's
// encoding for inline copies.
func (c *chunkCall[In, Out]) putSharedHeader(payload []byte) {
	if c.m.share == nil {
		return
	}
	h := c.m.p.headroom()
	c.body = wire.PutSharedHeader(payload[h:], c.m.share.arg.ref(false))
}

// needsShared says whether err is a worker's CodeNeedShared answer, which
// worker it is, and whether the worker dropped the value.
func (c *chunkCall[In, Out]) needsShared(err error) (worker string, dropped, ok bool) {
	var ex *gearman.JobException
	if c.m.share == nil || !errors.As(err, &ex) {
		return "", false, false
	}
	te := parseTaskError(c.m.f.name, ex.Data)
	return te.Worker, te.Code == wire.CodeSharedDropped, te.Code == wire.CodeNeedShared || te.Code == wire.CodeSharedDropped
}

// resendShared sends the chunk again after worker asked for its shared
// value ("": its copy went unannounced): by hash, or inline to the worker
// (sharedSender.plan).
func (c *chunkCall[In, Out]) resendShared(worker string, dropped bool) (*gearman.Task, error) {
	if c.needs++; c.needs > maxSharedNeeds {
		return nil, &encodeError{fmt.Errorf("pool: %s: %s: workers asked for its shared value %d times (worker %s last): their shared_cache_bytes may be below the value's size",
			c.m.f.name, c.f.span(), c.needs, worker)}
	}
	alias := wire.SharedAlias(c.gearmanName(), worker)
	if alias == "" || c.m.share.forgotten(worker) {
		worker = ""
	}
	inline, err := c.m.share.plan(c.ctx, worker, dropped)
	if err != nil {
		return nil, err
	}
	c.function, c.targetWait = "", nil
	if inline && worker != "" {
		c.function, c.targetWait = alias, time.After(sharedTargetWait)
	}
	c.onAlias.Store(c.function != "")
	c.target = worker
	c.inlineOut.Store(inline)
	c.payload = c.withShared(inline)
	return c.submit()
}

// targetSilent says whether the copy sent to one worker is still not
// announced, once sharedTargetWait is over.
func (c *chunkCall[In, Out]) targetSilent() bool {
	c.targetWait = nil
	return c.function != "" && c.inlineOut.Load()
}

// withShared is the chunk's job data with its shared value inline or by
// hash, sealed.
func (c *chunkCall[In, Out]) withShared(inline bool) []byte {
	ref := c.m.share.arg.ref(inline)
	h, n := c.m.p.headroom(), wire.SharedHeaderSize(ref)
	buf := make([]byte, h+n+len(c.body))
	wire.PutSharedHeader(buf[h:], ref)
	copy(buf[h+n:], c.body)
	return c.seal(buf)
}

// sharedStarted tells the map's sender that worker started the chunk.
func (c *chunkCall[In, Out]) sharedStarted(worker string) {
	if c.m.share != nil {
		c.m.share.started(worker, c.inlineOut.CompareAndSwap(true, false))
	}
}

// inlineEnded tells the sender that an attempt carrying the value inline
// ended without a start notice.
func (c *chunkCall[In, Out]) inlineEnded() {
	if c.inlineOut.CompareAndSwap(true, false) {
		c.m.share.settled(c.target)
	}
}

// copyLost says whether an attempt that carried the value to one worker
// (under its alias) will not reach it: the worker did not take it in time
// or died holding it (errSharedTargetSilent), or a sweep failed the job.
// The map then sends that worker no more copies (its chunks go inline to
// any worker) and sweeps the job if its job server still holds it.
func (c *chunkCall[In, Out]) copyLost(task *gearman.Task, err error) bool {
	if !errors.Is(err, errSharedTargetSilent) && !c.swept(err) {
		return false
	}
	if c.function != "" {
		c.m.share.forget(c.target)
		c.sweepCopy(task)
	}
	return true
}

// swept says whether err is the failure a sweep gives a copy job
// (sharedsweep.go): a copy to a worker gone, or given up by another map.
func (c *chunkCall[In, Out]) swept(err error) bool {
	var ex *gearman.JobException
	return c.function != "" && errors.As(err, &ex) && string(ex.Data) == errAbandonedCopy.Error()
}

// leaveCopy sweeps the attempt's copy if the chunk ends (the map was
// cancelled or failed) while the copy may still be queued under its
// worker's alias.
func (c *chunkCall[In, Out]) leaveCopy(err error) {
	if err == nil || c.function == "" {
		return
	}
	c.mu.Lock()
	task := c.task
	c.mu.Unlock()
	c.sweepCopy(task)
}

// sweepCopy sweeps the alias that task went to, at its job server (at
// every one if it has no handle yet), unless the task is over.
func (c *chunkCall[In, Out]) sweepCopy(task *gearman.Task) {
	var servers []string
	if task != nil {
		if isDone(task) {
			return
		}
		if h := task.Handle(); h.Server != "" {
			servers = []string{h.Server}
		}
	}
	c.m.p.sweepAlias(c.function, servers...)
}
