// Command peerbench runs the same workloads on glimpse-go, on a bare
// gearman.Client+Worker echo pair (the floor under any Gearman pool) and
// on the Python pools a user would pick instead (bench/peers/*_peer.py:
// multiprocessing, Dask, ipyparallel, Celery with redis-server), each with
// the same number of workers, on this machine:
//
//   - trivial maps (x*x) over each -trivial size, items/s;
//
//   - the trivial map over -one-by-one items, one item per task (a
//     Gearman job per item for glimpse-go), items/s;
//
//   - -cpu-items items of ~-cost of CPU each: items/s and parallel
//     efficiency against the same items on -workers bare threads (Go) or
//     forked processes (Python) of the driver, a round of each in turn;
//
//   - the p50 of -latency-calls one-item calls, one after another;
//
//   - -large-items items of -large-bytes (bytes, identity) there and back, MB/s;
//
//   - -concurrent one-item calls in flight at once, calls/s.
//
//     peerbench [-workers 2] [-trivial 10000,1000000] [-rounds 3] [-python /usr/bin/python3]
//     [-peers multiprocessing,dask,ipyparallel,celery] [-peer-timeout 150s] [-workload-timeout 60s] [-json FILE]
//
// glimpse-go runs on a local cluster (cluster.StartLocal: a managed
// gearmand and an in-process worker of -workers slots), a one-item call
// being a pool.Call. Every peer runs in a Python process of its
// own under -peer-timeout, its workload each under -workload-timeout; a
// peer that is missing, fails or overruns is recorded as such, never
// fatal. Everything listens on 127.0.0.1 only. -json writes the figures
// (bench/internal/benchjson.Peers) for bench/report.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// settings are the workloads' sizes and the run's bounds.
type settings struct {
	benchjson.PeerSizes
	workers, rounds int
	python, dir     string
	peers           []string
	peerTimeout     time.Duration
	workloadTimeout time.Duration
	glimpseTimeout  time.Duration
	roundBudget     time.Duration
	cost            time.Duration
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("peerbench: ")
	s, jsonPath := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := benchjson.Peers{Workers: s.workers, Rounds: s.rounds, Sizes: s.PeerSizes}
	fmt.Printf("%d workers everywhere; median of up to %d rounds per workload\n", s.workers, s.rounds)
	out.Runs = append(out.Runs, runGlimpse(ctx, s), runFloor(ctx, s))
	for _, name := range s.peers {
		out.Runs = append(out.Runs, runPeer(ctx, s, name))
		if ctx.Err() != nil {
			log.Fatal("interrupted")
		}
	}
	if jsonPath != "" {
		if err := benchjson.Write(jsonPath, out); err != nil {
			log.Fatal(err)
		}
	}
}

func parseFlags() (settings, string) {
	var s settings
	flag.IntVar(&s.workers, "workers", 2, "slots or worker processes of every pool")
	trivial := flag.String("trivial", "10000,1000000", "comma-separated item counts of the trivial maps")
	flag.IntVar(&s.CPUItems, "cpu-items", 2000, "items of the CPU-bound map")
	flag.DurationVar(&s.cost, "cost", time.Millisecond, "CPU time of one CPU-bound item")
	flag.IntVar(&s.LatencyCalls, "latency-calls", 500, "one-item calls, one after another, for the p50")
	flag.IntVar(&s.LargeItems, "large-items", 100, "items of the large-item round trip")
	flag.IntVar(&s.LargeBytes, "large-bytes", 1<<20, "bytes of each large item")
	flag.IntVar(&s.Concurrent, "concurrent", 1000, "one-item calls in flight at once")
	flag.IntVar(&s.OneByOne, "one-by-one", 2000, "items of the trivial map sent one item per task (chunks of one)")
	flag.IntVar(&s.rounds, "rounds", 3, "measurements of each throughput workload; the median is reported")
	flag.DurationVar(&s.roundBudget, "round-budget", 10*time.Second, "no further rounds of a workload once it has taken this long")
	flag.StringVar(&s.python, "python", "/usr/bin/python3", "the Python of the Debian packages")
	flag.StringVar(&s.dir, "dir", "bench/peers", "directory of the *_peer.py scripts")
	peers := flag.String("peers", "multiprocessing,dask,ipyparallel,celery", "comma-separated peers to run")
	flag.DurationVar(&s.peerTimeout, "peer-timeout", 150*time.Second, "time limit of each peer, set-up included")
	flag.DurationVar(&s.workloadTimeout, "workload-timeout", 60*time.Second, "time limit of each workload of a peer")
	flag.DurationVar(&s.glimpseTimeout, "glimpse-timeout", 60*time.Second, "time limit of each glimpse-go and floor workload")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	flag.Parse()
	s.CPUCostNs = s.cost.Nanoseconds()
	for _, f := range strings.Split(*trivial, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("-trivial %q: %q is not a positive item count", *trivial, f)
		}
		s.Trivial = append(s.Trivial, n)
	}
	for _, p := range strings.Split(*peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if _, ok := peerScripts[p]; !ok {
				log.Fatalf("-peers: unknown peer %q (known: %s)", p, strings.Join(slices.Sorted(maps.Keys(peerScripts)), ", "))
			}
			s.peers = append(s.peers, p)
		}
	}
	for name, v := range map[string]int{"-workers": s.workers, "-cpu-items": s.CPUItems, "-latency-calls": s.LatencyCalls,
		"-large-items": s.LargeItems, "-large-bytes": s.LargeBytes, "-concurrent": s.Concurrent, "-one-by-one": s.OneByOne, "-rounds": s.rounds} {
		if v < 1 {
			log.Fatalf("%s %d: need at least 1", name, v)
		}
	}
	return s, *jsonPath
}

// printResult is the console line of one workload.
func printResult(r benchjson.PeerResult) {
	if r.Error != "" {
		fmt.Printf("  %-16s FAILED: %s\n", r.Workload, r.Error)
		return
	}
	switch r.Workload {
	case benchjson.PeerCPU:
		fmt.Printf("  %-16s %12.0f items/s, bare %.0f, efficiency %.1f%%; serial %.0f items/s, %.2f CPU ms/item  (%s)\n",
			r.Workload, r.Value, r.Bare, 100*r.Efficiency, r.Serial, r.SerialCPUMs, r.How)
	case benchjson.PeerLatency:
		fmt.Printf("  %-16s %12.3f ms p50, p90 %.3f  (%s)\n", r.Workload, r.Value, r.P90, r.How)
	case benchjson.PeerLarge:
		fmt.Printf("  %-16s %12.1f MB/s  (%s)\n", r.Workload, r.Value, r.How)
	case benchjson.PeerConcurrent:
		fmt.Printf("  %-16s %12.0f calls/s  (%s)\n", r.Workload, r.Value, r.How)
	default:
		fmt.Printf("  %-16s %12.0f items/s  (%s)\n", r.Workload, r.Value, r.How)
	}
}

// scriptPath is the peer's script under s.dir.
func scriptPath(s settings, name string) string { return filepath.Join(s.dir, peerScripts[name]) }

// gearmandVersion is the first line of `gearmand --version`.
func gearmandVersion() string {
	out, err := exec.Command("gearmand", "--version").Output()
	if err != nil {
		if out, err = exec.Command("/usr/sbin/gearmand", "--version").Output(); err != nil {
			return "(version unknown)"
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	first, _, _ = strings.Cut(first, " - ")
	return strings.TrimPrefix(first, "gearmand ")
}
