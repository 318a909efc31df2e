package gearman

import (
	"sync"
	"sync/atomic"
	"time"
)

// Batched outcomes: a worker whose connection has other jobs in hand (run
// or waiting for a slot) leaves a small job's WORK_COMPLETE and its slot's
// next GRAB_JOB_UNIQ queued, for the write of the next job of the
// connection to end, instead of a write of their own. With short jobs
// (a Chunksize(1) map) that makes one system call, and one read for the
// job server, per several jobs rather than per job. The last job in hand
// always writes; a held outcome otherwise waits at most heldDelay (a job
// that turns out slow does not hold the others' results), and at most
// maxHeld outcomes wait together.

// heldDelay bounds how long an outcome waits for another job's write.
const heldDelay = 200 * time.Microsecond

// maxHeld is how many outcomes may wait together: enough to share the
// cost of a write, few enough that the job server keeps getting asks
// while the worker's other jobs run.
const maxHeld = 4

// heldWrites is a worker connection's count of jobs in hand and of
// outcomes queued lazily.
type heldWrites struct {
	jobs  atomic.Int32 // jobs assigned on the connection and not yet ended
	count atomic.Int32 // outcomes queued lazily since the last write
	armed atomic.Bool  // the timer will write them
	once  sync.Once
	timer *time.Timer
}

// assigned counts a job handed to the worker on this connection.
func (h *heldWrites) assigned() { h.jobs.Add(1) }

// ended counts a job of this connection as ended and says whether its
// outcome, of size bytes, may wait for another job's write.
func (h *heldWrites) ended(size int) (hold bool) {
	others := h.jobs.Add(-1)
	if others <= 0 || size >= largeArg {
		h.count.Store(0)
		return false
	}
	if h.count.Add(1) > maxHeld {
		h.count.Store(0)
		return false
	}
	return true
}

// afterHeld makes sure what was just queued lazily is written: now if no
// other job is left in hand (one that ended meanwhile may have written
// before our packets were queued), else by the timer unless another job's
// write takes it first.
func (c *conn) afterHeld() {
	h := &c.held
	if h.jobs.Load() <= 0 {
		h.count.Store(0)
		c.flushQueued()
		return
	}
	if h.armed.CompareAndSwap(false, true) {
		h.once.Do(func() {
			h.timer = time.AfterFunc(time.Hour, func() {
				h.armed.Store(false)
				c.kick()
			})
		})
		h.timer.Reset(heldDelay)
	}
}
