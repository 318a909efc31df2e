package pool_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/pool"
)

// Functions are registered once, at package level, in a package that the
// client program and the worker binary both import.
var Cube = pool.Register("doc.cube", func(_ context.Context, x int) (int, error) {
	if x < 0 {
		return 0, fmt.Errorf("negative input %d", x)
	}
	return x * x * x, nil
})

func ExampleMap() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2) // or pool.FromConfigFile("config.ini")
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3, 4})
	fmt.Println(cubes, err)

	_, err = pool.Map(ctx, local.Pool(), Cube, []int{1, -2, 3})
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Printf("item %d: %s\n", te.Index, te.Message)
	}
	// Output:
	// [1 8 27 64] <nil>
	// item 1: negative input -2
}

func ExampleImap() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The input is read lazily and the results stream in input order.
	numbers := func(yield func(int) bool) {
		for i := 1; i <= 5; i++ {
			if !yield(i) {
				return
			}
		}
	}
	for cube, err := range pool.Imap(ctx, local.Pool(), Cube, numbers) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(cube, " ")
	}
	fmt.Println()
	// Output: 1 8 27 64 125
}

func ExampleWaitForWorkers() {
	ctx := context.Background()
	// A batch job started together with its cluster: the map waits up to
	// a minute for a worker instead of failing with ErrNoWorkers.
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3}, pool.WaitForWorkers(time.Minute))
	fmt.Println(cubes, err)
	// Output: [1 8 27] <nil>
}

func ExampleChunkMapID() {
	// A worker finds the map a chunk belongs to in the chunk's unique id,
	// to obey a cancel command for that map.
	fmt.Printf("%q\n", pool.ChunkMapID("3f2a9c1b5e7d4a60-12"))
	fmt.Printf("%q\n", pool.ChunkMapID("not-a-chunk"))
	// Output:
	// "3f2a9c1b5e7d4a60"
	// ""
}
