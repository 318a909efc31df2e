package gearman

import (
	"context"
	"sync/atomic"
	"time"
)

// Prefetch (WithPrefetch): while jobs end fast, a worker asks for more
// jobs than it has slots, so that a slot that frees finds its next job
// already in hand instead of waiting a round trip to the job server for
// it. The asks beyond the slots are tokens like the others; they are
// parked (out of the slots channel) while jobs are slow, so that a slow
// job never has another waiting behind it in this worker while another
// worker could run it, and unparked one at a time by jobs that end fast.

// prefetchFast: a job that ran for less than this lets the worker ask
// ahead; a longer one parks an ask-ahead token.
const prefetchFast = time.Millisecond

// prefetch is a Worker's ask-ahead state.
type prefetch struct {
	extra  int           // ask-ahead tokens in all (WithPrefetch)
	parked atomic.Int64  // of them, those out of circulation
	run    chan struct{} // one token per slot running a job; nil without prefetch
}

func (p *prefetch) init(concurrency, extra int) {
	p.extra = extra
	if extra > 0 {
		p.run = make(chan struct{}, concurrency)
		p.parked.Store(int64(extra)) // start as a plain worker
	}
}

// startRun waits for a slot to run a job in; false if ctx ended first.
func (p *prefetch) startRun(ctx context.Context) bool {
	if p.run == nil {
		return true
	}
	select {
	case p.run <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *prefetch) endRun() {
	if p.run != nil {
		<-p.run
	}
}

// afterJob adjusts the asks ahead to how long a job ran, and reports
// whether the job's own token was parked (then its slot must not ask
// again).
func (w *Worker) afterJob(took time.Duration) (parked bool) {
	p := &w.prefetch
	if p.extra == 0 || w.life.Stopping() {
		return false
	}
	if took < prefetchFast {
		if n := p.parked.Load(); n > 0 && p.parked.CompareAndSwap(n, n-1) {
			w.slots <- struct{}{} // room: the channel holds every token
		}
		return false
	}
	n := p.parked.Load()
	return n < int64(p.extra) && p.parked.CompareAndSwap(n, n+1)
}

// inCirculation is how many tokens a Shutdown must get back.
func (w *Worker) inCirculation() int {
	return w.opts.concurrency + w.prefetch.extra - int(w.prefetch.parked.Load())
}
