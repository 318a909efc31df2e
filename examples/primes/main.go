// Command primes counts the primes below -limit by cutting the range into
// pieces and counting each piece on a worker: CPU-bound work.
//
//	go run ./examples/primes [-c config.ini] [-limit 20000000] [-pieces 2000]
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
	limit := flag.Int64("limit", 20_000_000, "count the primes below this")
	pieces := flag.Int64("pieces", 2000, "how many ranges to cut it into")
	demo.Main(func(ctx context.Context, p *pool.Pool) error {
		return run(ctx, p, *limit, *pieces)
	})
}

func run(ctx context.Context, p *pool.Pool, limit, pieces int64) error {
	if pieces < 1 || limit < 2 {
		return fmt.Errorf("need -pieces >= 1 and -limit >= 2")
	}
	width := (limit + pieces - 1) / pieces
	var ranges []funcs.Range
	for lo := int64(0); lo < limit; lo += width {
		ranges = append(ranges, funcs.Range{Lo: lo, Hi: min(lo+width, limit)})
	}
	start := time.Now()
	counts, err := pool.Map(ctx, p, funcs.CountPrimes, ranges, pool.ProgressBar(os.Stderr, "ranges"))
	if err != nil {
		return err
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	fmt.Printf("%d primes below %d (%d ranges, %v)\n", total, limit, len(ranges), time.Since(start).Round(time.Millisecond))
	return nil
}
