package pool

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// Accumulators that come in any order are merged in input order, and the
// client holds one per run of adjacent chunks: never more than the chunks
// still missing, plus one.
func TestAccRunsMergeInInputOrder(t *testing.T) {
	const chunks, per = 200, 3
	concat := func(a, b string, _ int) (string, error) { return a + b, nil }
	for seed := range uint64(20) {
		rs := &accRuns[string]{merge: concat, byStart: map[int]*accRun[string]{}, byEnd: map[int]*accRun[string]{}}
		order := rand.New(rand.NewPCG(seed, 1)).Perm(chunks)
		want := ""
		for c := range chunks {
			want += strconv.Itoa(c) + ","
		}
		for i, c := range order {
			if err := rs.add(c*per, c*per+per, strconv.Itoa(c)+","); err != nil {
				t.Fatal(err)
			}
			if missing := chunks - i - 1; len(rs.byStart) > missing+1 {
				t.Fatalf("seed %d: %d runs held with %d chunks missing", seed, len(rs.byStart), missing)
			}
		}
		got, err := rs.result()
		if err != nil || got != want {
			t.Fatalf("seed %d: %q, %v; want %q", seed, got, err, want)
		}
	}
}

// BenchmarkReduceChunk is a worker's side of a sum of squares' chunk:
// decode 100,000 int64, map, fold, encode the accumulator.
func BenchmarkReduceChunk(b *testing.B) {
	sq := registeredReduction[int64, int64]{benchSumSquares.red}
	items := make([]int64, 100_000)
	for i := range items {
		items[i] = int64(i) * 1000
	}
	payload, err := wire.Encode(wire.ChunkRequest[int64]{Items: items, InType: benchSumSquares.red.f.shapes.wireIn, OutType: benchSumSquares.red.f.shapes.wireOut})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := sq.RunChunk(context.Background(), payload, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

var benchSumSquares = RegisterReducer("bench.sumsquares",
	func(_ context.Context, x int64) (int64, error) { return x * x, nil },
	func(acc, sq int64) int64 { return acc + sq },
	func(a, b int64) int64 { return a + b })

// A keyed reduce's table travels whole: by hand for string keys and
// integer values, by msgpack for others; nil and empty too.
func TestTableRoundTrip(t *testing.T) {
	roundTrip(t, table[string, int]{m: map[string]int{"a": 1, "bb": -2, "ccc": 1 << 40}})
	roundTrip(t, table[string, int64]{m: map[string]int64{"x": 300, "y": -70000}})
	roundTrip(t, table[string, float64]{m: map[string]float64{"pi": 3.14}})
	roundTrip(t, table[int, string]{m: map[int]string{7: "seven"}})
	roundTrip(t, table[string, int]{m: map[string]int{}})
	roundTrip(t, table[string, int]{})
}

func roundTrip[K comparable, V comparable](t *testing.T, in table[K, V]) {
	t.Helper()
	data, err := wire.Encode(wire.ChunkResult[table[K, V]]{Items: []table[K, V]{in}})
	if err != nil {
		t.Fatal(err)
	}
	var out wire.ChunkResult[table[K, V]]
	if err := wire.Decode(data, &out); err != nil {
		t.Fatal(err)
	}
	got := out.Items[0].mapped().m
	if (got == nil) != (in.m == nil) || len(got) != len(in.m) {
		t.Fatalf("%v came back as %v", in.m, got)
	}
	for k, v := range in.m {
		if got[k] != v {
			t.Fatalf("%v came back as %v", in.m, got)
		}
	}
}
