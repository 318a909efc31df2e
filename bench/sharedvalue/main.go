// Command sharedvalue measures a map whose function takes a shared value
// (pool.RegisterWith): -items small items of examples.lookup with a
// -size-byte shared table, on -workers `glimpse-cluster worker`
// processes, next to the same items through examples.square (no shared
// value), in the same run. Each of -rounds rounds times a cold map, then
// -pairs plain and warm maps in turns:
//
//   - cold: examples.lookup with a table new to the workers (the client
//     encodes and hashes it, each worker asks for it and gets one copy);
//   - plain: examples.square, no shared value;
//   - warm: the cold map's Func again (the workers hold the table; chunks
//     carry its hash).
//
// The bytes the client writes (its sockets, /proc/self/io) give the copies
// of the table per cold map, and the CPU time of the client, the workers
// and gearmand where a cold map's time goes.
//
//	sharedvalue [-items 10000] [-size 52428800] [-workers 2] [-slots 1] [-rounds 3] [-pairs 5] [-json FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

type result = benchjson.Shared

func main() {
	log.SetFlags(0)
	log.SetPrefix("sharedvalue: ")
	items := flag.Int("items", 10_000, "items of each map")
	size := flag.Int("size", 50<<20, "bytes of the shared table")
	workers := flag.Int("workers", 2, "worker processes")
	slots := flag.Int("slots", 1, "slots of each worker process")
	rounds := flag.Int("rounds", 3, "rounds, each with a new table: one cold map, then -pairs plain and warm maps in turns")
	pairs := flag.Int("pairs", 5, "plain and warm maps per round")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	cpuProfile := flag.String("cpuprofile", "", "write this process's (the client's) CPU profile to this `FILE` (with few -pairs, mostly the cold maps')")
	flag.Parse()
	if *items < 1 || *size < 1 || *workers < 1 || *slots < 1 || *rounds < 1 || *pairs < 1 {
		log.Fatal("want -items, -size, -workers, -slots, -rounds and -pairs >= 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		stopProfile, err := startProfile(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		defer stopProfile()
	}
	res := result{Items: *items, SharedBytes: *size, Workers: *workers, Slots: *slots, Rounds: *rounds, Pairs: *pairs}
	if err := run(ctx, *bin, &res); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
	fmt.Printf("%d items, shared table of %d bytes, %d worker processes x %d slots; medians of %d cold maps and %d plain and warm ones\n",
		res.Items, res.SharedBytes, res.Workers, res.Slots, res.Rounds, res.Rounds*res.Pairs)
	fmt.Printf("plain map (examples.square)           %8.1f ms   all: %.1f\n", res.PlainMedianMs, res.PlainMs)
	fmt.Printf("shared value, first map (cold)        %8.1f ms   all: %.1f   = %.2fx plain, %.2f copies of the table to gearmand\n",
		res.ColdMedianMs, res.ColdMs, res.ColdRatio, res.Copies)
	fmt.Printf("  CPU ms of a cold map (median): client %.0f / workers %.0f / gearmand %.0f\n",
		res.ColdCPUms.Client, res.ColdCPUms.Workers, res.ColdCPUms.Gearmand)
	fmt.Printf("shared value, later map (warm)        %8.1f ms   all: %.1f   = %.2fx plain (bar: <= 1.2x)\n",
		res.WarmMedianMs, res.WarmMs, res.WarmRatio)
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, res); err != nil {
			log.Fatal(err)
		}
	}
}

func run(ctx context.Context, bin string, res *result) error {
	c, err := benchenv.StartCluster(ctx, benchenv.ClusterSpec{Name: "sharedvalue", Bin: bin, Workers: res.Workers, Slots: res.Slots})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Pool(ctx, "", funcs.Square.Name(), funcs.Lookup.Name())
	if err != nil {
		return err
	}
	defer p.Close()
	pids := []int{c.Gearmand.Pid()}
	for i := range c.Workers.Len() {
		pids = append(pids, c.Workers.Process(i).Pid)
	}
	return rounds(ctx, p, pids, res)
}

// rounds times the maps, checking every result: per round one cold map
// of a new table, then pairs plain and warm maps in turns, so that both
// see the same load.
func rounds(ctx context.Context, p *pool.Pool, pids []int, res *result) error {
	in := make([]int64, res.Items)
	for i := range in {
		in[i] = int64(i)
	}
	table := make([]byte, res.SharedBytes)
	for i := range table {
		table[i] = byte(i * 7)
	}
	if _, err := pool.Map(ctx, p, funcs.Square, in); err != nil { // warm-up: connections, worker counts
		return err
	}
	var sent int64
	var colds []benchjson.CPUms
	for r := range res.Rounds {
		table[0] = byte(r + 1) // a table new to the workers
		lookup := funcs.Lookup.With(slices.Clone(table))
		before, cpu := written(), benchenv.ProcCPU(pids)
		client := clientCPU()
		cold, err := timeMap(ctx, p, lookup, in, table)
		if err != nil {
			return err
		}
		sent += written() - before
		colds = append(colds, cpuSince(cpu, benchenv.ProcCPU(pids), clientCPU()-client))
		res.ColdMs = append(res.ColdMs, cold)
		for range res.Pairs {
			plain, err := timeMap(ctx, p, funcs.Square, in, nil)
			if err != nil {
				return err
			}
			warm, err := timeMap(ctx, p, lookup, in, table)
			if err != nil {
				return err
			}
			res.PlainMs, res.WarmMs = append(res.PlainMs, plain), append(res.WarmMs, warm)
		}
	}
	res.PlainMedianMs, res.ColdMedianMs, res.WarmMedianMs = median(res.PlainMs), median(res.ColdMs), median(res.WarmMs)
	res.WarmRatio, res.ColdRatio = res.WarmMedianMs/res.PlainMedianMs, res.ColdMedianMs/res.PlainMedianMs
	res.Copies = float64(sent) / float64(res.Rounds) / float64(res.SharedBytes)
	slices.SortFunc(colds, func(a, b benchjson.CPUms) int { return int(a.Total() - b.Total()) })
	res.ColdCPUms = colds[len(colds)/2]
	return nil
}

// timeMap runs one map and checks its results: x*x, plus table's byte at x
// if table is not nil.
func timeMap(ctx context.Context, p *pool.Pool, f pool.Func[int64, int64], in []int64, table []byte) (float64, error) {
	start := time.Now()
	out, err := pool.Map(ctx, p, f, in)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	for i, x := range in {
		want := x * x
		if table != nil {
			want += int64(table[uint64(x)%uint64(len(table))])
		}
		if out[i] != want {
			return 0, fmt.Errorf("%s: item %d = %d, want %d", f.Name(), i, out[i], want)
		}
	}
	return float64(took.Microseconds()) / 1000, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// startProfile starts this process's CPU profile into path.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// cpuSince is the CPU time of gearmand and the workers (pids' order) from
// before to after, and the client's.
func cpuSince(before, after []time.Duration, client time.Duration) benchjson.CPUms {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	c := benchjson.CPUms{Client: ms(client), Gearmand: ms(after[0] - before[0])}
	for i := 1; i < len(after); i++ {
		c.Workers += ms(after[i] - before[i])
	}
	return c
}

// clientCPU is this process's user and system CPU time.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// written is what this process has written with write(2) and the like
// (/proc/self/io wchar): during a map, to its sockets.
func written() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "wchar:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return n
		}
	}
	return 0
}
