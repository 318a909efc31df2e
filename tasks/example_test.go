package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
)

// startLocal starts a local cluster (gearmand with a persistent queue, a
// worker serving tasks, a task store) for an example.
func startLocal(ctx context.Context) *cluster.Local {
	wc := config.DefaultWorker()
	wc.Slots, wc.LogLevel = 2, slog.LevelError
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc})
	if err != nil {
		log.Fatal(err)
	}
	return local
}

// waitDone polls until the task has finished.
func waitDone(ctx context.Context, c *tasks.Client, id tasks.ID) *tasks.Info {
	for {
		in, err := c.Get(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		if in.State.Finished() {
			return in
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A background task: Enqueue returns its id at once, a worker runs it, and
// Lookup gives its result typed as the function's Out.
func Example() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()
	c := local.Tasks()

	id, err := tasks.Enqueue(ctx, c, funcs.Square, 12)
	if err != nil {
		log.Fatal(err)
	}
	waitDone(ctx, c, id)
	task, err := tasks.Lookup(ctx, c, funcs.Square, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(task.State, task.Value, task.Attempt)
	// Output: succeeded 144 1
}

// A countdown, and the same idempotency key enqueued twice: one task.
func ExampleEnqueue() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()
	c := local.Tasks()

	first, err := tasks.Enqueue(ctx, c, funcs.Square, 3, tasks.Countdown(200*time.Millisecond), tasks.Key("square-3"), tasks.Queue("maths"))
	if err != nil {
		log.Fatal(err)
	}
	again, _ := tasks.Enqueue(ctx, c, funcs.Square, 3, tasks.Key("square-3"))
	in, _ := c.Get(ctx, first)
	fmt.Println(again == first, in.State, in.Queue)
	fmt.Println(waitDone(ctx, c, first).State)
	// Output:
	// true scheduled maths
	// succeeded
}

// Bad input is an *EnqueueError wrapping one of the Err* values; nothing
// is stored.
func ExampleEnqueueError() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()

	_, err := tasks.Enqueue(ctx, local.Tasks(), funcs.Square, 3, tasks.ETA(time.Now().Add(-time.Hour)))
	var ee *tasks.EnqueueError
	fmt.Println(errors.Is(err, tasks.ErrPastETA), errors.As(err, &ee) && ee.Func == "examples.square")
	_, err = tasks.Enqueue(ctx, local.Tasks(), funcs.Square, 3, tasks.Countdown(-time.Second))
	fmt.Println(errors.Is(err, tasks.ErrNegativeDelay))
	// Output:
	// true true
	// true
}

// Retry's waits double from MinBackoff up to MaxBackoff.
func ExampleRetryConfig_Backoff() {
	rc := tasks.RetryConfig{MaxAttempts: 6, MinBackoff: time.Second, MaxBackoff: 5 * time.Second}
	for n := 1; n < rc.MaxAttempts; n++ {
		fmt.Print(rc.Backoff(n), " ")
	}
	fmt.Println()
	_ = tasks.Retry(rc) // per task, as an EnqueueOption
	// Output: 1s 2s 4s 5s 5s
}

// Cancel a scheduled task, list tasks by state, count them, retry one.
func ExampleClient_Cancel() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()
	c := local.Tasks()

	id, _ := tasks.Enqueue(ctx, c, funcs.Square, 5, tasks.ETA(time.Now().Add(time.Hour)))
	if err := c.Cancel(ctx, id); err != nil {
		log.Fatal(err)
	}
	list, _ := c.List(ctx, tasks.Filter{State: tasks.Cancelled})
	counts, _ := c.Counts(ctx)
	fmt.Println(len(list), list[0].ID == id, counts[tasks.Cancelled])
	err := c.Cancel(ctx, id)
	fmt.Println(errors.Is(err, tasks.ErrNotCancelable))
	if err := c.Retry(ctx, id); err != nil {
		log.Fatal(err)
	}
	fmt.Println(waitDone(ctx, c, id).State)
	// Output:
	// 1 true 1
	// true
	// succeeded
}

// Another process opens the cluster's task store with the config: Open
// dials the job servers and the store.
func ExampleOpen() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()

	conf := config.DefaultTasks()
	conf.Store = local.TasksStore()
	c, err := tasks.Open(ctx, local.Config(), conf, config.DefaultFanout())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	id, _ := tasks.Enqueue(ctx, c, funcs.Square, 7)
	fmt.Println(waitDone(ctx, c, id).State)
	// Output: succeeded
}

// A worker runtime of your own serves tasks with a Runner (each function's
// jobs as GearmanName(name)) and runs the scheduler's duties; cluster.Worker
// does this with cluster.WithTasks.
func ExampleNewRunner() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()
	db, err := store.Open(ctx, local.TasksStore())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := tasks.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	runner, err := tasks.NewRunner(ctx, db, "my-worker", config.Tasks{})
	if err != nil {
		log.Fatal(err)
	}
	sched, err := tasks.NewScheduler(ctx, db, local.Config(), config.Tasks{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	gw, err := gearman.NewWorker(local.Config().JobServers)
	if err != nil {
		log.Fatal(err)
	}
	name := tasks.GearmanName("examples.square")
	f, _ := wire.Lookup(funcs.Square.Name())
	gw.Register(name, runner.JobFunc(f))
	runner.Start()
	sched.Start()
	gw.Close()
	sched.Stop()
	runner.Stop()
	fmt.Println(name, sched.Dispatcher.Name)
	// Output: glimpse-task.examples.square dispatcher
}

// fetchStatus stands for a function that mostly waits on the network.
var fetchStatus = pool.Register("example.fetchstatus", func(ctx context.Context, url string) (int, error) {
	select {
	case <-time.After(20 * time.Millisecond): // the round trip
		return 200, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// At init, beside its registration: the tasks of one job of fetchStatus
// run up to 16 at once in the job's slot, not one after another.
func init() { tasks.RunConcurrently(fetchStatus.Name(), 16) }

// A function that mostly waits runs the tasks of a job at once.
func ExampleRunConcurrently() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()
	c := local.Tasks()

	var ids []tasks.ID
	for i := range 4 {
		id, err := tasks.Enqueue(ctx, c, fetchStatus, fmt.Sprintf("https://example.com/%d", i))
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		task, err := tasks.Lookup(ctx, c, fetchStatus, waitDone(ctx, c, id).ID)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(task.State, task.Value)
	}
	// Output:
	// succeeded 200
	// succeeded 200
	// succeeded 200
	// succeeded 200
}
