package tasks

import (
	"sync"
	"sync/atomic"
)

// QueueStats counts one queue's tasks in this process, for metrics:
// Enqueued by this process's Clients, the rest by its Runners.
type QueueStats struct {
	Enqueued  uint64 // Enqueue and EnqueueJSON calls that returned an id
	Succeeded uint64 // attempts that succeeded
	Failed    uint64 // attempts that failed the task (the last, or a permanent error)
	Retried   uint64 // attempts that failed and left the task retrying
}

type queueCounters struct{ enqueued, succeeded, failed, retried atomic.Uint64 }

// counters are a process's counters by queue; every Client and Runner
// adds to the same ones.
var counters sync.Map // queue name -> *queueCounters

func countersOf(queue string) *queueCounters {
	if c, ok := counters.Load(queue); ok {
		return c.(*queueCounters)
	}
	c, _ := counters.LoadOrStore(queue, &queueCounters{})
	return c.(*queueCounters)
}

// Stats returns this process's counters of every queue it enqueued or
// ran tasks of.
func Stats() map[string]QueueStats {
	out := map[string]QueueStats{}
	counters.Range(func(k, v any) bool {
		c := v.(*queueCounters)
		out[k.(string)] = QueueStats{Enqueued: c.enqueued.Load(), Succeeded: c.succeeded.Load(),
			Failed: c.failed.Load(), Retried: c.retried.Load()}
		return true
	})
	return out
}

// count adds a recorded outcome to its queue's counters.
func (o outcome) count() {
	c := countersOf(o.t.queue)
	switch o.state() {
	case Succeeded:
		c.succeeded.Add(1)
	case Failed:
		c.failed.Add(1)
	default:
		c.retried.Add(1)
	}
}

// state is the task's state once o is recorded.
func (o outcome) state() State {
	switch {
	case o.err == "":
		return Succeeded
	case o.t.attempt >= o.t.retry.MaxAttempts || o.permanent:
		return Failed
	}
	return Retrying
}
