package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// identity is the large-item workload's function: the bytes back.
var identity = pool.Register("peerbench.identity", func(_ context.Context, b []byte) ([]byte, error) { return b, nil })

var errWrong = errors.New("wrong results")

// runGlimpse runs every workload on a local cluster of s.workers slots.
func runGlimpse(ctx context.Context, s settings) benchjson.PeerRun {
	run := benchjson.PeerRun{Name: "glimpse-go", Version: glimpseVersion()}
	fmt.Printf("\n%s (%s)\n", run.Name, run.Version)
	start := time.Now()
	local, err := cluster.StartLocal(ctx, s.workers)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer local.Close()
	p := local.Pool()
	if _, err := pool.Map(ctx, p, funcs.Square, []int64{3}); err != nil { // warm-up, as the peers do
		run.Error = err.Error()
		return run
	}
	run.SetupS = time.Since(start).Seconds()
	g := glimpseWork{p: p, s: s}
	for _, w := range workloads(s) {
		r := bounded(ctx, s.glimpseTimeout, w, g.run)
		printResult(r)
		run.Results = append(run.Results, r)
	}
	return run
}

// workloads are the names of the workloads of s, in the order they run.
func workloads(s settings) []string {
	var ws []string
	for _, n := range s.Trivial {
		ws = append(ws, fmt.Sprintf("trivial_%d", n))
	}
	ws = append(ws, benchjson.PeerOneByOne)
	// The large items last, as the peers run them (see common.py).
	return append(ws, benchjson.PeerCPU, benchjson.PeerLatency, benchjson.PeerConcurrent, benchjson.PeerLarge)
}

// bounded runs one workload under a time limit and records its error.
func bounded(ctx context.Context, limit time.Duration, w string, f func(context.Context, string) (benchjson.PeerResult, error)) benchjson.PeerResult {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	r, err := f(ctx, w)
	r.Workload, r.Seconds = w, time.Since(start).Seconds()
	if err != nil {
		r.Error = err.Error()
		if ctx.Err() != nil {
			r.Error = fmt.Sprintf("did not finish within %v: %v", limit, err)
		}
	}
	return r
}

type glimpseWork struct {
	p *pool.Pool
	s settings
}

func (g glimpseWork) run(ctx context.Context, w string) (benchjson.PeerResult, error) {
	switch w {
	case benchjson.PeerCPU:
		return g.cpu(ctx)
	case benchjson.PeerOneByOne:
		return g.squares(ctx, g.s.OneByOne, "pool.Map, Chunksize(1): a Gearman job per item", pool.Chunksize(1))
	case benchjson.PeerLatency:
		return latency(ctx, g.s, "pool.Call", func(x int64) (int64, error) { return pool.Call(ctx, g.p, funcs.Square, x) })
	case benchjson.PeerLarge:
		return g.large(ctx)
	case benchjson.PeerConcurrent:
		return concurrent(ctx, g.s, "pool.Call per call, each in its own goroutine", func(x int64) (int64, error) { return pool.Call(ctx, g.p, funcs.Square, x) })
	}
	var n int
	if _, err := fmt.Sscanf(w, "trivial_%d", &n); err != nil {
		return benchjson.PeerResult{}, fmt.Errorf("unknown workload %q", w)
	}
	return g.squares(ctx, n, "pool.Map, automatic chunks")
}

// squares is a trivial map of n items, x*x.
func (g glimpseWork) squares(ctx context.Context, n int, how string, opts ...pool.MapOption) (benchjson.PeerResult, error) {
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = int64(i)
	}
	r := benchjson.PeerResult{How: how, Items: n}
	var err error
	r.Value, r.Rounds, err = medianRate(g.s, float64(n), func() error {
		out, err := pool.Map(ctx, g.p, funcs.Square, xs, opts...)
		if err == nil && (len(out) != n || out[n-1] != xs[n-1]*xs[n-1]) {
			err = errWrong
		}
		return err
	})
	return r, err
}

func (g glimpseWork) cpu(ctx context.Context) (benchjson.PeerResult, error) {
	ranges := benchenv.PrimeRanges(g.s.CPUItems, g.s.cost)
	r := benchjson.PeerResult{How: "pool.Map, automatic chunks", Items: len(ranges),
		BareHow: fmt.Sprintf("%d goroutines in-process, each on its own thread taking the next item", g.s.workers)}
	sample := serialSample(ranges)
	counts := make([]int64, len(sample))
	runtime.LockOSThread() // for threadCPU
	start, cpu := time.Now(), threadCPU()
	for i, rg := range sample {
		counts[i], _ = funcs.CountPrimes.Call(ctx, rg)
	}
	r.Serial = float64(len(sample)) / time.Since(start).Seconds()
	r.SerialCPUMs = float64((threadCPU() - cpu).Nanoseconds()) / 1e6 / float64(len(sample))
	runtime.UnlockOSThread()
	var want []int64 // the first bare round's counts, checked against the serial ones
	bare := func() error {
		got := bareGo(g.s.workers, ranges)
		if want == nil && slices.Equal(serialSample(got), counts) {
			want = got
		}
		if !slices.Equal(got, want) {
			return errWrong
		}
		return nil
	}
	mapped := func() error {
		out, err := pool.Map(ctx, g.p, funcs.CountPrimes, ranges)
		if err == nil && !slices.Equal(out, want) {
			err = errWrong
		}
		return err
	}
	err := pairedRounds(g.s, float64(len(ranges)), bare, mapped, &r)
	return r, err
}

// serialSample is every serialEvery-th item: the items the serial
// reference runs, on one thread (the bare rounds run them all). A serial
// run of every item took as long as four bare rounds, and under a heavy
// load the workload then ran past its time limit.
func serialSample[T any](items []T) []T {
	var s []T
	for i := 0; i < len(items); i += serialEvery {
		s = append(s, items[i])
	}
	return s
}

const serialEvery = 4

// bareGo counts the primes of ranges on workers goroutines, each locked
// to an OS thread and taking the next item not yet taken: the same items
// over the same number of threads with no pool at all, the reference of
// glimpse-go's parallel efficiency. Items dealt round-robin instead
// left the reference waiting for whichever thread the machine's other
// load held back, and the pool (8 chunks dealt as slots free up) beat it.
func bareGo(workers int, ranges []funcs.Range) []int64 {
	out := make([]int64, len(ranges))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := int(next.Add(1) - 1); i < len(ranges); i = int(next.Add(1) - 1) {
				out[i], _ = funcs.CountPrimes.Call(context.Background(), ranges[i])
			}
		})
	}
	wg.Wait()
	return out
}

// pairedRounds measures the CPU-bound workload: the bare reference (the
// same items on s.workers threads or processes, no pool) before the first
// round of the pool and after each, so that every round of the pool sits
// between two of the bare one and a load from the rest of the machine
// that rises or falls meanwhile weighs on both alike. A round's
// efficiency is the pool's items/s over the bare ones' around it (their
// mean time); r gets the medians. At least minPairedRounds rounds,
// whatever the round budget: under load a round can take seconds, and
// the median of one or two ratios is not one.
func pairedRounds(s settings, n float64, bare, pooled func() error, r *benchjson.PeerResult) error {
	timed := func(f func() error) (float64, error) {
		start := time.Now()
		err := f()
		return n / time.Since(start).Seconds(), err
	}
	b, err := timed(bare)
	if err != nil {
		return fmt.Errorf("bare reference: %w", err)
	}
	bares, ratios := []float64{b}, []float64(nil)
	began := time.Now()
	for i := 0; i < s.rounds && (i < minPairedRounds || time.Since(began) < s.roundBudget); i++ {
		v, err := timed(pooled)
		if err != nil {
			return err
		}
		after, err := timed(bare)
		if err != nil {
			return fmt.Errorf("bare reference: %w", err)
		}
		bares, r.Rounds = append(bares, after), append(r.Rounds, v)
		ratios = append(ratios, pairedRatio(v, bares[i], after))
	}
	r.Value, r.Bare, r.Efficiency = median(r.Rounds), median(bares), median(ratios)
	r.BareRounds = bares
	return nil
}

// minPairedRounds: the CPU-bound workload's least number of rounds.
const minPairedRounds = 3

// pairedRatio is a pool's rate v over the bare rate of the time the bare
// rounds before and after it took on average.
func pairedRatio(v, before, after float64) float64 {
	return v * (1/before + 1/after) / 2
}

// median of xs, not empty; xs is left as it is.
func median(xs []float64) float64 {
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// threadCPU is the CPU time of the calling OS thread so far.
func threadCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (g glimpseWork) large(ctx context.Context) (benchjson.PeerResult, error) {
	blobs := largeItems(g.s)
	r := benchjson.PeerResult{How: "pool.Map, automatic chunks", Items: len(blobs)}
	var err error
	r.Value, r.Rounds, err = medianRate(g.s, float64(len(blobs)*g.s.LargeBytes)/1e6, func() error {
		out, err := pool.Map(ctx, g.p, identity, blobs)
		if err == nil && !slices.EqualFunc(out, blobs, bytes.Equal) {
			err = errWrong
		}
		return err
	})
	return r, err
}

// largeItems are s.LargeItems distinct items of s.LargeBytes.
func largeItems(s settings) [][]byte {
	blobs := make([][]byte, s.LargeItems)
	for i := range blobs {
		blobs[i] = bytes.Repeat([]byte{byte(i)}, s.LargeBytes)
		rand.Read(blobs[i][:min(16, s.LargeBytes)])
	}
	return blobs
}

// minRound: a round repeats a workload until this long has passed, so a
// map of a millisecond or two is not one clock reading among other load
// (common.py's MIN_ROUND_S, the same for every pool).
const minRound = 100 * time.Millisecond

// medianRate runs up to s.rounds rounds (fewer once s.roundBudget is
// spent), each repeating f for at least minRound, and returns the median
// of n per second and every round.
func medianRate(s settings, n float64, f func() error) (float64, []float64, error) {
	var rates []float64
	began := time.Now()
	for range s.rounds {
		start := time.Now()
		runs := 0
		for {
			if err := f(); err != nil {
				return 0, rates, err
			}
			runs++
			if time.Since(start) >= minRound {
				break
			}
		}
		rates = append(rates, n*float64(runs)/time.Since(start).Seconds())
		if time.Since(began) > s.roundBudget {
			break
		}
	}
	return median(rates), rates, nil
}

// latency is the p50 and p90 of s.LatencyCalls calls of call, in ms.
func latency(ctx context.Context, s settings, how string, call func(int64) (int64, error)) (benchjson.PeerResult, error) {
	r := benchjson.PeerResult{How: how, Items: s.LatencyCalls}
	ms := make([]float64, 0, s.LatencyCalls)
	for i := range int64(s.LatencyCalls) {
		start := time.Now()
		got, err := call(i)
		if err != nil {
			return r, err
		}
		ms = append(ms, float64(time.Since(start).Nanoseconds())/1e6)
		if got != i*i {
			return r, errWrong
		}
	}
	slices.Sort(ms)
	r.Value, r.P90 = ms[len(ms)/2], ms[len(ms)*9/10]
	return r, ctx.Err()
}

// concurrent is calls/s of s.Concurrent calls all in flight at once.
func concurrent(ctx context.Context, s settings, how string, call func(int64) (int64, error)) (benchjson.PeerResult, error) {
	r := benchjson.PeerResult{How: how, Items: s.Concurrent}
	var err error
	r.Value, r.Rounds, err = medianRate(s, float64(s.Concurrent), func() error {
		errs := make([]error, s.Concurrent)
		var wg sync.WaitGroup
		for i := range s.Concurrent {
			wg.Go(func() {
				got, err := call(int64(i))
				if err == nil && got != int64(i)*int64(i) {
					err = errWrong
				}
				errs[i] = err
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	return r, err
}

// glimpseVersion is the module version and commit this binary was built
// from, as far as the build recorded them.
func glimpseVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range info.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 7 {
				return "commit " + kv.Value[:7]
			}
		}
	}
	return "this tree"
}
