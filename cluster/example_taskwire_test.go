package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/periodic"
)

// A worker given [queue NAME] limits (cluster.WithTaskQueues; the local
// cluster passes LocalConfig.Queues) asks its ratelimit.Limiter before
// each task of those queues.
func ExampleWithTaskQueues() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Log: io.Discard,
		Queues: map[string]config.Queue{"mail": {Rate: 5, MaxRunning: 2}}})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	fmt.Printf("%+v\n", local.Worker().TaskLimiter().Limits("mail"))
	// Output: {Rate:5 Burst:0 MaxRunning:2}
}

// A worker given periodic entries (cluster.WithPeriodic; the local
// cluster passes LocalConfig.Periodic) enqueues each once per period.
func ExampleWithPeriodic() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Log: io.Discard,
		Periodic: []periodic.Entry{{Name: "sq", Schedule: "@every 1s", Function: "examples.square", Item: json.RawMessage(`5`)}}})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		list, err := local.Tasks().List(ctx, tasks.Filter{State: tasks.Succeeded})
		if err != nil {
			log.Fatal(err)
		}
		if len(list) > 0 {
			fmt.Println(list[0].Func, strings.HasPrefix(list[0].Key, "periodic:sq:"))
			break
		}
	}
	// Output: examples.square true
}
