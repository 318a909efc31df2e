// Command imapmem measures the peak memory of a process that streams a
// map of N items through pool.Imap, for several N: it should not grow with
// N, since Imap holds at most Window chunks.
//
//	imapmem [-items 100000,1000000,10000000] [-workers 2] [-slots 1] [-json FILE]
//
// It starts a gearmand (internal/gearmand) and real `glimpse-cluster
// worker` processes, then runs each Imap in a fresh child process of its
// own (this program, re-executed), so that each size's peak RSS (VmHWM in
// /proc/self/status) is its own and only the client side is measured. The
// map is examples.square over 0..N-1, generated lazily; the child checks
// every result. -json writes the figures as JSON
// (bench/internal/benchjson.Imap) for bench/report.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"iter"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"strconv"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("imapmem: ")
	sizes := flag.String("items", "100000,1000000,10000000", "comma-separated item counts, one Imap (and one process) each")
	workers := flag.Int("workers", 2, "worker processes")
	slots := flag.Int("slots", 1, "slots of each worker process")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	childAddr := flag.String("child-addr", "", "internal: run one Imap against this job server and print its figures")
	childItems := flag.Int("child-items", 0, "internal: the child's item count")
	chunksizes := flag.String("chunksizes", "0", "comma-separated pool.Chunksize settings (0: automatic), each run at every item count")
	childChunksize := flag.Int("child-chunksize", 0, "internal: the child's chunk size")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *childAddr != "" {
		row, err := child(ctx, *childAddr, *childItems, *childChunksize)
		if err != nil {
			log.Fatal(err)
		}
		json.NewEncoder(os.Stdout).Encode(row)
		return
	}
	counts, err := benchenv.ParseList("-items", *sizes, 1)
	if err != nil {
		log.Fatal(err)
	}
	chunks, err := benchenv.ParseList("-chunksizes", *chunksizes, 0)
	if err != nil {
		log.Fatal(err)
	}
	if *workers < 1 || *slots < 1 {
		log.Fatalf("-workers %d -slots %d: need at least 1 of each", *workers, *slots)
	}
	out, err := run(ctx, counts, chunks, *workers, *slots, *bin)
	if err != nil {
		log.Fatal(err)
	}
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, out); err != nil {
			log.Fatal(err)
		}
	}
}

func run(ctx context.Context, counts, chunks []int, workers, slots int, bin string) (benchjson.Imap, error) {
	out := benchjson.Imap{Workers: workers, Slots: slots}
	self, err := os.Executable()
	if err != nil {
		return out, err
	}
	c, err := benchenv.StartCluster(ctx, benchenv.ClusterSpec{Name: "imapmem", Bin: bin, Workers: workers, Slots: slots})
	if err != nil {
		return out, err
	}
	defer c.Close()
	p, err := c.Pool(ctx, "", funcs.Square.Name())
	if err != nil {
		return out, err
	}
	defer p.Close()
	gd := c.Gearmand
	fmt.Printf("pool.Imap of examples.square, %d worker processes x %d slots; one process per map\n", workers, slots)
	fmt.Printf("%-10s %12s %10s %14s %14s %14s %14s %14s %8s\n", "chunksize", "items", "seconds", "items_per_s",
		"rss_before_MiB", "peak_rss_MiB", "peak_heap_MiB", "live_after_MiB", "chunks")
	for _, cs := range chunks {
		for _, n := range counts {
			cmd := exec.CommandContext(ctx, self, "-child-addr", gd.Addr(), "-child-items", strconv.Itoa(n), "-child-chunksize", strconv.Itoa(cs))
			cmd.Stderr = os.Stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			text, err := cmd.Output()
			if err != nil {
				return out, fmt.Errorf("the Imap of %d items: %w", n, err)
			}
			var row benchjson.ImapRow
			if err := json.Unmarshal(text, &row); err != nil {
				return out, fmt.Errorf("the Imap of %d items printed %q: %w", n, text, err)
			}
			mib := func(kib int64) float64 { return float64(kib) / 1024 }
			label := strconv.Itoa(cs)
			if cs == 0 {
				label = "auto"
			}
			fmt.Printf("%-10s %12d %10.2f %14.0f %14.1f %14.1f %14.1f %14.1f %8d\n", label, row.Items, row.Seconds, row.ItemsPerS,
				mib(row.RSSBeforeKiB), mib(row.PeakRSSKiB), mib(row.PeakHeapKiB), mib(row.LiveAfterKiB), row.Chunks)
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// child runs one Imap of n items and measures this process.
func child(ctx context.Context, addr string, n, chunksize int) (benchjson.ImapRow, error) {
	row := benchjson.ImapRow{Items: n, Chunksize: chunksize}
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		return row, err
	}
	defer p.Close()
	if row.RSSBeforeKiB, err = benchenv.StatusKiB("/proc/self/status", "VmRSS"); err != nil {
		return row, err
	}
	allocBefore := readMetric("/gc/heap/allocs:bytes")
	// Sample the Go heap while the map runs; runtime/metrics does not stop
	// the world, so sampling does not slow the map.
	sampled := make(chan uint64, 1)
	stopSampling := make(chan struct{})
	go func() {
		var peak uint64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, readMetric("/memory/classes/heap/objects:bytes"))
			select {
			case <-stopSampling:
				sampled <- peak
				return
			case <-tick.C:
			}
		}
	}()
	items := iter.Seq[int64](func(yield func(int64) bool) {
		for i := range int64(n) {
			if !yield(i) {
				return
			}
		}
	})
	start := time.Now()
	var i int64
	opts := []pool.MapOption{pool.Progress(func(int, int) { row.Chunks++ })}
	if chunksize > 0 {
		opts = append(opts, pool.Chunksize(chunksize))
	}
	for sq, err := range pool.Imap(ctx, p, funcs.Square, items, opts...) {
		if err != nil {
			close(stopSampling)
			return row, fmt.Errorf("Imap of %d items: %w", n, err)
		}
		if sq != i*i {
			close(stopSampling)
			return row, fmt.Errorf("Imap of %d items: result %d is %d, want %d", n, i, sq, i*i)
		}
		i++
	}
	took := time.Since(start)
	close(stopSampling)
	row.PeakHeapKiB = int64(<-sampled / 1024)
	if i != int64(n) {
		return row, fmt.Errorf("Imap of %d items gave %d results", n, i)
	}
	row.Seconds = took.Seconds()
	row.ItemsPerS = float64(n) / took.Seconds()
	row.TotalAllocMiB = float64(readMetric("/gc/heap/allocs:bytes")-allocBefore) / (1 << 20)
	if row.PeakRSSKiB, err = benchenv.StatusKiB("/proc/self/status", "VmHWM"); err != nil {
		return row, err
	}
	// What the map left behind, with the pool still open: growth with n
	// here would be a leak, not GC timing.
	runtime.GC()
	row.LiveAfterKiB = int64(readMetric("/memory/classes/heap/objects:bytes") / 1024)
	return row, nil
}

// readMetric reads one uint64 runtime metric.
func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
