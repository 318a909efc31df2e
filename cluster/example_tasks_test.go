package cluster_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/tasks"
)

// printLimiter lets every task run, and says so.
type printLimiter struct{}

func (printLimiter) Acquire(_ context.Context, queue string) (func(), error) {
	fmt.Println("may run a task of queue", queue)
	return func() {}, nil
}

// A worker that serves durable tasks: WithTasks names the task store (here
// the local cluster's), WithTaskLimiter is asked before each task runs.
func ExampleWithTasks() {
	ctx := context.Background()
	wc := config.DefaultWorker()
	wc.LogLevel, wc.Functions = slog.LevelError, []string{"examples.hex"} // the local worker leaves squares to ours
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	ours := config.Worker{Slots: 1, LogLevel: slog.LevelError, Functions: []string{"examples.square"}}
	w, err := cluster.NewWorker(local.Config(), ours,
		cluster.WithTasks(local.TasksStore(), config.DefaultTasks()), cluster.WithTaskLimiter(printLimiter{}))
	if err != nil {
		log.Fatal(err)
	}
	go w.Run()
	defer w.Close()

	id, err := tasks.Enqueue(ctx, local.Tasks(), funcs.Square, 9, tasks.Queue("maths"))
	if err != nil {
		log.Fatal(err)
	}
	for {
		t, err := tasks.Lookup(ctx, local.Tasks(), funcs.Square, id)
		if err != nil {
			log.Fatal(err)
		}
		if t.State == tasks.Succeeded {
			fmt.Println(t.Value, t.Worker == w.ID())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Output:
	// may run a task of queue maths
	// 81 true
}
