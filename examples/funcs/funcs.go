// Package funcs registers the example functions that the examples map and
// that cmd/glimpse-cluster's workers serve. A user's own worker binary is
// the same pattern: import the package that registers the functions, then
// call cli.Main.
package funcs

import (
	"context"
	"strconv"

	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/pool"
)

// Square is x*x: the trivial function of the throughput benchmarks.
var Square = pool.Register("examples.square", func(_ context.Context, x int64) (int64, error) {
	return x * x, nil
})

// Hex is glimpse's doc example, pool.map(hex, [1, 2, 3]).
var Hex = pool.Register("examples.hex", func(_ context.Context, x int64) (string, error) {
	if x < 0 {
		return "-0x" + strconv.FormatInt(-x, 16), nil
	}
	return "0x" + strconv.FormatInt(x, 16), nil
})

// WordCount counts the words of one text (the map step of a word count):
// the runs of letters and apostrophes of the lower-cased text.
var WordCount = pool.Register("examples.wordcount", func(_ context.Context, text string) (map[string]int, error) {
	counts := map[string]int{}
	forEachWord(text, func(w string) { counts[w]++ })
	return counts, nil
})

// Identity returns its bytes as they came: the large-item round trip of
// the benchmarks (bench/largeitems), where only moving the bytes costs.
var Identity = pool.Register("examples.identity", func(_ context.Context, b []byte) ([]byte, error) {
	return b, nil
})

// Range is a half-open interval of integers.
type Range struct {
	Lo, Hi int64
}

// CountPrimes counts the primes in [Lo, Hi) by trial division: CPU-bound
// work whose cost is set by the range.
var CountPrimes = pool.Register("examples.countprimes", func(ctx context.Context, r Range) (int64, error) {
	var n int64
	for x := max(r.Lo, 2); x < r.Hi; x++ {
		if x&1023 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if isPrime(x) {
			n++
		}
	}
	return n, nil
})

func isPrime(x int64) bool {
	if x < 4 {
		return x >= 2
	}
	if x%2 == 0 {
		return false
	}
	for d := int64(3); d*d <= x; d += 2 {
		if x%d == 0 {
			return false
		}
	}
	return true
}

// Lookup is Square plus the byte of a shared table at x (modulo its
// length): the shared-value benchmark (bench/sharedvalue) maps it with a
// 50 MB table that goes to each worker once, not with every chunk.
var Lookup = pool.RegisterWith("examples.lookup", func(_ context.Context, table []byte, x int64) (int64, error) {
	if len(table) == 0 {
		return x * x, nil
	}
	return x*x + int64(table[uint64(x)%uint64(len(table))]), nil
})

// The example functions are callable over HTTP as JSON too, through
// glimpse-cluster http (package gateway).
func init() {
	gateway.Expose(Square)
	gateway.Expose(Hex)
	gateway.Expose(WordCount)
	gateway.Expose(Identity)
	gateway.Expose(CountPrimes)
}
