package pool_test

import (
	"context"
	"testing"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// BenchmarkMapSquare maps x*x over a million int64s with two worker slots
// in this process; read items/s. `make bench-pool` measures the same on a
// local cluster, and CPU-bound items against an in-process baseline.
func BenchmarkMapSquare(b *testing.B) {
	addr := gearmand(b, "--verbose=ERROR")
	startWorker(b, 2, addr)
	p := newPool(b, funcs.Square.Name(), 2, addr)
	items := ints(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		out, err := pool.Map(context.Background(), p, funcs.Square, items)
		if err != nil || len(out) != len(items) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(items)*b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkMapOneItem is the cost of a map of one item, one after
// another, with two worker slots in this process: read ns/op (per map).
// The small-call path; make bench compares it with a bare Gearman call.
func BenchmarkMapOneItem(b *testing.B) {
	addr := gearmand(b, "--verbose=ERROR")
	startWorker(b, 2, addr)
	p := newPool(b, funcs.Square.Name(), 2, addr)
	items := ints(1)
	b.ResetTimer()
	for b.Loop() {
		out, err := pool.Map(context.Background(), p, funcs.Square, items)
		if err != nil || len(out) != 1 {
			b.Fatal(err)
		}
	}
}
