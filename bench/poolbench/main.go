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
//   - with -key, what the cluster key costs: a second local cluster of the
//     same slots with a fresh key (chunks and results HMAC-sealed, the
//     ZeroMQ channels on CURVE) takes turns with the keyless one: the
//     trivial map (automatic chunks) -key-rounds times on each, then
//     -one-item-calls one-item maps on each; medians and keyed/keyless.
//
//   - with -metrics, what Prometheus metrics cost: the same local cluster
//     with its metrics switched on (the worker counts, every collector is
//     served and scraped every second) and off between rounds of the
//     trivial map of at least -metrics-round each, -metrics-rounds pairs;
//     the median of the pairs' on/off ratios of items/s and of CPU per
//     item (this process and gearmand), with 95% bootstrap intervals.
//
//     poolbench [-slots 2] [-items 1000000] [-cpu-items 4000] [-cost 1ms] [-rounds 3]
//     [-key] [-key-rounds 9] [-one-item-calls 2000] [-metrics] [-metrics-rounds 9] [-metrics-round 1s] [-small-calls 2000]
//     [-small-concurrency 1000] [-small-concurrent-calls 20000] [-chunk1-items 100000] [-json FILE]
//
//   - small calls: one-item maps, pool.Call and pool.Go against a bare
//     gearman.Client.Call to an echo worker on the same gearmand (p50 one
//     after another, calls/s at -small-concurrency at once), and a
//     Chunksize(1) map.
//
// -json writes the figures as JSON (bench/internal/benchjson.Pool) for
// bench/report.
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

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
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
	keyed := flag.Bool("key", false, "also compare with a keyed local cluster of the same slots")
	keyRounds := flag.Int("key-rounds", 9, "with -key: trivial maps on each cluster")
	oneItemCalls := flag.Int("one-item-calls", 2000, "with -key: one-item maps on each cluster")
	withMetrics := flag.Bool("metrics", false, "also measure the trivial map with the cluster's Prometheus metrics on and scraped, and off")
	var mcfg metricsCfg
	flag.IntVar(&mcfg.rounds, "metrics-rounds", 9, "with -metrics: rounds with the metrics on, and as many off (pairs)")
	flag.DurationVar(&mcfg.round, "metrics-round", time.Second, "with -metrics: the least length of a round (trivial maps until it has passed)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	var small smallCfg
	flag.IntVar(&small.calls, "small-calls", 2000, "one-item maps and bare calls, one after another, for the p50s (0: skip the small-calls section)")
	flag.IntVar(&small.concurrency, "small-concurrency", 1000, "one-item maps and bare calls at once")
	flag.IntVar(&small.concCalls, "small-concurrent-calls", 20000, "one-item maps and bare calls in all at -small-concurrency")
	flag.StringVar(&small.cpuprofile, "small-cpuprofile", "", "write a CPU profile of the concurrent one-item maps and the Chunksize(1) map to this `FILE`")
	flag.IntVar(&small.chunk1Items, "chunk1-items", 100_000, "items of the Chunksize(1) map")
	flag.Parse()
	if *rounds < 1 {
		log.Fatalf("-rounds %d: need at least 1", *rounds)
	}
	if *keyed && (*keyRounds < 1 || *oneItemCalls < 1) {
		log.Fatalf("-key-rounds %d, -one-item-calls %d: need at least 1 each", *keyRounds, *oneItemCalls)
	}
	if *withMetrics && (mcfg.rounds < 1 || mcfg.round < scrapeEvery) {
		// A shorter round would not be scraped every time, and the median
		// of the pairs would leave the scrapes out.
		log.Fatalf("-metrics-rounds %d, -metrics-round %v: need at least 1, and at least the scrape period %v", mcfg.rounds, mcfg.round, scrapeEvery)
	}
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
	fmt.Printf("%-12s %14s\n", "chunksize", "items_per_s")
	xs := make([]int64, *items)
	for i := range xs {
		xs[i] = int64(i)
	}
	out := benchjson.Pool{Slots: *slots, GOMAXPROCS: runtime.GOMAXPROCS(0), Rounds: *rounds, Items: *items}
	for _, cs := range []int{0, 1000, 10_000, 100_000} {
		// The largest step of the progress count is the chunk size the
		// map used: for "auto" it is not known otherwise.
		chunkItems, lastDone := 0, 0
		opts := []pool.MapOption{pool.Progress(func(done, _ int) {
			chunkItems = max(chunkItems, done-lastDone)
			lastDone = done
		})}
		label := "auto"
		if cs > 0 {
			opts = append(opts, pool.Chunksize(cs))
			label = fmt.Sprint(cs)
		}
		rate, all := median(*rounds, func() float64 {
			lastDone = 0
			start := time.Now()
			res, err := pool.Map(ctx, p, funcs.Square, xs, opts...)
			if err != nil {
				log.Fatal(err)
			}
			if res[len(res)-1] != xs[len(xs)-1]*xs[len(xs)-1] {
				log.Fatal("wrong result")
			}
			return float64(len(xs)) / time.Since(start).Seconds()
		})
		if cs == 0 {
			label = fmt.Sprintf("auto(%d)", chunkItems)
		}
		fmt.Printf("%-12s %14.0f\n", label, rate)
		out.Chunks = append(out.Chunks, benchjson.PoolChunk{Chunksize: cs, ChunkItems: chunkItems, ItemsPerS: rate, RoundsPerS: all})
	}

	ranges := benchenv.PrimeRanges(*cpuItems, *cost)
	fmt.Printf("\nCPU-bound map: examples.countprimes, %d items of ~%v CPU (ranges of %d)\n", *cpuItems, *cost, ranges[0].Hi-ranges[0].Lo)
	inProc, _ := median(*rounds, func() float64 {
		start := time.Now()
		inProcess(ctx, ranges, *slots)
		return float64(len(ranges)) / time.Since(start).Seconds()
	})
	mapped, _ := median(*rounds, func() float64 {
		start := time.Now()
		if _, err := pool.Map(ctx, p, funcs.CountPrimes, ranges); err != nil {
			log.Fatal(err)
		}
		return float64(len(ranges)) / time.Since(start).Seconds()
	})
	fmt.Printf("%-28s %10.0f items/s\n", fmt.Sprintf("in-process, %d goroutines", *slots), inProc)
	fmt.Printf("%-28s %10.0f items/s\n", fmt.Sprintf("pool.Map, %d slots", *slots), mapped)
	fmt.Printf("parallel efficiency %.1f%%\n", 100*mapped/inProc)
	out.CPUBound = benchjson.PoolCPU{Items: *cpuItems, ItemCostNs: cost.Nanoseconds(), Goroutines: *slots,
		InProcessItemsPerS: inProc, MapItemsPerS: mapped, Efficiency: mapped / inProc}
	if small.calls > 0 {
		sm, err := measureSmall(ctx, p, local.Config().JobServers[0], small)
		if err != nil {
			log.Fatal(err)
		}
		printSmall(sm)
		out.Small = &sm
	}
	if *keyed {
		// Started only now, so that it idles through none of the figures above.
		k, err := startKeyed(ctx, *slots)
		if err != nil {
			log.Fatal(err)
		}
		cmp, err := compareKeyed(ctx, p, k.Pool(), xs, *keyRounds, *oneItemCalls)
		k.Close()
		if err != nil {
			log.Fatal(err)
		}
		printKeyed(cmp)
		out.Keyed = &cmp
	}
	if *withMetrics {
		m, err := compareMetrics(ctx, local, xs, mcfg)
		if err != nil {
			log.Fatal(err)
		}
		printMetrics(m)
		out.Metrics = &m
	}
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, out); err != nil {
			log.Fatal(err)
		}
	}
}

// median runs f rounds times and returns the median result and all of
// them, in order.
func median(rounds int, f func() float64) (float64, []float64) {
	var xs []float64
	for range rounds {
		xs = append(xs, f())
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	return sorted[len(sorted)/2], xs
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
