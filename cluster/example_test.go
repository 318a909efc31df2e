package cluster_test

import (
	"context"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/examples/funcs" // registers examples.square and others
	"github.com/glimpse-go/glimpse/pool"
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

	hexes, err := pool.Map(ctx, local.Pool(), funcs.Hex, []int64{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hexes)
	// Output: [0x1 0x2 0x3]
}
