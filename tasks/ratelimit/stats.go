package ratelimit

import (
	"sync/atomic"
	"time"
)

// Stats counts one queue's acquisitions in this process, for metrics.
type Stats struct {
	Acquired   uint64        // grants handed out
	Waited     uint64        // Acquire calls that had to wait for their grant
	TokenWaits uint64        // attempts refused for want of a token
	SlotWaits  uint64        // attempts refused for want of a free slot
	WaitTime   time.Duration // total time Acquire calls spent waiting
}

type counters struct {
	acquiredN, waitedN, tokenWaits, slotWaits atomic.Uint64
	waitNanos                                 atomic.Int64
}

func (c *counters) acquired(waited time.Duration) {
	c.acquiredN.Add(1)
	if waited > 0 {
		c.waitedN.Add(1)
		c.waitNanos.Add(int64(waited))
	}
}

// Stats returns the counters of every queue this Limiter was asked about.
func (l *Limiter) Stats() map[string]Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Stats, len(l.queues))
	for name, q := range l.queues {
		out[name] = Stats{
			Acquired:   q.stats.acquiredN.Load(),
			Waited:     q.stats.waitedN.Load(),
			TokenWaits: q.stats.tokenWaits.Load(),
			SlotWaits:  q.stats.slotWaits.Load(),
			WaitTime:   time.Duration(q.stats.waitNanos.Load()),
		}
	}
	return out
}
