// Command poolbench measures pool.Map on a local cluster (cluster.StartLocal:
// a managed gearmand and an in-process worker with -slots slots):
//
//   - items/s of a trivial function (x*x on int64) over -items items, for
//     automatic chunking and a few fixed chunk sizes;
//
//   - parallel efficiency for CPU-bound items of about -cost each: the map's
//     throughput over that of the same function run in this process by
//     -slots goroutines, in the same run.
//
//     poolbench [-slots 2] [-items 1000000] [-cpu-items 4000] [-cost 1ms] [-rounds 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("poolbench: ")
	slots := flag.Int("slots", 2, "worker slots of the local cluster")
	items := flag.Int("items", 1_000_000, "items of the trivial map")
	cpuItems := flag.Int("cpu-items", 4000, "items of the CPU-bound map")
	cost := flag.Duration("cost", time.Millisecond, "CPU time of one CPU-bound item")
	rounds := flag.Int("rounds", 3, "measurements of each case; the median is reported")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	local, err := cluster.StartLocal(ctx, *slots)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	p := local.Pool()

	fmt.Printf("local cluster, %d worker slots, GOMAXPROCS %d; median of %d rounds\n\n", *slots, runtime.GOMAXPROCS(0), *rounds)
	fmt.Printf("trivial map: examples.square over %d int64\n", *items)
	fmt.Printf("%-10s %14s\n", "chunksize", "items_per_s")
	xs := make([]int64, *items)
	for i := range xs {
		xs[i] = int64(i)
	}
	for _, cs := range []int{0, 1000, 10_000, 100_000} {
		var opts []pool.MapOption
		label := "auto"
		if cs > 0 {
			opts = append(opts, pool.Chunksize(cs))
			label = fmt.Sprint(cs)
		}
		rate := median(*rounds, func() float64 {
			start := time.Now()
			out, err := pool.Map(ctx, p, funcs.Square, xs, opts...)
			if err != nil {
				log.Fatal(err)
			}
			if out[len(out)-1] != xs[len(xs)-1]*xs[len(xs)-1] {
				log.Fatal("wrong result")
			}
			return float64(len(xs)) / time.Since(start).Seconds()
		})
		fmt.Printf("%-10s %14.0f\n", label, rate)
	}

	// Calibrate a prime-counting range that costs about *cost of CPU.
	width := calibrate(*cost)
	ranges := make([]funcs.Range, *cpuItems)
	for i := range ranges {
		lo := int64(1_000_000_000) + int64(i)*width
		ranges[i] = funcs.Range{Lo: lo, Hi: lo + width}
	}
	fmt.Printf("\nCPU-bound map: examples.countprimes, %d items of ~%v (ranges of %d)\n", *cpuItems, *cost, width)
	inProc := median(*rounds, func() float64 {
		start := time.Now()
		inProcess(ctx, ranges, *slots)
		return float64(len(ranges)) / time.Since(start).Seconds()
	})
	mapped := median(*rounds, func() float64 {
		start := time.Now()
		if _, err := pool.Map(ctx, p, funcs.CountPrimes, ranges); err != nil {
			log.Fatal(err)
		}
		return float64(len(ranges)) / time.Since(start).Seconds()
	})
	fmt.Printf("%-28s %10.0f items/s\n", fmt.Sprintf("in-process, %d goroutines", *slots), inProc)
	fmt.Printf("%-28s %10.0f items/s\n", fmt.Sprintf("pool.Map, %d slots", *slots), mapped)
	fmt.Printf("parallel efficiency %.1f%%\n", 100*mapped/inProc)
}

func median(rounds int, f func() float64) float64 {
	var xs []float64
	for range rounds {
		xs = append(xs, f())
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// calibrate finds a range width whose prime count takes about d.
func calibrate(d time.Duration) int64 {
	width := int64(100)
	for {
		start := time.Now()
		for i := range 20 {
			lo := int64(1_000_000_000) + int64(i)*width
			funcs.CountPrimes.Call(context.Background(), funcs.Range{Lo: lo, Hi: lo + width})
		}
		took := time.Since(start) / 20
		if took >= d/2 {
			return max(1, int64(float64(width)*float64(d)/float64(took)))
		}
		width *= 2
	}
}

// inProcess runs the function on the items with n goroutines.
func inProcess(ctx context.Context, items []funcs.Range, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				funcs.CountPrimes.Call(ctx, items[i])
			}
		}()
	}
	wg.Wait()
}
