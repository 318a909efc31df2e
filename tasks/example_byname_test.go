package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks"
)

// openStore opens a task store in a fresh directory, with no job server:
// enough for scheduled tasks.
func openStore(ctx context.Context) (*tasks.Client, func()) {
	dir, err := os.MkdirTemp("", "tasks-example-")
	if err != nil {
		log.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "tasks.db"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := tasks.NewClient(ctx, db, nil, config.Tasks{})
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { c.Close(); db.Close(); os.RemoveAll(dir) }
}

// A task by its function's name with the item already encoded, as the
// HTTP gateway enqueues them.
func ExampleClient_EnqueuePayload() {
	ctx := context.Background()
	c, done := openStore(ctx)
	defer done()
	payload, err := funcs.Square.TaskPayload(12)
	if err != nil {
		log.Fatal(err)
	}
	id, err := c.EnqueuePayload(ctx, funcs.Square.Name(), payload, tasks.Countdown(time.Hour), tasks.Key("sq-12"))
	if err != nil {
		log.Fatal(err)
	}
	again, _ := c.EnqueuePayload(ctx, funcs.Square.Name(), payload, tasks.Key("sq-12"))
	_, err = c.EnqueuePayload(ctx, "no.such.function", payload)
	fmt.Println(again == id, err)
	// Output: true tasks: enqueue no.such.function: function not registered in this process (pool.Register)
}

// Each queue's tasks that have not ended, by state.
func ExampleClient_QueueCounts() {
	ctx := context.Background()
	c, done := openStore(ctx)
	defer done()
	for _, q := range []string{"mail", "mail", "reports"} {
		payload, _ := funcs.Square.TaskPayload(2)
		if _, err := c.EnqueuePayload(ctx, funcs.Square.Name(), payload, tasks.Queue(q), tasks.Countdown(time.Hour)); err != nil {
			log.Fatal(err)
		}
	}
	counts, err := c.QueueCounts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range counts {
		fmt.Println(q.Queue, q.Scheduled, q.Queued)
	}
	// Output:
	// mail 2 0
	// reports 1 0
}

// A store that cannot commit the task: the error wraps ErrStore, and
// nothing is stored (an HTTP gateway answers 503: retry later).
func ExampleErrStore() {
	ctx := context.Background()
	c, done := openStore(ctx)
	defer done()
	c.DB().Close() // the store goes away
	payload, _ := funcs.Square.TaskPayload(3)
	_, err := c.EnqueuePayload(ctx, funcs.Square.Name(), payload)
	fmt.Println(errors.Is(err, tasks.ErrStore))
	// Output: true
}
