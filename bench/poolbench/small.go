package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/pool"
)

// Small calls: one-item maps, pool.Call, pool.Go and Chunksize(1) maps against a bare
// gearman.Client.Call to an echo gearman.Worker on the same gearmand, in
// the same run, so that the pool's cost beyond its Gearman job shows.

// smallCfg is what the small-calls section measures.
type smallCfg struct {
	calls       int // sequential calls for the p50s
	concurrency int // calls at once for the throughput figures
	concCalls   int // calls in all for the throughput figures
	chunk1Items int // items of the Chunksize(1) map
	cpuprofile  string
}

// measureSmall runs the small-calls section on the local cluster's pool
// p and its job server addr.
func measureSmall(ctx context.Context, p *pool.Pool, addr string, cfg smallCfg) (benchjson.PoolSmall, error) {
	fn := "poolbench_echo_" + strconv.Itoa(int(time.Now().UnixNano()%1e9))
	stop, err := startEcho(ctx, addr, fn)
	if err != nil {
		return benchjson.PoolSmall{}, err
	}
	defer stop()
	c, err := gearman.NewClient(ctx, []string{addr})
	if err != nil {
		return benchjson.PoolSmall{}, err
	}
	defer c.Close()
	var seq atomic.Int64
	bare := func() error {
		_, err := c.Call(ctx, fn, []byte("0123456789abcdef"), gearman.WithUnique("b-"+strconv.FormatInt(seq.Add(1), 10)))
		return err
	}
	one := []int64{7}
	mapOne := func() error {
		_, err := pool.Map(ctx, p, funcs.Square, one)
		return err
	}
	callOne := func() error {
		_, err := pool.Call(ctx, p, funcs.Square, 7)
		return err
	}
	s := benchjson.PoolSmall{Calls: cfg.calls, Concurrency: cfg.concurrency, ConcurrentCalls: cfg.concCalls, Chunk1Items: cfg.chunk1Items}
	// Warm all up (connections, the worker check), then take turns.
	for _, f := range []func() error{bare, mapOne, callOne} {
		if err := repeat(f, 200); err != nil {
			return s, err
		}
	}
	p50, err := p50s(cfg.calls, bare, mapOne, callOne)
	if err != nil {
		return s, err
	}
	s.BareP50Ns, s.MapP50Ns, s.CallP50Ns = p50[0], p50[1], p50[2]
	if s.BareCallsPerS, s.BarePeakGoroutines, err = concurrent(bare, cfg.concurrency, cfg.concCalls); err != nil {
		return s, err
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return s, err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if s.MapCallsPerS, s.MapPeakGoroutines, err = concurrent(mapOne, cfg.concurrency, cfg.concCalls); err != nil {
		return s, err
	}
	if s.CallCallsPerS, _, err = concurrent(callOne, cfg.concurrency, cfg.concCalls); err != nil {
		return s, err
	}
	if s.GoCallsPerS, err = futures(ctx, p, cfg.concurrency, cfg.concCalls); err != nil {
		return s, err
	}
	s.Chunk1ItemsPerS, err = chunk1(ctx, p, cfg.chunk1Items)
	return s, err
}

// startEcho serves fn as an echo on addr in this process.
func startEcho(ctx context.Context, addr, fn string) (func(), error) {
	w, err := gearman.NewWorker([]string{addr})
	if err != nil {
		return nil, err
	}
	echo := func(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil }
	if err := w.Register(fn, echo); err != nil {
		w.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); w.Run() }()
	stop := func() { w.Close(); <-done }
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		stop()
		return nil, err
	}
	defer a.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ws, err := a.Workers(ctx)
		if err == nil && slices.ContainsFunc(ws, func(w gearman.WorkerInfo) bool { return slices.Contains(w.Functions, fn) }) {
			return stop, nil
		}
	}
	stop()
	return nil, fmt.Errorf("echo worker for %s did not register", fn)
}

func repeat(f func() error, n int) error {
	for range n {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// p50s times n calls of each f, taking turns, and returns the median of
// each in ns.
func p50s(n int, fs ...func() error) ([]int64, error) {
	took := make([][]time.Duration, len(fs))
	for range n {
		for i, f := range fs {
			t0 := time.Now()
			if err := f(); err != nil {
				return nil, err
			}
			took[i] = append(took[i], time.Since(t0))
		}
	}
	p50 := make([]int64, len(fs))
	for i, ts := range took {
		slices.Sort(ts)
		p50[i] = ts[len(ts)/2].Nanoseconds()
	}
	return p50, nil
}

// futures makes total calls with pool.Go from one goroutine, keeping conc
// futures in flight, checks each result, and returns the calls per second.
func futures(ctx context.Context, p *pool.Pool, conc, total int) (float64, error) {
	inFlight := make(chan struct {
		x  int64
		fu *pool.Future[int64]
	}, conc)
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		var first error
		for f := range inFlight {
			got, err := f.fu.Wait(ctx)
			if err == nil && got != f.x*f.x {
				err = fmt.Errorf("pool.Go(square, %d) = %d", f.x, got)
			}
			if first == nil {
				first = err
			}
		}
		errc <- first
	}()
	for i := range total {
		x := int64(i)
		inFlight <- struct {
			x  int64
			fu *pool.Future[int64]
		}{x, pool.Go(ctx, p, funcs.Square, x)}
	}
	close(inFlight)
	err := <-errc
	return float64(total) / time.Since(start).Seconds(), err
}

// concurrent runs total calls of f from conc goroutines and returns the
// calls per second and the most goroutines the process had meanwhile.
func concurrent(f func() error, conc, total int) (float64, int, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	stop, peak := sampleGoroutines()
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(total) {
				if err := f(); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	rate := float64(total) / time.Since(start).Seconds()
	stop()
	return rate, <-peak, firstErr
}

// sampleGoroutines samples runtime.NumGoroutine every millisecond until
// stop, then sends the largest count.
func sampleGoroutines() (stop func(), peak <-chan int) {
	done, out := make(chan struct{}), make(chan int, 1)
	go func() {
		most := 0
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			most = max(most, runtime.NumGoroutine())
			select {
			case <-tick.C:
			case <-done:
				out <- most
				return
			}
		}
	}()
	return func() { close(done) }, out
}

// chunk1Rounds: the Chunksize(1) map is timed this many times after a
// short one that warms the worker up (its asks ahead start parked); the
// median is reported. One map, right after the concurrent calls, swung
// by a third between runs.
const chunk1Rounds = 3

// chunk1 maps x*x over n items with Chunksize(1) and returns the median
// items/s.
func chunk1(ctx context.Context, p *pool.Pool, n int) (float64, error) {
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = int64(i)
	}
	if _, err := pool.Map(ctx, p, funcs.Square, xs[:min(n, 2000)], pool.Chunksize(1)); err != nil {
		return 0, err
	}
	rates := make([]float64, chunk1Rounds)
	for r := range rates {
		start := time.Now()
		out, err := pool.Map(ctx, p, funcs.Square, xs, pool.Chunksize(1))
		if err != nil {
			return 0, err
		}
		if out[n-1] != xs[n-1]*xs[n-1] {
			return 0, fmt.Errorf("chunksize 1: wrong result")
		}
		rates[r] = float64(n) / time.Since(start).Seconds()
	}
	slices.Sort(rates)
	return rates[len(rates)/2], nil
}

func printSmall(s benchjson.PoolSmall) {
	fmt.Printf("\nsmall calls: one-item pool.Map, pool.Call and pool.Go vs a bare gearman.Client.Call echo, same gearmand\n")
	fmt.Printf("%-44s %12s %12s %8s\n", "", "glimpse-go", "bare call", "ratio")
	for _, r := range []struct {
		what string
		ns   int64
	}{{"one-item pool.Map", s.MapP50Ns}, {"pool.Call", s.CallP50Ns}} {
		fmt.Printf("%-44s %12s %12s %8.2f\n", fmt.Sprintf("%s p50 of %d one after another", r.what, s.Calls),
			time.Duration(r.ns), time.Duration(s.BareP50Ns), float64(r.ns)/float64(s.BareP50Ns))
	}
	for _, r := range []struct {
		what string
		perS float64
	}{{"one-item pool.Map", s.MapCallsPerS}, {"pool.Call", s.CallCallsPerS}, {"pool.Go", s.GoCallsPerS}} {
		fmt.Printf("%-44s %12.0f %12.0f %8.2f\n", fmt.Sprintf("%s calls/s, %d at once", r.what, s.Concurrency),
			r.perS, s.BareCallsPerS, r.perS/s.BareCallsPerS)
	}
	fmt.Printf("%-44s %12d %12d\n", "peak goroutines (one-item maps)", s.MapPeakGoroutines, s.BarePeakGoroutines)
	fmt.Printf("Chunksize(1) map of %d items: %.0f items/s (median of %d)\n", s.Chunk1Items, s.Chunk1ItemsPerS, chunk1Rounds)
}
