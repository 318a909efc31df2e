package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

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
	case benchjson.PeerLatency:
		return latency(ctx, g.s, "one-item pool.Map", func(x int64) (int64, error) { return g.one(ctx, x) })
	case benchjson.PeerLarge:
		return g.large(ctx)
	case benchjson.PeerConcurrent:
		return concurrent(ctx, g.s, "a one-item pool.Map per call, each in its own goroutine", func(x int64) (int64, error) { return g.one(ctx, x) })
	}
	var n int
	if _, err := fmt.Sscanf(w, "trivial_%d", &n); err != nil {
		return benchjson.PeerResult{}, fmt.Errorf("unknown workload %q", w)
	}
	return g.trivial(ctx, n)
}

func (g glimpseWork) one(ctx context.Context, x int64) (int64, error) {
	out, err := pool.Map(ctx, g.p, funcs.Square, []int64{x})
	if err != nil {
		return 0, err
	}
	return out[0], nil
}

func (g glimpseWork) trivial(ctx context.Context, n int) (benchjson.PeerResult, error) {
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = int64(i)
	}
	r := benchjson.PeerResult{How: "pool.Map, automatic chunks", Items: n}
	var err error
	r.Value, r.Rounds, err = medianRate(g.s, float64(n), func() error {
		out, err := pool.Map(ctx, g.p, funcs.Square, xs)
		if err == nil && (len(out) != n || out[n-1] != xs[n-1]*xs[n-1]) {
			err = errWrong
		}
		return err
	})
	return r, err
}

func (g glimpseWork) cpu(ctx context.Context) (benchjson.PeerResult, error) {
	ranges := benchenv.PrimeRanges(g.s.CPUItems, g.s.cost)
	r := benchjson.PeerResult{How: "pool.Map, automatic chunks", Items: len(ranges)}
	want := make([]int64, len(ranges))
	start := time.Now()
	for i, rg := range ranges {
		want[i], _ = funcs.CountPrimes.Call(ctx, rg)
	}
	r.Serial = float64(len(ranges)) / time.Since(start).Seconds()
	var err error
	r.Value, r.Rounds, err = medianRate(g.s, float64(len(ranges)), func() error {
		out, err := pool.Map(ctx, g.p, funcs.CountPrimes, ranges)
		if err == nil && !slices.Equal(out, want) {
			err = errWrong
		}
		return err
	})
	r.Efficiency = r.Value / (float64(g.s.workers) * r.Serial)
	return r, err
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

// medianRate runs f up to s.rounds times (fewer once s.roundBudget is
// spent) and returns the median of n per second and every round.
func medianRate(s settings, n float64, f func() error) (float64, []float64, error) {
	var rates []float64
	began := time.Now()
	for range s.rounds {
		start := time.Now()
		if err := f(); err != nil {
			return 0, rates, err
		}
		rates = append(rates, n/time.Since(start).Seconds())
		if time.Since(began) > s.roundBudget {
			break
		}
	}
	sorted := slices.Clone(rates)
	slices.Sort(sorted)
	return sorted[len(sorted)/2], rates, nil
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
