package pool_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// The small-call path under load, with two worker slots in this process
// (the client and the worker share its CPU, as in a local cluster): read
// ns/op, allocs/op and cpu-µs/op (the process's user+system CPU per call
// or item; gearmand's is not in it).

// BenchmarkCallConcurrent: pool.Call from 1,000 goroutines at once.
func BenchmarkCallConcurrent(b *testing.B) {
	addr := gearmand(b, "--verbose=ERROR")
	startWorker(b, 2, addr)
	p := newPool(b, funcs.Square.Name(), 2, addr)
	const callers = 1000
	work := make(chan int64)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for x := range work {
				if got, err := pool.Call(context.Background(), p, funcs.Square, x); err != nil || got != x*x {
					b.Error(got, err)
				}
			}
		})
	}
	defer func() { close(work); wg.Wait() }()
	cpu := processCPU()
	b.ResetTimer()
	for i := range b.N {
		work <- int64(i)
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkMapChunksize1: Map with Chunksize(1) over 10,000 items; read
// items/s and cpu-µs/item.
func BenchmarkMapChunksize1(b *testing.B) {
	addr := gearmand(b, "--verbose=ERROR")
	startWorker(b, 2, addr)
	p := newPool(b, funcs.Square.Name(), 2, addr)
	items := ints(10_000)
	cpu, writes := processCPU(), writeCalls()
	b.ResetTimer()
	for b.Loop() {
		if out, err := pool.Map(context.Background(), p, funcs.Square, items, pool.Chunksize(1)); err != nil || len(out) != len(items) {
			b.Fatal(err)
		}
	}
	n := float64(len(items) * b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/n, "cpu-µs/item")
	b.ReportMetric(float64(writeCalls()-writes)/n, "writes/item")
}

// writeCalls is how many write system calls this process has made
// (client and worker: both run in it), from /proc/self/io; 0 without it.
func writeCalls() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// processCPU is the user and system CPU this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
