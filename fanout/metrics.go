package fanout

import "sync/atomic"

// copyCounters count what became of the copies of every fanout.
type copyCounters struct {
	sent, failed, timedOut atomic.Uint64
}

// count adds one fanout's copies: failed counts every copy that was not
// delivered, timedOut those of them that ran out of time.
func (c *copyCounters) count(res copyResult) {
	c.sent.Add(uint64(res.delivered))
	c.failed.Add(uint64(len(res.errs)))
	c.timedOut.Add(uint64(res.timedOut))
}

// Stats are what a fanout worker has done since it started
// (metrics.NewFanoutCollector exports them to Prometheus).
type Stats struct {
	Subscribers map[string]int // per topic, as the cached list has them now
	// Copies delivered: foreground copies a subscriber completed,
	// background copies a job server accepted.
	CopiesSent     uint64
	CopiesFailed   uint64 // not delivered, timed-out ones included
	CopiesTimedOut uint64 // foreground copies cancelled at the copy timeout
}

// Stats returns the worker's subscribers per topic and its copy counts.
func (w *Worker) Stats() Stats {
	return Stats{Subscribers: w.cache.counts(), CopiesSent: w.copies.sent.Load(),
		CopiesFailed: w.copies.failed.Load(), CopiesTimedOut: w.copies.timedOut.Load()}
}
