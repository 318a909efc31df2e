// Command squares is glimpse's first example, pool.map(hex, [1, 2, 3]),
// in Go, plus a million squares to show the speed.
//
//	go run ./examples/squares            # on a local cluster
//	go run ./examples/squares -c config.ini
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/examples/internal/demo"
	"github.com/glimpse-go/glimpse/pool"
)

func main() {
	n := flag.Int("items", 1_000_000, "how many numbers to square")
	demo.Main(func(ctx context.Context, p *pool.Pool) error {
		return run(ctx, p, *n)
	})
}

func run(ctx context.Context, p *pool.Pool, n int) error {
	hexes, err := pool.Map(ctx, p, funcs.Hex, []int64{1, 2, 3})
	if err != nil {
		return err
	}
	fmt.Println(hexes) // [0x1 0x2 0x3]

	xs := make([]int64, n)
	for i := range xs {
		xs[i] = int64(i)
	}
	start := time.Now()
	squares, err := pool.Map(ctx, p, funcs.Square, xs, pool.ProgressBar(os.Stderr, "squares"))
	if err != nil {
		return err
	}
	took := time.Since(start)
	var sum int64
	for _, s := range squares {
		sum += s
	}
	fmt.Printf("sum of %d squares = %d in %v (%.0f items/s)\n", n, sum, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return nil
}
