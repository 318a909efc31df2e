package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/glimpse-go/glimpse/config"
)

// Limits are one queue's cluster-wide limits. Zero values mean unlimited.
type Limits struct {
	Rate       float64 // dispatches per second, sustained
	Burst      int     // the most dispatches in any one second; 0 = ceil(Rate); at least Rate
	MaxRunning int     // tasks of the queue running at once
}

// Validate applies the rules of a [queue NAME] section; the error is a
// *config.Error naming the key.
func (l Limits) Validate() error {
	return config.Queue{Rate: l.Rate, Burst: l.Burst, MaxRunning: l.MaxRunning}.Validate()
}

// Unlimited reports whether l limits nothing.
func (l Limits) Unlimited() bool { return l.Rate == 0 && l.MaxRunning == 0 }

// burst is the effective Burst.
func (l Limits) burst() float64 {
	if l.Burst > 0 {
		return float64(l.Burst)
	}
	return math.Ceil(l.Rate)
}

// dispatchJitter is the margin kept for the time between a grant and its
// task's start, which varies with round trips and scheduling: the grants
// keep within Burst over windows this much longer than a second, so the
// starts keep within it over one second.
const dispatchJitter = 0.05 // seconds

// capacity is the bucket's room c: fewer than c + Rate*w tokens go out in
// any window of w seconds, so fewer than Burst in 1+dispatchJitter
// seconds. At least one token must fit.
func (l Limits) capacity() float64 { return max(1, l.burst()-l.Rate*(1+dispatchJitter)) }

// tokenWait is how long until a bucket holding tokens has a whole one.
func (l Limits) tokenWait(tokens float64) time.Duration {
	d := time.Duration((1 - tokens) / l.Rate * float64(time.Second))
	return max(d, 0) + time.Millisecond // the refill counts whole milliseconds
}

// FromConfig turns the [queue NAME] sections of a config file into limits
// by queue name.
func FromConfig(queues map[string]config.Queue) map[string]Limits {
	out := make(map[string]Limits, len(queues))
	for name, q := range queues {
		out[name] = Limits{Rate: q.Rate, Burst: q.Burst, MaxRunning: q.MaxRunning}
	}
	return out
}

// ErrClosed is returned by a Limiter after Close.
var ErrClosed = errors.New("ratelimit: limiter closed")

// QueueError names the queue whose limits were refused.
type QueueError struct {
	Queue string
	Err   error
}

func (e *QueueError) Error() string { return fmt.Sprintf("ratelimit: queue %q: %v", e.Queue, e.Err) }
func (e *QueueError) Unwrap() error { return e.Err }
