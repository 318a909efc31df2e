package pool_test

import (
	"context"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// A durable task (package tasks) stores its item as a one-item chunk; the
// worker's result decodes with TaskResult.
func ExampleFunc_TaskPayload() {
	payload, err := Cube.TaskPayload(3)
	if err != nil {
		log.Fatal(err)
	}
	f, _ := wire.Lookup(Cube.Name()) // what a worker serves
	result, err := f.RunChunk(context.Background(), payload, "example")
	if err != nil {
		log.Fatal(err)
	}
	v, err := Cube.TaskResult(result)
	fmt.Println(v, err)
	// Output: 27 <nil>
}

// An item given as JSON (a caller that knows the function by name only,
// such as tasks.EnqueueJSON) encodes as the typed item would.
func ExampleFunc_TaskPayloadJSON() {
	payload, err := Cube.TaskPayloadJSON([]byte(`4`))
	if err != nil {
		log.Fatal(err)
	}
	f, _ := wire.Lookup(Cube.Name())
	result, _ := f.RunChunk(context.Background(), payload, "example")
	v, _ := Cube.TaskResult(result)
	_, err = Cube.TaskPayloadJSON([]byte(`"four"`))
	fmt.Println(v, err)
	// Output: 64 json: cannot unmarshal string into Go value of type int
}
