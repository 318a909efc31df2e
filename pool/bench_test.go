package pool_test

import (
	"context"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// BenchmarkMapSquare maps x*x over a million int64s with two worker slots
// in this process; read items/s. `make bench-pool` measures the same on a
// local cluster, and CPU-bound items against an in-process baseline.
// The tls sub-benchmark goes through a TLS proxy in front of gearmand.
func BenchmarkMapSquare(b *testing.B) {
	forTransports(b, func(b *testing.B, p *pool.Pool) {
		items := ints(1_000_000)
		b.ResetTimer()
		for b.Loop() {
			out, err := pool.Map(context.Background(), p, funcs.Square, items)
			if err != nil || len(out) != len(items) {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(items)*b.N)/b.Elapsed().Seconds(), "items/s")
	})
}

// BenchmarkMapOneItem is the cost of a map of one item, one after
// another, with two worker slots in this process: read ns/op (per map).
// The small-call path; make bench compares it with a bare Gearman call.
func BenchmarkMapOneItem(b *testing.B) {
	forTransports(b, func(b *testing.B, p *pool.Pool) {
		items := ints(1)
		b.ResetTimer()
		for b.Loop() {
			out, err := pool.Map(context.Background(), p, funcs.Square, items)
			if err != nil || len(out) != 1 {
				b.Fatal(err)
			}
		}
	})
}

// forTransports runs bench as two sub-benchmarks, "plaintext" (straight
// to gearmand) and "tls" (through a TLS proxy in front of it, the worker
// and the pool connecting over TLS), each with two worker slots in this
// process.
func forTransports(b *testing.B, bench func(b *testing.B, p *pool.Pool)) {
	b.Run("plaintext", func(b *testing.B) {
		addr := gearmand(b, "--verbose=ERROR")
		startWorker(b, 2, addr)
		bench(b, newPool(b, funcs.Square.Name(), 2, addr))
	})
	b.Run("tls", func(b *testing.B) {
		srv := testenv.TLSGearmand(b, "--verbose=ERROR")
		w, err := serve([]string{srv.Addr()}, 2, "bench-tls", gearman.WithTLS(srv.ClientTLS()))
		if err != nil {
			b.Fatal(err)
		}
		go w.Run()
		b.Cleanup(func() { w.Close() })
		p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}, TLS: true, TLSCAFile: srv.CAFile})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		waitSlots(b, p, funcs.Square.Name(), 2)
		bench(b, p)
	})
}
