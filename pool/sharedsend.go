package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// How a map's shared value reaches its workers. A client cannot send a job
// to a chosen worker (gearmand gives each to whichever asks), nor serve
// one (a worker cannot call back), so every chunk names the value by its
// hash only, and a worker that lacks it answers wire.CodeNeedShared before
// it starts the chunk; the client then sends that chunk again with the
// value inline. Without more, every chunk in flight at the map's start
// would come back asking and go again with a copy, so the client keeps one
// inline copy in flight at a time: the other chunks that were sent back
// wait until a worker announces that copy (its start notice), then go
// again by hash if the worker that asked holds the value or is loading it
// (its slots wait for a load under way), else wait for the next inline
// copy, or become it. A copy taken by a worker that had the value already
// costs one more; gearmand tends to give it to an idle worker, which the
// ones that asked are.

// maxSharedNeeds bounds the times one chunk is sent again for its shared
// value: past it the map fails, rather than loop on a worker that keeps
// asking (one whose shared_cache_bytes is below the value's size asks for
// every chunk: its chunks go one inline copy at a time).
const maxSharedNeeds = 64

// sharedSender is a map's side of its shared value.
type sharedSender struct {
	arg *sharedArg

	mu       sync.Mutex
	inflight int                 // inline copies sent and not yet announced by a worker
	holders  map[string]struct{} // workers that started a chunk of the value
	changed  chan struct{}       // closed (and replaced) when the above change

	inlineSent atomic.Int64 // inline copies sent, for tests
}

func newSharedSender(arg *sharedArg) *sharedSender {
	return &sharedSender{arg: arg, holders: map[string]struct{}{}, changed: make(chan struct{})}
}

// plan says how the chunk that worker asked for goes again: by hash if
// the worker is known to hold or load the value and asked for the chunk
// once only, else inline once no other inline copy is in flight.
func (s *sharedSender) plan(ctx context.Context, worker string, needs int) (inline bool, err error) {
	for {
		s.mu.Lock()
		_, holds := s.holders[worker]
		switch {
		case holds && needs < 2:
			s.mu.Unlock()
			return false, nil // it is loading the value, or got it since it asked
		case s.inflight == 0:
			s.inflight++
			s.mu.Unlock()
			s.inlineSent.Add(1)
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
		s.inflight--
	}
	s.signal()
}

// settled notes an inline copy that ended with no start notice.
func (s *sharedSender) settled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
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

// needsShared says whether err is a worker's CodeNeedShared answer, and
// which worker it is.
func (c *chunkCall[In, Out]) needsShared(err error) (string, bool) {
	var ex *gearman.JobException
	if c.m.share == nil || !errors.As(err, &ex) {
		return "", false
	}
	te := parseTaskError(c.m.f.name, ex.Data)
	return te.Worker, te.Code == wire.CodeNeedShared
}

// resendShared sends the chunk again after worker asked for its shared
// value: inline, or by hash once a copy landed (sharedSender.plan).
func (c *chunkCall[In, Out]) resendShared(worker string) (*gearman.Task, error) {
	if c.needs++; c.needs > maxSharedNeeds {
		return nil, &encodeError{fmt.Errorf("pool: %s: %s: workers asked for its shared value %d times (worker %s last): their shared_cache_bytes may be below the value's size",
			c.m.f.name, c.f.span(), c.needs, worker)}
	}
	inline, err := c.m.share.plan(c.ctx, worker, c.needs)
	if err != nil {
		return nil, err
	}
	c.inlineOut.Store(inline)
	c.payload = c.withShared(inline)
	return c.submit()
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
		c.m.share.settled()
	}
}
