package funcs

import (
	"context"

	"github.com/glimpse-go/glimpse/pool"
)

// SumSquares is the sum of x*x folded on the workers: each chunk sends
// back one int64 (the throughput bar of reduces, bench/reducebench).
var SumSquares = pool.RegisterReducer("examples.sumsquares",
	func(_ context.Context, x int64) (int64, error) { return x * x, nil },
	func(acc, sq int64) int64 { return acc + sq },
	func(a, b int64) int64 { return a + b })

// WordCounts counts the words of texts with a keyed reduce: each worker
// counts its chunk's words into one table (map-side combine) and sends
// that; the client adds the tables up.
var WordCounts = pool.RegisterKeyed("examples.wordcounts",
	func(_ context.Context, text string, emit func(string, int)) error {
		forEachWord(text, func(w string) { emit(w, 1) })
		return nil
	},
	func(a, b int) int { return a + b })
