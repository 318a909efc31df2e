package pool

import (
	"context"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// The worker check of a map (ErrNoWorkers) from the job servers' last
// "workers" answers: a map whose function the cached answer says is
// served starts at once, and the answer is asked again in the background
// (one shared question per job server) once it is older than
// workersFresh. A cached "no workers", or an answer older than
// workersStale, is asked again before the map starts, as before: a map
// never fails with ErrNoWorkers on an old answer.

// workerList is one answer of every job server to "workers".
type workerList struct {
	asked   time.Time // when the question was put
	workers [][]gearman.WorkerInfo
	errs    []error

	mu    sync.Mutex
	slots map[string]int // f -> slots serving it, as counted so far
}

// slotsOf returns the slots serving f, counted once per answer.
func (l *workerList) slotsOf(servers []string, f string) (int, error) {
	l.mu.Lock()
	n, ok := l.slots[f]
	l.mu.Unlock()
	if ok {
		return n, nil
	}
	_, n, err := l.serving(servers, f)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	if l.slots == nil {
		l.slots = map[string]int{}
	}
	l.slots[f] = n
	l.mu.Unlock()
	return n, nil
}

// workerCache holds the last answer and the question under way, if any.
type workerCache struct {
	mu     sync.Mutex
	last   *workerList
	asking chan struct{} // closed when the question under way is answered
	closed bool          // Close: no new questions
	bg     sync.WaitGroup
}

// workersFresh is how old a cached answer may be before a map that uses
// it has it asked again in the background: at most a quarter of the
// no-workers grace, so that the running maps' watch sees workers vanish
// in time.
func (p *Pool) workersFresh() time.Duration {
	return min(time.Second, max(p.opts.noWorkersGrace/4, 10*time.Millisecond))
}

// workersStale is how old a cached answer may be and still let a map
// start without asking: half the no-workers grace, so that a map started
// on an answer that is no longer true fails within 1.5x the grace.
func (p *Pool) workersStale() time.Duration {
	return max(p.opts.noWorkersGrace/2, p.workersFresh())
}

// mapSlots is the worker check of a map: the slots serving f, from the
// cached answer if it says some do, else from a new one.
func (p *Pool) mapSlots(ctx context.Context, f string) (int, error) {
	c := &p.workers
	c.mu.Lock()
	l := c.last
	c.mu.Unlock()
	if l != nil {
		age := time.Since(l.asked)
		if n, err := l.slotsOf(p.cfg.JobServers, f); err == nil && age < p.workersStale() {
			if age >= p.workersFresh() {
				c.askAsync(p)
			}
			return n, nil
		}
	}
	return c.refresh(ctx, p).slotsOf(p.cfg.JobServers, f)
}

// refresh returns an answer asked now or later: it joins the question
// under way if that was put after the call began, else waits for it and
// asks again.
func (c *workerCache) refresh(ctx context.Context, p *Pool) *workerList {
	since := time.Now()
	for {
		c.mu.Lock()
		if c.last != nil && !c.last.asked.Before(since) {
			l := c.last
			c.mu.Unlock()
			return l
		}
		if c.closed {
			c.mu.Unlock()
			return failedList(len(p.cfg.JobServers), ErrClosed)
		}
		if c.asking == nil {
			c.startLocked(p)
		}
		asking := c.asking
		c.mu.Unlock()
		select {
		case <-asking:
		case <-ctx.Done():
			return failedList(len(p.cfg.JobServers), context.Cause(ctx))
		}
	}
}

// askAsync asks in the background unless a question is under way.
func (c *workerCache) askAsync(p *Pool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asking == nil && !c.closed {
		c.startLocked(p)
	}
}

// startLocked puts the question to every job server on a goroutine of its
// own, so that a caller that gives up does not cut it short for the
// others; the request timeout bounds it.
func (c *workerCache) startLocked(p *Pool) {
	asking := make(chan struct{})
	c.asking = asking
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.dialTimeout+p.opts.requestTimeout)
		defer cancel()
		l := &workerList{asked: time.Now()}
		l.workers, l.errs = p.askWorkers(ctx)
		c.mu.Lock()
		c.last, c.asking = l, nil
		c.mu.Unlock()
		close(asking)
	}()
}

// close stops new questions and waits for the one under way.
func (c *workerCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.bg.Wait()
}

// failedList is an answer that every job server failed with err.
func failedList(n int, err error) *workerList {
	l := &workerList{asked: time.Now(), workers: make([][]gearman.WorkerInfo, n), errs: make([]error, n)}
	for i := range l.errs {
		l.errs[i] = err
	}
	return l
}
