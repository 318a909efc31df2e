package pool_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

type (
	// point is a non-scalar item: its chunks take msgpack's general path.
	point struct{ X, Y int64 }
	// weight is an int64 of another name: not the []int64 fast path.
	weight int64
)

var (
	sumSquaresFloat = pool.RegisterReducer("test.sumsquaresfloat",
		func(_ context.Context, x float64) (float64, error) { return x * x, nil },
		func(acc, sq float64) float64 { return acc + sq },
		func(a, b float64) float64 { return a + b })
	sumPointSquares = pool.RegisterReducer("test.sumpointsquares",
		func(_ context.Context, p point) (int64, error) { return p.X*p.X + p.Y*p.Y, nil },
		func(acc, sq int64) int64 { return acc + sq },
		func(a, b int64) int64 { return a + b })
	sumWeightSquares = pool.RegisterReducer("test.sumweightsquares",
		func(_ context.Context, w weight) (int64, error) { return int64(w) * int64(w), nil },
		func(acc, sq int64) int64 { return acc + sq },
		func(a, b int64) int64 { return a + b })
)

// Sums of squares through the workers equal the closed form whatever
// the items: int64 of every msgpack size and sign, float64 (halves, exact
// in a float64), int64 under another name and structs, the first two
// through the workers' scalar chunk reader, the others through msgpack.
func TestReduceScalarAndOtherItemsMatchClosedForm(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 1, addr)
	startWorkerProcess(t, 1, addr)
	names := []string{funcs.SumSquares.Name(), sumSquaresFloat.Name(), sumPointSquares.Name(), sumWeightSquares.Name()}
	p := newPool(t, names[0], 2, addr)
	for _, fn := range names[1:] {
		waitSlots(t, p, fn, 2)
	}
	ctx := testenv.Context(t)
	const n = 300_000
	signed := make([]int64, n) // -n/2 .. n/2-1: fixints, 8, 16 and 32-bit codes, both signs
	halves := make([]float64, n)
	points := make([]point, n)
	weights := make([]weight, n)
	var want int64
	var wantHalves float64
	for i := range n {
		x := int64(i - n/2)
		signed[i], halves[i], points[i], weights[i] = x, float64(x)/2, point{X: x, Y: 1}, weight(x)
		want += x * x
		wantHalves += float64(x) / 2 * float64(x) / 2
	}
	big := []int64{1 << 40, -(1 << 40), 1<<63 - 1} // 64-bit codes; squares wrap as int64 does
	wantBig := want
	for _, x := range big {
		wantBig += x * x
	}
	got, err := pool.Reduce(ctx, p, funcs.SumSquares, slices.Concat(signed, big), pool.Chunksize(n/7))
	check(t, "int64", got, wantBig, err)
	gotF, err := pool.Reduce(ctx, p, sumSquaresFloat, halves, pool.Chunksize(n/7))
	check(t, "float64", gotF, wantHalves, err)
	gotP, err := pool.Reduce(ctx, p, sumPointSquares, points)
	check(t, "structs", gotP, want+n, err)
	gotW, err := pool.Reduce(ctx, p, sumWeightSquares, weights)
	check(t, "named int64", gotW, want, err)
}

func check[T comparable](t *testing.T, what string, got, want T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != want {
		t.Errorf("%s: sum of squares %v, want %v", what, got, want)
	}
}

// A keyed reduce of a stream of many small texts grows its chunks fast:
// it sends few tables (one per chunk) for thousands of texts, and still
// counts every word.
func TestReduceByKeySeqGrowsChunksFast(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 1, addr)
	startWorkerProcess(t, 1, addr)
	p := newPool(t, funcs.WordCounts.Name(), 2, addr)
	const n = 20_000
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("w%c%c common Common", 'a'+i%10, 'a'+i/10%10) // 100 words of letters
	}
	chunks := 0
	got, err := pool.ReduceByKeySeq(testenv.Context(t), p, funcs.WordCounts, slices.Values(texts),
		pool.Progress(func(int, int) { chunks++ }))
	if err != nil {
		t.Fatal(err)
	}
	if got["common"] != 2*n || got["wha"] != n/100 || len(got) != 101 {
		t.Fatalf("counts: common %d wha %d, %d words; want %d, %d, 101", got["common"], got["wha"], len(got), 2*n, n/100)
	}
	t.Logf("%d texts in %d chunks", n, chunks)
	if chunks > 100 { // 923 before the window and the growth of a reduce of a stream were changed
		t.Fatalf("%d texts took %d chunks (tables), want at most 100", n, chunks)
	}
}
