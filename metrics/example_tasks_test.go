package metrics_test

import (
	"context"
	"io"
	"log"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/tasks"
)

// A worker's task counters per queue and its rate limiter's grants.
func ExampleNewTasksCollector() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Log: io.Discard,
		Queues: map[string]config.Queue{"metricsdoc": {Rate: 100}}})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	c := local.Tasks()
	id, err := tasks.Enqueue(ctx, c, funcs.Square, 4, tasks.Queue("metricsdoc"))
	if err != nil {
		log.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if in, err := c.Get(ctx, id); err == nil && in.State.Finished() {
			break
		}
	}
	printSamples(metrics.NewTasksCollector(local.Worker().TaskLimiter()),
		"glimpse_tasks_succeeded_total", "glimpse_tasks_ratelimit_acquired_total")
	// Output:
	// glimpse_tasks_ratelimit_acquired_total{queue=metricsdoc} 1
	// glimpse_tasks_succeeded_total{queue=metricsdoc} 1
}
