package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"

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

func ExampleProgressBar() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// On a terminal, stderr shows the bar while the map runs:
	//   cubes  60% |██████████      | (600/1000, 5210 items/s) [0s:0s]
	// Redirected to a file or a pipe, it shows nothing.
	items := make([]int, 1000)
	cubes, err := pool.Map(ctx, local.Pool(), Cube, items, pool.ProgressBar(os.Stderr, "cubes"))
	fmt.Println(len(cubes), err)

	// A buffer is no terminal: nothing is written to it.
	var buf bytes.Buffer
	_, err = pool.Map(ctx, local.Pool(), Cube, items, pool.ProgressBar(&buf, "cubes"))
	fmt.Printf("%q %v\n", buf.String(), err)
	// Output:
	// 1000 <nil>
	// "" <nil>
}
