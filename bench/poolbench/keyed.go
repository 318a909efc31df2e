package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// startKeyed starts a second local cluster like the first (slots worker
// slots) but with a fresh cluster key: chunks and results HMAC-sealed,
// the ZeroMQ channels on CURVE.
func startKeyed(ctx context.Context, slots int) (*cluster.Local, error) {
	wc := config.DefaultWorker()
	wc.LogLevel = slog.LevelWarn
	wc.Slots = slots
	return cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc, GenerateKey: true})
}

// compareKeyed measures the keyless pool p against the keyed pool k: the
// trivial map over xs (automatic chunks) rounds times on each, then calls
// one-item maps on each. The two alternate throughout, each going first
// every other time, so that drift of a shared machine hits both alike.
func compareKeyed(ctx context.Context, p, k *pool.Pool, xs []int64, rounds, calls int) (benchjson.PoolKeyed, error) {
	out := benchjson.PoolKeyed{Rounds: rounds, Items: len(xs), OneItemCalls: calls}
	pools := [2]*pool.Pool{p, k}
	if err := compareTrivial(ctx, pools, xs, &out); err != nil {
		return out, err
	}
	var took [2][]time.Duration
	for i := range calls {
		for _, j := range alternate(i) {
			d, err := oneItemMap(ctx, pools[j], int64(i))
			if err != nil {
				return out, err
			}
			took[j] = append(took[j], d)
		}
	}
	out.KeylessOneItemMs, out.KeyedOneItemMs = p50ms(took[0]), p50ms(took[1])
	out.OneItemRatio = out.KeyedOneItemMs / out.KeylessOneItemMs
	return out, nil
}

// compareTrivial runs the trivial map out.Rounds times on each of pools
// (keyless, keyed), filling in out's items/s and their ratio.
func compareTrivial(ctx context.Context, pools [2]*pool.Pool, xs []int64, out *benchjson.PoolKeyed) error {
	// One untimed map each first: the keyed cluster has just started.
	for _, q := range pools {
		if _, err := trivialMap(ctx, q, xs); err != nil {
			return err
		}
	}
	var ratios []float64
	for i := range out.Rounds {
		var rate [2]float64
		for _, j := range alternate(i) {
			r, err := trivialMap(ctx, pools[j], xs)
			if err != nil {
				return err
			}
			rate[j] = r
		}
		out.KeylessRoundsPerS = append(out.KeylessRoundsPerS, rate[0])
		out.KeyedRoundsPerS = append(out.KeyedRoundsPerS, rate[1])
		ratios = append(ratios, rate[1]/rate[0])
	}
	out.KeylessItemsPerS = medianOf(out.KeylessRoundsPerS)
	out.KeyedItemsPerS = medianOf(out.KeyedRoundsPerS)
	out.Ratio = medianOf(ratios)
	return nil
}

// alternate is the order of the two clusters in round i: keyless first
// in even rounds, keyed first in odd ones (the second map pays for the
// first one's garbage).
func alternate(i int) [2]int {
	if i%2 == 0 {
		return [2]int{0, 1}
	}
	return [2]int{1, 0}
}

// trivialMap runs examples.square over xs, checks the last result and
// returns items/s.
func trivialMap(ctx context.Context, p *pool.Pool, xs []int64) (float64, error) {
	start := time.Now()
	res, err := pool.Map(ctx, p, funcs.Square, xs)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	if last := xs[len(xs)-1]; len(res) != len(xs) || res[len(res)-1] != last*last {
		return 0, errWrongResult
	}
	return float64(len(xs)) / took.Seconds(), nil
}

// oneItemMap times a map of the single item x.
func oneItemMap(ctx context.Context, p *pool.Pool, x int64) (time.Duration, error) {
	start := time.Now()
	res, err := pool.Map(ctx, p, funcs.Square, []int64{x})
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if len(res) != 1 || res[0] != x*x {
		return 0, errWrongResult
	}
	return took, nil
}

var errWrongResult = errors.New("wrong result")

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func p50ms(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Nanoseconds()) / 1e6
}

// printKeyed prints the comparison as poolbench's console output.
func printKeyed(k benchjson.PoolKeyed) {
	fmt.Printf("\ncluster key (HMAC-sealed chunks and results, CURVE): a keyed local cluster of the same slots,\n")
	fmt.Printf("alternating with the keyless one; median of %d rounds, p50 of %d one-item maps\n", k.Rounds, k.OneItemCalls)
	fmt.Printf("%-28s %14s %14s %8s\n", "", "keyless", "keyed", "ratio")
	fmt.Printf("%-28s %14.0f %14.0f %8.3f\n", fmt.Sprintf("trivial map %d, items/s", k.Items), k.KeylessItemsPerS, k.KeyedItemsPerS, k.Ratio)
	fmt.Printf("%-28s %14.3f %14.3f %8.3f\n", "one-item map p50, ms", k.KeylessOneItemMs, k.KeyedOneItemMs, k.OneItemRatio)
}
