package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// A map's life outside its main loop: start (register with the pool, size
// chunks and the window from the worker slots), the watch on the workers
// while it runs, and finish (keep or close its connection, cancel what it
// left running).

// start registers the map with the pool (so that Close can cancel it),
// checks that someone serves the function, sizes chunks and the window
// from the worker slots, and takes connections for the map.
func (m *mapRun[In, Out]) start() error {
	m.mapID = m.p.newMapID()
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
	m.announced = m.p.announce.begin(m.mapID, m.f.name, m.total)
	m.p.counters.mapsStarted.Add(1)
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
			m.chunk = min(max((m.total+4*slots-1)/(4*slots), 1), m.maxAutoChunk())
		}
	}
	m.window = m.o.window
	if m.window == 0 {
		m.window = autoWindow(slots, m.chunk)
		if m.o.chunksize == 0 && m.total < 0 {
			// A stream's automatic chunks start at one item and grow: a
			// window sized for one-item chunks would keep that many of
			// the grown ones in flight, and their memory (an Imap), or
			// as many accumulators to send and merge before the chunks
			// could grow (a reduce).
			m.window = 2*slots + 2
		}
	}
	m.slots = slots
	m.flights = map[int]*flight[In]{}
	m.calls = map[*chunkCall[In, Out]]struct{}{}
	m.submitted = closedChan
	m.outcomes = make(chan outcome[In, Out], m.outcomeBuffer())
	if err := m.takeClient(); err != nil {
		return err
	}
	return nil
}

// maxAutoChunk bounds automatic chunks of an input of known length. A
// reduce's chunks may be longer than a map's: each sends back one
// accumulator, not a result per item, so only its payload bounds it
// (targetChunkBytes still cuts it, and a worker's max_chunk_items).
func (m *mapRun[In, Out]) maxAutoChunk() int {
	if m.o.folded {
		return maxFoldedChunk
	}
	return maxAutoChunk
}

// maxFoldedChunk is maxAutoChunk for a reduce: under a worker's default
// max_chunk_items (1,000,000). maxFoldedAdaptiveChunk is maxAdaptiveChunk
// for a reduce of a stream, whose memory is the window times it.
const (
	maxFoldedChunk         = 500_000
	maxFoldedAdaptiveChunk = 1 << 17
)

// startTickers starts the watch on the workers and the silent-chunk
// check the first time the map waits for a chunk: a map whose chunks come
// back before it waits needs neither. Both run off one timer: a one-item
// map waits every time, and a ticker each cost it allocations and timer
// heap work per call.
func (m *mapRun[In, Out]) startTickers() {
	if m.checks != nil {
		return
	}
	now := time.Now()
	m.watchAt, m.silentAt = now.Add(m.watchEvery()), now.Add(m.o.silentCheck)
	m.checks = time.NewTimer(min(m.watchEvery(), m.o.silentCheck))
}

// watchEvery is how often a waiting map checks that workers are there.
func (m *mapRun[In, Out]) watchEvery() time.Duration {
	return max(m.p.opts.noWorkersGrace/4, 10*time.Millisecond)
}

// periodicChecks runs the checks that are due at now and sets the timer
// for the next one.
func (m *mapRun[In, Out]) periodicChecks(now time.Time) error {
	if !now.Before(m.watchAt) {
		m.watchAt = now.Add(m.watchEvery())
		if err := m.checkWorkers(); err != nil {
			return err
		}
	}
	if !now.Before(m.silentAt) {
		m.silentAt = now.Add(m.o.silentCheck)
		m.checkSilent()
	}
	m.checks.Reset(min(m.watchAt.Sub(now), m.silentAt.Sub(now)))
	return nil
}

// minInFlightItems: an automatic window keeps at least this many items
// submitted. Tiny chunks (Chunksize(1)) take a job server round trip each,
// far longer than their work: with only 2*slots+2 of them in flight the
// slots mostly wait for the next job, and a Chunksize(1) map ran at a
// quarter of the calls/s the same job server gives concurrent callers.
const minInFlightItems = 128

// autoWindow is the default Window: twice the worker slots plus two, and
// enough tiny chunks for minInFlightItems items.
func autoWindow(slots, chunk int) int {
	return max(2*slots+2, (minInFlightItems+chunk-1)/chunk)
}

// outcomeBuffer is room for the outcomes of the chunks in flight: the
// window, or the input's chunks if fewer (a one-item map needs one, not
// the 128 of a tiny chunks' window).
func (m *mapRun[In, Out]) outcomeBuffer() int {
	if m.total > 0 {
		return min(m.window, (m.total+m.chunk-1)/m.chunk)
	}
	return m.window
}

// takeClient takes the map's connection: a shared one for a map of one
// chunk (see shared.go), else one of its own.
func (m *mapRun[In, Out]) takeClient() error {
	if m.total > 0 && m.total <= m.chunk {
		s, err := m.p.acquireShared(m.ctx)
		if err != nil {
			return err
		}
		m.shared, m.client = s, s.c
		return nil
	}
	c, err := m.p.acquire(m.ctx)
	m.client = c
	return err
}

// workerPoll is how often a map that waits for workers (WaitForWorkers)
// asks the job servers again.
const workerPoll = 50 * time.Millisecond

// waitSlots returns the worker slots serving the function, waiting for
// one to appear as long as the WaitForWorkers option allows.
func (m *mapRun[In, Out]) waitSlots() (int, error) {
	slots, err := m.p.mapSlots(m.ctx, m.f.name)
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
		slots, err = m.p.mapSlots(m.ctx, m.f.name)
	}
	return slots, err
}

// checkWorkers fails the map once no worker has served its function for
// the pool's grace period: its chunks would wait in the queue forever.
func (m *mapRun[In, Out]) checkWorkers() error {
	slots, err := m.p.mapSlots(m.ctx, m.f.name)
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

// checkSilent asks the job servers about the chunks they have said nothing
// about for a whole check period (CheckSilentChunks), on one goroutine, so
// the map goes on meanwhile; a pass still running skips this one. Each
// GET_STATUS is bounded by the pool's request timeout.
func (m *mapRun[In, Out]) checkSilent() {
	if m.checking.Load() {
		return
	}
	type silentCopy struct {
		c    *chunkCall[In, Out]
		task *gearman.Task
	}
	var silent []silentCopy
	before := time.Now().Add(-m.o.silentCheck)
	for c := range m.calls {
		if task := c.silentJob(before); task != nil {
			silent = append(silent, silentCopy{c, task})
		}
	}
	if len(silent) == 0 {
		return
	}
	m.checking.Store(true)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.checking.Store(false)
		for _, s := range silent {
			if m.ctx.Err() != nil {
				return
			}
			ctx, cancel := context.WithTimeout(m.ctx, m.p.opts.requestTimeout)
			s.c.checkJob(ctx, s.task)
			cancel()
		}
	}()
}

// finish ends the map. After a clean end with no job of the map left at a
// job server, the connection is kept for the next map. Otherwise it is
// closed, which makes gearmand drop the map's queued chunks, and the
// workers running its chunks are told to cancel them.
func (m *mapRun[In, Out]) finish(clean bool) {
	m.flushSubmits() // as if each went out when submitted
	m.cancel(errStopped)
	if m.checks != nil {
		m.checks.Stop()
	}
	if m.backupTimer != nil {
		m.backupTimer.Stop()
	}
	m.wg.Wait()
	workers, unannounced, left := m.leftover()
	switch {
	case m.shared != nil:
		if left {
			m.p.dropQueued(m.leftHandles())
		}
		m.p.releaseShared(m.shared, !clean || left)
	case clean && !left:
		m.p.release(m.client)
	default:
		m.client.Close()
	}
	if left {
		m.p.cancelChunks(m.mapID, m.f.name, workers, unannounced)
	}
	m.p.untrack(m.running)
	if clean {
		m.p.counters.mapsFinished.Add(1)
	} else {
		m.p.counters.mapsFailed.Add(1)
	}
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

// leftHandles returns the handles of the jobs whose copies have not
// ended, as far as their job servers have named them.
func (m *mapRun[In, Out]) leftHandles() []gearman.JobHandle {
	var hs []gearman.JobHandle
	for c := range m.calls {
		task, _ := c.state()
		if task == nil || isDone(task) {
			continue
		}
		if h := task.Handle(); h.Handle != "" {
			hs = append(hs, h)
		}
	}
	return hs
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
