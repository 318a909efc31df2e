package cluster_test

import (
	"context"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/cluster"
	_ "github.com/glimpse-go/glimpse/examples/funcs" // registers examples.square and others
)

// A program with no config file starts a local cluster and uses its pool;
// the workers serve every function registered in the program.
func ExampleStartLocal() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err) // e.g. gearmand is not installed: the error says which package to install
	}
	defer local.Close()

	slots, err := local.Pool().WorkerSlots(ctx, "examples.square")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("worker slots serving examples.square:", slots)
	// Output: worker slots serving examples.square: 2
}
