package gearman_test

import (
	"bytes"
	"testing"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// BenchmarkCall measures pipelined 16-byte echo jobs through one gearmand,
// one Client and one in-process Worker. For the comparison with
// libgearman's C pair, with each worker in its own process, run
// `make bench-gearman`.
func BenchmarkCall(b *testing.B) {
	srv := testenv.Gearmand(b)
	w, err := gearman.NewWorker([]string{srv.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	w.Register("bench_echo", echo)
	go w.Run()
	defer w.Close()
	c, err := gearman.NewClient(b.Context(), []string{srv.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := []byte("0123456789abcdef")
	b.SetParallelism(128) // jobs in flight per GOMAXPROCS
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := c.Call(b.Context(), "bench_echo", payload)
			if err != nil || !bytes.Equal(out, payload) {
				b.Errorf("Call = %q, %v", out, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
