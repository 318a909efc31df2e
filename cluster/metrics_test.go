package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// TestStopMetricsWhileCounting stops and restarts a worker's metrics
// while chunks end and Metrics is read, as a program that switches its
// exporter off and on does: no read may find the counters gone, and once
// the counting is on again for good, every chunk after that is counted.
func TestStopMetricsWhileCounting(t *testing.T) {
	f, ok := wire.Lookup(funcs.Square.Name())
	if !ok {
		t.Fatal("examples.square is not registered")
	}
	w := &Worker{funcs: []wire.Function{f}, slots: 1}
	payload, result := make([]byte, 10), encodedResult(t, 7)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	loop := func(step func()) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				step()
			}
		})
	}
	for range 2 {
		loop(w.StopMetrics)
		loop(func() { w.Metrics() })
	}
	loop(func() { w.countChunk(f.Name(), payload, result, 0, time.Microsecond, nil, nil) })
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	w.StopMetrics()
	w.countChunk(f.Name(), payload, result, 0, time.Microsecond, nil, nil) // not counted: stopped
	w.Metrics()
	for range 3 {
		w.countChunk(f.Name(), payload, result, 0, time.Microsecond, nil, nil)
	}
	m := w.Metrics()
	if len(m.Functions) != 1 || m.Functions[0].Chunks != 3 || m.Functions[0].Items != 21 {
		t.Fatalf("after a restart and 3 chunks of 7 items, metrics %+v; want 3 chunks, 21 items", m.Functions)
	}
}

// encodedResult is a chunk result of n int64 items, as a worker sends it.
func encodedResult(t *testing.T, n int) []byte {
	data, err := wire.Encode(wire.ChunkResult[int64]{Items: make([]int64, n)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}
