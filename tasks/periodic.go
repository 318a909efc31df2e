package tasks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/tasks/periodic"
)

// periodicEntries are the entries Periodic added, in order.
var periodicEntries struct {
	sync.Mutex
	list []periodic.Entry
}

// Periodic adds a periodic task in code, besides the [periodic NAME]
// sections of the config: every worker process that serves tasks (and
// imports the package that calls Periodic, as it imports the functions)
// enqueues e.Function once per period of e.Schedule, cluster-wide. Call
// it from an init function. An entry that a config section would refuse,
// or whose name was added before, is an error.
func Periodic(e periodic.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	periodicEntries.Lock()
	defer periodicEntries.Unlock()
	for _, old := range periodicEntries.list {
		if old.Name == e.Name {
			return &periodic.EntryError{Name: e.Name, Err: fmt.Errorf("added twice")}
		}
	}
	periodicEntries.list = append(periodicEntries.list, e)
	return nil
}

// PeriodicEntries returns the entries Periodic added.
func PeriodicEntries() []periodic.Entry {
	periodicEntries.Lock()
	defer periodicEntries.Unlock()
	return append([]periodic.Entry(nil), periodicEntries.list...)
}

// PeriodicEnqueue is the periodic.Enqueue that enqueues an entry's task
// on c: EnqueueJSON of its function and item, on its queue, with the
// period's idempotency key (periodic.Key), so a period enqueued twice is
// one task.
func PeriodicEnqueue(c *Client) periodic.Enqueue {
	return func(ctx context.Context, e periodic.Entry, _ time.Time, key string) error {
		opts := []EnqueueOption{Key(key)}
		if e.Queue != "" {
			opts = append(opts, Queue(e.Queue))
		}
		_, err := EnqueueJSON(ctx, c, e.Function, e.Item, opts...)
		return err
	}
}
