package pool

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// Indexed is a result of ImapUnordered with the index of its input item.
type Indexed[T any] struct {
	Index int
	Value T
}

// Map calls f on every item on the cluster's workers and returns the
// results in input order. The first failing item stops the map (its
// queued chunks are dropped, its running ones cancelled) and is returned
// as a *TaskError; so does the end of ctx, with its cause, and Pool.Close,
// with ErrClosed. See the MapOption functions for chunking, retries and
// deadlines.
//
// Large byte strings among the items (64 KiB or more) are sent from
// where they are, not copied into the chunks (unless the pool has a
// cluster key or the map a shared value): the items must not change
// until Map returns.
func Map[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], items []In, opts ...MapOption) ([]Out, error) {
	out := make([]Out, len(items))
	err := run(ctx, p, f, input[In]{seq: slices.Values(items), slice: items, held: true}, len(items), false, opts, func(start, _ int, vs []Out) bool {
		copy(out[start:], vs)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Imap is Map over a lazily read input, with the results streamed in input
// order as soon as they are ready. At most Window chunks are in flight or
// waiting to be consumed, so memory stays bounded whatever the input's
// length. After an error the sequence yields it once and stops; stopping
// the iteration early cancels the rest of the map.
func Imap[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], items iter.Seq[In], opts ...MapOption) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) {
		stopped := false
		err := run(ctx, p, f, input[In]{seq: items}, -1, true, opts, func(_, _ int, vs []Out) bool {
			for _, v := range vs {
				if !yield(v, nil) {
					stopped = true
					return false
				}
			}
			return true
		})
		if err != nil && !stopped {
			var zero Out
			yield(zero, err)
		}
	}
}

// ImapUnordered is Imap with the results in the order they complete, each
// with the index of its input item.
func ImapUnordered[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], items iter.Seq[In], opts ...MapOption) iter.Seq2[Indexed[Out], error] {
	return func(yield func(Indexed[Out], error) bool) {
		stopped := false
		err := run(ctx, p, f, input[In]{seq: items}, -1, false, opts, func(start, _ int, vs []Out) bool {
			for i, v := range vs {
				if !yield(Indexed[Out]{Index: start + i, Value: v}, nil) {
					stopped = true
					return false
				}
			}
			return true
		})
		if err != nil && !stopped {
			yield(Indexed[Out]{Index: -1}, err)
		}
	}
}

// errStopped ends a map whose consumer stopped iterating.
var errStopped = errors.New("pool: iteration stopped")

// outcome is what became of one copy of a chunk.
type outcome[In, Out any] struct {
	idx, start int
	n          int   // the chunk's input items
	items      []Out // their results; a reduce's one accumulator
	took       time.Duration
	err        error
	call       *chunkCall[In, Out]
}

// mapRun is one map in progress. Everything but the chunk goroutines runs
// on the caller's goroutine: it reads the input, submits chunks in input
// order while the window has room, and hands results to the emitter.
type mapRun[In, Out any] struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	p       *Pool
	f       Func[In, Out]
	o       mapOptions
	client  *gearman.Client
	shared  *sharedClient // client is shared with other single-chunk maps; nil: the map's own
	share   *sharedSender // the map's shared value (FuncWith.With); nil: none
	running *runningMap   // the pool's handle, for Close; nil until started
	mapID   string
	chunk   int // items per chunk
	window  int
	total   int // -1 while unknown

	// The input side, on the caller's goroutine.
	buf      []In // items read and not yet launched
	next     int  // input index of the next item
	launched int  // chunks launched
	inputEnd bool // every item has been launched
	out      *emitter[In, Out]

	sizer *chunkSizer[In] // encoded bytes of buf and per item (chunksize.go)

	outcomes chan outcome[In, Out]
	wg       sync.WaitGroup
	slots    int                 // worker slots serving the function, as last seen
	flights  map[int]*flight[In] // chunks launched and not yet decided
	// submitted is closed once the last chunk launched is submitted.
	submitted chan struct{}
	// calls are the copies whose job may still be at a job server: a map
	// that ends leaving one there closes its connection and cancels it.
	calls map[*chunkCall[In, Out]]struct{}

	// Backup tasks (the BackupTasks option).
	took        []time.Duration // how long decided chunks took
	backupTimer *time.Timer
	backupAt    time.Time // when backupTimer fires; zero if stopped

	// One timer for the two periodic checks (maplife.go): that workers
	// are still there, and about chunks with no news (CheckSilentChunks).
	checks         *time.Timer
	watchAt        time.Time // when the workers are checked next
	silentAt       time.Time // when silent chunks are looked for next
	noWorkersSince time.Time

	checking atomic.Bool // a silent-chunk check is under way

	announced *announced // its announcement on the log channel; nil: none

	// deferWrites: chunks submitted on the map's goroutine are queued on
	// the connection and written together before the map waits; unwritten
	// says some are queued.
	deferWrites, unwritten bool
	// itemsHeld: the items are the slice given to Map, which holds them
	// until every chunk has ended, so large ones are sent from where they
	// are (chunkCall.encode).
	itemsHeld bool
}

// flushSubmits writes the submissions queued on the map's goroutine: a
// Chunksize(1) map that launches several chunks between two waits sends
// them in one system call, and gearmand reads them in one. It must run
// before the map's goroutine blocks or ends.
func (m *mapRun[In, Out]) flushSubmits() {
	if m.unwritten {
		m.unwritten = false
		m.client.Flush()
	}
}

// run is the engine of Map, Imap, ImapUnordered and the reduces (with
// the folded option: one accumulator per chunk). total is the input's
// length, or -1 if unknown. emit gets each chunk's results with the input
// index of the first and the chunk's item count; in input order if ordered.
func run[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], items input[In], total int, ordered bool,
	opts []MapOption, emit func(start, n int, vs []Out) bool) (err error) {
	o, err := buildMapOptions(opts)
	if err != nil {
		return err
	}
	if f.fn == nil {
		return errors.New("pool: map of a zero Func (use the value pool.Register returns)")
	}
	if total == 0 {
		return nil
	}
	m := &mapRun[In, Out]{p: p, f: f, o: o, total: total, out: newEmitter[In](ordered, emit, o.progress)}
	if f.shared != nil {
		if err := f.shared.prepare(f.name, p.opts.maxPacket); err != nil {
			return err
		}
		m.share = newSharedSender(f.shared)
	}
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	defer m.cancel(nil)
	defer func() {
		if m.running != nil {
			m.announced.end(err)
			m.finish(err == nil)
		}
	}()
	if err := m.feedInput(items); err != nil {
		return m.final(err)
	}
	return m.final(m.drain())
}

// input is a map's items: a sequence, and for Map the slice behind it.
type input[In any] struct {
	seq   iter.Seq[In]
	slice []In // nil unless the items are a slice
	// held: the slice is Map's, which does not return before every chunk
	// has ended, and whose caller may not change the items meanwhile
	held bool
}

// feedInput launches the input's chunks: slices of items of a scalar type
// are cut without looking at each item (their encoded size is known),
// other inputs item by item.
func (m *mapRun[In, Out]) feedInput(in input[In]) error {
	// Reading a slice never blocks, so chunks submitted on the map's
	// goroutine may wait to be written together (see flushSubmits).
	m.deferWrites = in.slice != nil
	m.itemsHeld = in.held
	if in.slice == nil || fixedSize(reflect.TypeFor[In]()) == 0 {
		return m.feed(in.seq)
	}
	return m.feedSlice(in.slice)
}

// feed reads the input and launches its chunks, waiting for chunks to be
// consumed whenever the window is full.
func (m *mapRun[In, Out]) feed(items iter.Seq[In]) error {
	for item := range items {
		if m.running == nil {
			// Lazily, so that an empty input needs no cluster at all.
			if err := m.start(); err != nil {
				return err
			}
		}
		// The context is checked once per chunk (launchBuffered) and
		// every ctxCheckItems items, not per item: that cost a trivial map
		// about 5% of its CPU.
		if m.next%ctxCheckItems == 0 && m.ctx.Err() != nil {
			return context.Cause(m.ctx)
		}
		if err := m.push(item); err != nil {
			return err
		}
	}
	if m.total < 0 {
		m.total = m.next
		m.out.totalKnown(m.total)
	}
	m.inputEnd = true
	if len(m.buf) > 0 {
		return m.launchBuffered()
	}
	return nil
}

// ctxCheckItems: feed checks the map's context every this many items
// read, so a cancel stops reading a long chunk's input soon.
const ctxCheckItems = 256

// launchBuffered launches the items read as a chunk, then receives until
// the window has room again.
func (m *mapRun[In, Out]) launchBuffered() error {
	if m.ctx.Err() != nil {
		return context.Cause(m.ctx)
	}
	m.launch(m.launched, m.next-len(m.buf), m.buf)
	m.launched++
	m.buf = nil
	if m.launched-m.out.retired < m.window {
		return nil
	}
	for low := m.window - m.refill(); m.launched-m.out.retired > low; {
		if err := m.receive(); err != nil {
			return err
		}
	}
	return nil
}

// refill is how many chunks a full window waits to see consumed before
// the map launches more. A wide window of small chunks (Chunksize(1): 128)
// refills by an eighth, so the chunks launched in one go leave in one
// write (flushSubmits) rather than one system call each; others by one.
func (m *mapRun[In, Out]) refill() int {
	if !m.deferWrites {
		return 1
	}
	return max(1, m.window/8)
}

// drain receives until every chunk launched is consumed.
func (m *mapRun[In, Out]) drain() error {
	for m.out.retired < m.launched {
		if err := m.receive(); err != nil {
			return err
		}
	}
	return nil
}

// receive waits for one chunk to be decided and emits what became ready.
func (m *mapRun[In, Out]) receive() error {
	oc, err := m.await()
	if err != nil {
		return err
	}
	if oc.err != nil {
		return oc.err
	}
	m.adapt(oc)
	if m.o.progress != nil {
		m.flushSubmits() // the callback may take its time
	}
	err = m.out.take(oc, m.total)
	m.announced.progress(m.out.done, m.total)
	return err
}

// await waits for an outcome that decides its chunk, watching the workers
// and launching backup copies meanwhile.
func (m *mapRun[In, Out]) await() (outcome[In, Out], error) {
	for {
		select {
		case oc := <-m.outcomes: // decided already: no need for the tickers
			m.settle(oc.call)
			if m.decide(oc) {
				return oc, nil
			}
			continue
		default:
		}
		m.flushSubmits()
		m.startTickers()
		select {
		case oc := <-m.outcomes:
			m.settle(oc.call)
			if m.decide(oc) {
				return oc, nil
			}
		case now := <-m.checks.C:
			if err := m.periodicChecks(now); err != nil {
				return outcome[In, Out]{}, err
			}
		case <-m.backupC():
			m.launchBackups()
		case <-m.ctx.Done():
			return outcome[In, Out]{}, context.Cause(m.ctx)
		}
	}
}

// final turns the consumer's stop into a clean end.
func (m *mapRun[In, Out]) final(err error) error {
	if errors.Is(err, errStopped) {
		m.cancel(errStopped)
		return nil
	}
	return err
}

// adapt grows automatic chunks of an input of unknown length while chunks
// come back fast, so per-job overhead stops mattering. A reduce's grow
// further: its result is one accumulator whatever the chunk's length, so
// longer chunks mean fewer accumulators to send and merge.
func (m *mapRun[In, Out]) adapt(oc outcome[In, Out]) {
	fast, most := 20*time.Millisecond, maxAdaptiveChunk
	if m.o.folded {
		fast, most = 100*time.Millisecond, maxFoldedAdaptiveChunk
	}
	if m.o.chunksize != 0 || m.total >= 0 || oc.took >= fast {
		return
	}
	if m.o.folded {
		// Any chunk tells: twice the chunk size would still be fast at
		// this one's pace (its latency scaled up too, so it errs short).
		// Growing only on chunks of the current size took a round trip
		// per doubling, and a word count of 2,500 files sent 60% of them
		// in chunks of under a hundred, each with a table of its own.
		if oc.n > 0 && oc.took*time.Duration(2*m.chunk) < fast*time.Duration(oc.n) {
			m.chunk = min(m.chunk*2, most)
		}
		return
	}
	if oc.n >= m.chunk {
		m.chunk = min(m.chunk*2, most)
	}
}
