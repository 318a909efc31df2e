package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/periodic"
)

// A function known by name only, with a JSON item (as the HTTP gateway
// and the periodic scheduler enqueue): the JSON becomes the function's In
// type; a value that does not fit names the field.
func ExampleEnqueueJSON() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()
	c := local.Tasks()

	id, err := tasks.EnqueueJSON(ctx, c, "examples.square", json.RawMessage(`12`))
	if err != nil {
		log.Fatal(err)
	}
	task, err := tasks.Lookup(ctx, c, funcs.Square, waitDone(ctx, c, id).ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(task.State, task.Value)

	_, err = tasks.EnqueueJSON(ctx, c, "examples.square", json.RawMessage(`"twelve"`))
	fmt.Println(errors.Is(err, tasks.ErrItemMismatch), err)
	_, err = tasks.EnqueueJSON(ctx, c, "no.such", nil)
	fmt.Println(errors.Is(err, tasks.ErrUnknownFunction))
	// Output:
	// succeeded 144
	// true tasks: enqueue examples.square: item does not fit the function's argument type: the item: JSON string where int64 is wanted
	// true
}

// The dashboard's tasks by state.
func ExampleClient_TaskStates() {
	ctx := context.Background()
	local := startLocal(ctx)
	defer local.Close()
	c := local.Tasks()
	id, _ := tasks.Enqueue(ctx, c, funcs.Square, 2)
	waitDone(ctx, c, id)
	states, err := c.TaskStates(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(states["succeeded"], states["failed"], len(states))
	// Output: 1 0 7
}

// A periodic task added in code (in an init function of the package that
// registers the functions, so that every worker binary has it).
func ExamplePeriodic() {
	err := tasks.Periodic(periodic.Entry{Name: "nightly-square", Schedule: "0 3 * * *", Function: "examples.square", Item: json.RawMessage(`7`)})
	fmt.Println(err, len(tasks.PeriodicEntries()))
	err = tasks.Periodic(periodic.Entry{Name: "bad", Schedule: "every day", Function: "examples.square"})
	fmt.Println(err != nil)
	// Output:
	// <nil> 1
	// true
}

// Outside a task there is no RunInfo; a task's function gets its id,
// queue and attempt.
func ExampleFromContext() {
	_, ok := tasks.FromContext(context.Background())
	fmt.Println(ok)
	// Output: false
}
