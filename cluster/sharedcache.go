package cluster

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// The worker's cache of shared values (pool.RegisterWith): decoded once
// per worker process, by the slot whose chunk brought the value inline,
// and handed to every slot's chunks that name it by hash. Values are kept
// by content hash and type, least recently used first out once their
// encoded sizes add up to more than the [worker] shared_cache_bytes
// budget.

// sharedKey names a cached value: the same bytes decode differently for
// two types.
type sharedKey struct {
	hash  [wire.SharedHashSize]byte
	shape string
}

// sharedEntry is a value being decoded (ready open) or decoded.
type sharedEntry struct {
	key   sharedKey
	size  int64 // encoded bytes, counted against the budget
	ready chan struct{}
	value any
	err   error
	elem  *list.Element // in sharedCache.lru; nil once dropped
	// counted: loaded and kept, its size in sharedCache.used.
	counted bool
}

// sharedCache is shared by every slot of a worker.
type sharedCache struct {
	budget int64
	log    *slog.Logger

	mu      sync.Mutex
	used    int64
	entries map[sharedKey]*sharedEntry
	lru     list.List // of *sharedEntry, most recent first
	decodes int64     // values decoded, for tests and Stats
	// dropped are values evicted or failed, so that a worker asked for
	// one again says it dropped it (wire.CodeSharedDropped).
	dropped map[sharedKey]struct{}
}

// maxDropped bounds sharedCache.dropped; past it the set starts afresh.
const maxDropped = 1024

func newSharedCache(budget int64, log *slog.Logger) *sharedCache {
	return &sharedCache{budget: budget, log: log, entries: map[sharedKey]*sharedEntry{}, dropped: map[sharedKey]struct{}{}}
}

// begin finds the value a chunk names, or starts loading the one it
// carries inline: the entry, and whether the caller must decode it
// (load). nil if the value is neither cached, being loaded nor inline;
// dropped then says whether it was once.
func (c *sharedCache) begin(ref wire.SharedRef) (e *sharedEntry, owner, dropped bool) {
	key := sharedKey{ref.Hash, ref.Shape}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		c.lru.MoveToFront(e.elem)
		return e, false, false
	}
	if ref.Value == nil {
		_, dropped = c.dropped[key]
		return nil, false, dropped
	}
	e = &sharedEntry{key: key, size: int64(len(ref.Value)), ready: make(chan struct{})}
	e.elem = c.lru.PushFront(e)
	c.entries[key] = e
	return e, true, false
}

// load decodes the inline value of the entry's owner, checking it against
// its hash if verify, and keeps it within the budget; a failed one is
// dropped. Under a cluster key the chunk's seal covers the value and its
// hash already: a key holder sent both.
func (c *sharedCache) load(e *sharedEntry, f wire.SharedFunction, encoded []byte, verify bool) {
	if verify {
		if got := wire.HashShared(encoded); got != e.key.hash {
			e.err = &wire.SharedHashError{Want: e.key.hash, Got: got}
		}
	}
	if e.err == nil {
		if e.value, e.err = f.DecodeShared(encoded); e.err != nil {
			e.err = fmt.Errorf("cannot decode the shared value: %w", e.err)
		}
	}
	c.mu.Lock()
	c.decodes++
	if e.err != nil {
		c.drop(e)
	} else if e.elem != nil {
		c.used += e.size
		e.counted = true
		c.evict(e)
	}
	c.mu.Unlock()
	close(e.ready)
}

// evict drops the least recently used values while over the budget. A
// value larger than the whole budget is not kept either (the chunk that
// loaded it still uses it): it is logged, since every chunk of its maps
// will then carry it.
func (c *sharedCache) evict(loaded *sharedEntry) {
	for el := c.lru.Back(); el != nil && c.used > c.budget; {
		prev := el.Prev()
		if e := el.Value.(*sharedEntry); e.counted { // not one still loading
			c.drop(e)
		}
		el = prev
	}
	if loaded.elem == nil {
		c.log.Warn("shared value larger than the cache: every chunk of its maps will carry it; raise [worker] shared_cache_bytes",
			"bytes", loaded.size, "shared_cache_bytes", c.budget)
	}
}

// drop removes e from the cache. Called with c.mu held.
func (c *sharedCache) drop(e *sharedEntry) {
	if e.elem == nil {
		return
	}
	c.lru.Remove(e.elem)
	e.elem = nil
	delete(c.entries, e.key)
	if len(c.dropped) >= maxDropped {
		clear(c.dropped)
	}
	c.dropped[e.key] = struct{}{}
	if e.counted {
		c.used -= e.size
		e.counted = false
	}
}

// wait waits for the entry's value, bounded by ctx.
func (e *sharedEntry) wait(ctx context.Context) (any, error) {
	select {
	case <-e.ready:
		return e.value, e.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// stats returns the values cached, their bytes, and how many were decoded.
func (c *sharedCache) stats() (values int, bytes, decodes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.used, c.decodes
}

// sharedChunk is a chunk's shared value as found before it starts.
type sharedChunk struct {
	f       wire.SharedFunction
	entry   *sharedEntry
	owner   bool   // this chunk decodes the value
	encoded []byte // the inline value, for the owner
}

// inline says whether the chunk brings the value that this worker loads
// from it. Nil: a chunk without a shared value.
func (s *sharedChunk) inline() bool { return s != nil && s.encoded != nil }

// beginShared strips a chunk's shared value header (job.Data becomes the
// chunk itself) and finds its value: before the chunk's start notice, so
// that a worker lacking it answers pool.NeedSharedError without counting
// as a start. A header of another type than f's is stripped and left to
// RunChunk, which refuses the chunk with a type mismatch.
func (w *Worker) beginShared(f wire.Function, job *gearman.Job) (*sharedChunk, error) {
	ref, rest, ok, err := wire.SplitShared(job.Data)
	if !ok {
		return nil, nil
	}
	if err != nil {
		return nil, taskFailure(&pool.TaskError{Func: f.Name(), Index: -1, Worker: w.id,
			Message: fmt.Sprintf("%s: %v", chunkName(job), err)})
	}
	job.Data = rest
	sf, ok := f.(wire.SharedFunction)
	if !ok || ref.Shape != sf.SharedShape() {
		return nil, nil
	}
	e, owner, dropped := w.shared.begin(ref)
	if e == nil {
		te := pool.NeedSharedError(ref.Hash, dropped)
		te.Func, te.Worker = f.Name(), w.id
		return nil, taskFailure(te)
	}
	return &sharedChunk{f: sf, entry: e, owner: owner, encoded: ref.Value}, nil
}

// value decodes the chunk's value (its owner) or waits for the slot that
// does, and returns ctx carrying it. A value that failed to load is the
// chunk's error: a hash-only chunk gets pool.NeedSharedError, so that the
// client sends it again with the value.
func (s *sharedChunk) value(ctx context.Context, w *Worker, job *gearman.Job) (context.Context, error) {
	if s == nil {
		return ctx, nil
	}
	if s.owner {
		w.shared.load(s.entry, s.f, s.encoded, w.key == nil)
	}
	v, err := s.entry.wait(ctx)
	if err == nil {
		return wire.WithSharedValue(ctx, v), nil
	}
	if ctx.Err() != nil {
		return ctx, err
	}
	te := &pool.TaskError{Func: s.f.Name(), Index: -1, Worker: w.id, Message: fmt.Sprintf("%s: %v", chunkName(job), err)}
	if s.encoded == nil {
		te = pool.NeedSharedError(s.entry.key.hash, true)
		te.Func, te.Worker = s.f.Name(), w.id
	}
	return ctx, taskFailure(te)
}

// isNeedShared says whether a chunk's error asks for its shared value:
// no failure of the worker's.
func isNeedShared(err error) bool {
	var te *pool.TaskError
	return errors.As(err, &te) && (te.Code == wire.CodeNeedShared || te.Code == wire.CodeSharedDropped)
}

// registerSharedAlias also serves a function that takes a shared value
// under its alias for this worker alone (wire.SharedAlias), where the
// client sends the copy of the value that this worker asked for. The job
// is run, and its seal checked, as the function's own.
func (w *Worker) registerSharedAlias(f wire.Function, run gearman.JobFunc) error {
	if _, ok := f.(wire.SharedFunction); !ok {
		return nil
	}
	alias := wire.SharedAlias(f.GearmanName(), w.id)
	if alias == "" {
		return nil
	}
	name := f.GearmanName()
	return w.gw.Register(alias, func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		job.Function = name
		return run(ctx, job)
	})
}
