package pool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"sync"
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
func Map[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], items []In, opts ...MapOption) ([]Out, error) {
	out := make([]Out, len(items))
	err := run(ctx, p, f, slices.Values(items), len(items), false, opts, func(start int, vs []Out) bool {
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
		err := run(ctx, p, f, items, -1, true, opts, func(_ int, vs []Out) bool {
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
		err := run(ctx, p, f, items, -1, false, opts, func(start int, vs []Out) bool {
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
	items      []Out
	took       time.Duration
	err        error
	call       *chunkCall[In, Out]
}

// mapRun is one map in progress. Everything but the chunk goroutines runs
// on the caller's goroutine: it reads the input, submits chunks in input
// order while the window has room, and hands results to emit.
type mapRun[In, Out any] struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	p       *Pool
	f       Func[In, Out]
	o       mapOptions
	client  *gearman.Client
	running *runningMap // the pool's handle, for Close
	mapID   string
	chunk   int // items per chunk
	window  int
	total   int // -1 while unknown

	outcomes chan outcome[In, Out]
	wg       sync.WaitGroup
	slots    int                 // worker slots serving the function, as last seen
	flights  map[int]*flight[In] // chunks launched and not yet decided
	inputEnd bool                // every item has been launched
	// submitted is closed once the last chunk launched is submitted.
	submitted chan struct{}
	// calls are the copies whose job may still be at a job server: a map
	// that ends leaving one there closes its connection and cancels it.
	calls map[*chunkCall[In, Out]]struct{}

	// Backup tasks (the BackupTasks option).
	took        []time.Duration // how long decided chunks took
	backupTimer *time.Timer
	backupAt    time.Time // when backupTimer fires; zero if stopped

	watch          *time.Ticker // checks that workers are still there
	noWorkersSince time.Time
}

// flight is a chunk in progress: its first copy, and its backup copy if
// it was launched again.
type flight[In any] struct {
	idx      int
	start    int
	items    []In
	launched time.Time
	copies   int  // copies still running
	backedUp bool // a backup copy was launched
	cancel   context.CancelFunc
}

func (f *flight[In]) span() string {
	return fmt.Sprintf("chunk %d (items %d-%d)", f.idx, f.start, f.start+len(f.items)-1)
}

// run is the engine of Map, Imap and ImapUnordered. total is the input's
// length, or -1 if unknown. emit gets each chunk's results with the input
// index of the first; in input order if ordered.
func run[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], items iter.Seq[In], total int, ordered bool,
	opts []MapOption, emit func(start int, vs []Out) bool) (err error) {
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
	m := &mapRun[In, Out]{p: p, f: f, o: o, total: total}
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	defer m.cancel(nil)
	started := false
	defer func() {
		if started {
			m.finish(err == nil)
		}
	}()

	var (
		buf      []In
		next     int // input index of the next item
		launched int // chunks launched
		retired  int // chunks whose results were emitted
		done     int // items emitted
		pending  = map[int]outcome[In, Out]{}
		nextEmit int // ordered: the chunk to emit next
	)
	// receive waits for one chunk and emits what became ready.
	receive := func() error {
		var oc outcome[In, Out]
		for received := false; !received; {
			select {
			case oc = <-m.outcomes:
				m.settle(oc.call)
				received = m.decide(oc)
			case <-m.watch.C:
				if err := m.checkWorkers(); err != nil {
					return err
				}
			case <-m.backupC():
				m.launchBackups()
			case <-m.ctx.Done():
				return context.Cause(m.ctx)
			}
		}
		if oc.err != nil {
			return oc.err
		}
		m.adapt(oc)
		ready := []outcome[In, Out]{oc}
		if ordered {
			pending[oc.idx] = oc
			ready = ready[:0]
			for {
				r, ok := pending[nextEmit]
				if !ok {
					break
				}
				delete(pending, nextEmit)
				ready = append(ready, r)
				nextEmit++
			}
		}
		for _, r := range ready {
			retired++
			done += len(r.items)
			if !emit(r.start, r.items) {
				return errStopped
			}
			if m.o.progress != nil {
				m.o.progress(done, m.total)
			}
		}
		return nil
	}
	launch := func() error {
		m.launch(launched, next-len(buf), buf)
		launched++
		buf = nil
		for launched-retired >= m.window {
			if err := receive(); err != nil {
				return err
			}
		}
		return nil
	}

	for item := range items {
		if !started {
			// Lazily, so that an empty input needs no cluster at all.
			if err := m.start(); err != nil {
				return err
			}
			started = true
		}
		if err := m.ctx.Err(); err != nil {
			return context.Cause(m.ctx)
		}
		buf = append(buf, item)
		next++
		if len(buf) >= m.chunk {
			if err := launch(); err != nil {
				return m.final(err)
			}
		}
	}
	if m.total < 0 {
		m.total = next
		// Report the total now that it is known: the chunks may all be in
		// already, and then no later report would carry it.
		if m.o.progress != nil && done > 0 {
			m.o.progress(done, m.total)
		}
	}
	m.inputEnd = true
	if len(buf) > 0 {
		if err := launch(); err != nil {
			return m.final(err)
		}
	}
	for retired < launched {
		if err := receive(); err != nil {
			return m.final(err)
		}
	}
	return nil
}

// final turns the consumer's stop into a clean end.
func (m *mapRun[In, Out]) final(err error) error {
	if errors.Is(err, errStopped) {
		m.cancel(errStopped)
		return nil
	}
	return err
}

// start registers the map with the pool (so that Close can cancel it),
// checks that someone serves the function, sizes chunks and the window
// from the worker slots, and takes connections for the map.
func (m *mapRun[In, Out]) start() error {
	var id [8]byte
	rand.Read(id[:])
	m.mapID = hex.EncodeToString(id[:])
	running, err := m.p.track(m.cancel)
	if err != nil {
		return err
	}
	if err := m.setup(); err != nil {
		m.p.untrack(running)
		if m.ctx.Err() != nil {
			return context.Cause(m.ctx) // ErrClosed, say, rather than how it showed
		}
		return err
	}
	m.running = running
	return nil
}

func (m *mapRun[In, Out]) setup() error {
	slots, err := m.waitSlots()
	if err != nil {
		return err
	}
	m.chunk = m.o.chunksize
	if m.chunk == 0 {
		m.chunk = 1
		if m.total > 0 {
			m.chunk = min(max((m.total+4*slots-1)/(4*slots), 1), maxAutoChunk)
		}
	}
	m.window = m.o.window
	if m.window == 0 {
		m.window = 2*slots + 2
	}
	m.slots = slots
	m.flights = map[int]*flight[In]{}
	m.calls = map[*chunkCall[In, Out]]struct{}{}
	m.submitted = make(chan struct{})
	close(m.submitted)
	m.outcomes = make(chan outcome[In, Out], m.window)
	if m.client, err = m.p.acquire(m.ctx); err != nil {
		return err
	}
	m.watch = time.NewTicker(max(m.p.opts.noWorkersGrace/4, 10*time.Millisecond))
	return nil
}

// workerPoll is how often a map that waits for workers (WaitForWorkers)
// asks the job servers again.
const workerPoll = 50 * time.Millisecond

// waitSlots returns the worker slots serving the function, waiting for
// one to appear as long as the WaitForWorkers option allows.
func (m *mapRun[In, Out]) waitSlots() (int, error) {
	slots, err := m.p.WorkerSlots(m.ctx, m.f.name)
	if m.o.waitWorkers <= 0 || !errors.Is(err, ErrNoWorkers) {
		return slots, err
	}
	deadline := time.Now().Add(m.o.waitWorkers)
	tick := time.NewTicker(workerPoll)
	defer tick.Stop()
	for errors.Is(err, ErrNoWorkers) {
		if !time.Now().Before(deadline) {
			return 0, fmt.Errorf("%w (waited %v for one)", err, m.o.waitWorkers)
		}
		select {
		case <-tick.C:
		case <-m.ctx.Done():
			return 0, context.Cause(m.ctx)
		}
		slots, err = m.p.WorkerSlots(m.ctx, m.f.name)
	}
	return slots, err
}

// checkWorkers fails the map once no worker has served its function for
// the pool's grace period: its chunks would wait in the queue forever.
func (m *mapRun[In, Out]) checkWorkers() error {
	slots, err := m.p.WorkerSlots(m.ctx, m.f.name)
	if !errors.Is(err, ErrNoWorkers) {
		if err == nil && slots != m.slots {
			m.slots = slots
			m.armBackup() // idle slots may have appeared
		}
		m.noWorkersSince = time.Time{}
		return nil
	}
	if m.noWorkersSince.IsZero() {
		m.noWorkersSince = time.Now()
	}
	if grace := m.p.opts.noWorkersGrace; time.Since(m.noWorkersSince) >= grace {
		return fmt.Errorf("%w (none left for %v)", err, grace)
	}
	return nil
}

// adapt grows automatic chunks of an input of unknown length while chunks
// come back fast, so per-job overhead stops mattering.
func (m *mapRun[In, Out]) adapt(oc outcome[In, Out]) {
	if m.o.chunksize == 0 && m.total < 0 && oc.took < 20*time.Millisecond && len(oc.items) >= m.chunk {
		m.chunk = min(m.chunk*2, maxAdaptiveChunk)
	}
}

// finish ends the map. After a clean end with no job of the map left at a
// job server, the connection is kept for the next map. Otherwise it is
// closed, which makes gearmand drop the map's queued chunks, and the
// workers running its chunks are told to cancel them.
func (m *mapRun[In, Out]) finish(clean bool) {
	m.cancel(errStopped)
	m.watch.Stop()
	if m.backupTimer != nil {
		m.backupTimer.Stop()
	}
	m.wg.Wait()
	workers, unannounced, left := m.leftover()
	if clean && !left {
		m.p.release(m.client)
	} else {
		m.client.Close()
	}
	if left {
		m.p.cancelChunks(m.mapID, m.f.name, workers, unannounced)
	}
	m.p.untrack(m.running)
}

// leftover looks at the copies whose job has not ended: whether there are
// any, the workers known to run them, and whether one may run on a worker
// whose start notice has not arrived.
func (m *mapRun[In, Out]) leftover() (workers []string, unannounced, left bool) {
	seen := map[string]bool{}
	for c := range m.calls {
		task, worker := c.state()
		if task == nil || isDone(task) {
			continue
		}
		left = true
		switch {
		case worker == "":
			unannounced = true
		case !seen[worker]:
			seen[worker] = true
			workers = append(workers, worker)
		}
	}
	return workers, unannounced, left
}

func isDone(t *gearman.Task) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// settle forgets a copy whose job has ended.
func (m *mapRun[In, Out]) settle(c *chunkCall[In, Out]) {
	if task, _ := c.state(); task == nil || isDone(task) {
		delete(m.calls, c)
	}
}

// launch submits chunk idx.
func (m *mapRun[In, Out]) launch(idx, start int, items []In) {
	f := &flight[In]{idx: idx, start: start, items: items, launched: time.Now(), cancel: func() {}}
	m.flights[idx] = f
	// Chunks are encoded on their own goroutines, but each is submitted
	// after the one before it, so that the job servers queue them in
	// input order.
	prev, mine := m.submitted, make(chan struct{})
	m.submitted = mine
	m.runCopy(f, m.mapID+"-"+strconv.Itoa(idx), prev, mine)
	m.armBackup()
}

// runCopy runs one copy of a chunk on a goroutine of its own: it submits
// the copy once after is closed, closes submitted (if not nil) then, and
// reports the outcome. A backup copy has a unique id of its own, or
// gearmand would coalesce it with the copy it backs up.
func (m *mapRun[In, Out]) runCopy(f *flight[In], unique string, after <-chan struct{}, submitted chan<- struct{}) {
	ctx, cancel := context.WithCancelCause(m.ctx)
	first := f.cancel
	f.cancel = func() { first(); cancel(nil) }
	f.copies++
	c := &chunkCall[In, Out]{m: m, f: f, unique: unique, ctx: ctx, stop: cancel}
	m.calls[c] = struct{}{}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t0 := time.Now()
		task, err := c.submitAfter(after)
		if submitted != nil {
			close(submitted)
		}
		out, err := c.run(task, err)
		oc := outcome[In, Out]{idx: f.idx, start: f.start, items: out, took: time.Since(t0), err: err, call: c}
		select {
		case m.outcomes <- oc:
		case <-m.ctx.Done(): // the map is over; nobody reads
		}
	}()
}

// closedChan is a channel that is closed.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// decide takes a copy's outcome and reports whether it decides its chunk:
// the first success does, and so does a failure when no other copy is
// left running. The other copy of a decided chunk is cancelled and its
// outcome, if it still comes, is dropped.
func (m *mapRun[In, Out]) decide(oc outcome[In, Out]) bool {
	f, ok := m.flights[oc.idx]
	if !ok {
		return false
	}
	f.copies--
	if oc.err != nil && f.copies > 0 {
		return false
	}
	delete(m.flights, oc.idx)
	f.cancel()
	if oc.err == nil && m.o.backupTasks {
		if len(m.took) == maxTookSamples {
			m.took = m.took[1:]
		}
		m.took = append(m.took, oc.took)
	}
	m.armBackup()
	return true
}

// maxTookSamples bounds the chunk times the backup rule looks at: the most
// recent ones say best how long a chunk takes now.
const maxTookSamples = 256

// backupAfter is how long a chunk may run before it gets a backup copy:
// twice the median time of the chunks decided so far.
func (m *mapRun[In, Out]) backupAfter() time.Duration {
	took := slices.Clone(m.took)
	slices.Sort(took)
	return max(2*took[len(took)/2], 5*time.Millisecond)
}

// backupCandidate returns the chunk that has run longest without a backup
// copy, if the backup rule may apply now: every item is launched, some
// chunk was decided (so a chunk's usual time is known), and fewer copies
// run than there are worker slots, so a backup takes an idle slot and
// delays nothing.
func (m *mapRun[In, Out]) backupCandidate() *flight[In] {
	if !m.o.backupTasks || !m.inputEnd || len(m.took) == 0 {
		return nil
	}
	running := 0
	var oldest *flight[In]
	for _, f := range m.flights {
		running += f.copies
		if !f.backedUp && (oldest == nil || f.launched.Before(oldest.launched)) {
			oldest = f
		}
	}
	if running >= m.slots {
		return nil
	}
	return oldest
}

// armBackup sets the backup timer to when the next candidate is due.
func (m *mapRun[In, Out]) armBackup() {
	f := m.backupCandidate()
	if f == nil {
		if !m.backupAt.IsZero() {
			m.backupTimer.Stop()
			m.backupAt = time.Time{}
		}
		return
	}
	at := f.launched.Add(m.backupAfter())
	if at.Equal(m.backupAt) {
		return
	}
	m.backupAt = at
	if m.backupTimer == nil {
		m.backupTimer = time.NewTimer(time.Until(at))
		return
	}
	m.backupTimer.Reset(time.Until(at))
}

// backupC is the backup timer's channel, or nil (never ready) while the
// timer is not armed.
func (m *mapRun[In, Out]) backupC() <-chan time.Time {
	if m.backupAt.IsZero() {
		return nil
	}
	return m.backupTimer.C
}

// launchBackups launches a backup copy of each chunk that is due, oldest
// first, while slots are idle.
func (m *mapRun[In, Out]) launchBackups() {
	m.backupAt = time.Time{}
	after := m.backupAfter()
	for {
		f := m.backupCandidate()
		if f == nil || time.Since(f.launched) < after {
			break
		}
		f.backedUp = true
		m.runCopy(f, m.mapID+"-"+strconv.Itoa(f.idx)+"-backup", closedChan, nil)
	}
	m.armBackup()
}
