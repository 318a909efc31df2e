package pool_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

var (
	// counted counts its calls in countedCalls, then sleeps for its item.
	countedCalls atomic.Int64
	counted      = pool.Register("test.counted", func(ctx context.Context, d time.Duration) (time.Duration, error) {
		countedCalls.Add(1)
		select {
		case <-time.After(d):
			return d, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})

	// orderRecorded appends its items to recordedItems in the order it runs
	// them.
	recordedMu    sync.Mutex
	recordedItems []int
	orderRecorded = pool.Register("test.orderRecorded", func(_ context.Context, x int) (int, error) {
		recordedMu.Lock()
		recordedItems = append(recordedItems, x)
		recordedMu.Unlock()
		time.Sleep(10 * time.Millisecond)
		return x, nil
	})
)

// Breaking out of Imap or ImapUnordered drops the map's queued chunks:
// the workers do not run them after the break.
func TestEarlyBreakDropsQueuedChunks(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, counted.Name(), 2, addr)
	const item = 200 * time.Millisecond
	items := func(yield func(time.Duration) bool) {
		for range 24 {
			if !yield(item) {
				return
			}
		}
	}
	for _, unordered := range []bool{false, true} {
		countedCalls.Store(0)
		var atBreak int64
		if unordered {
			for _, err := range pool.ImapUnordered(testenv.Context(t), p, counted, items, pool.Chunksize(1), pool.Window(12)) {
				if err != nil {
					t.Fatal(err)
				}
				atBreak = countedCalls.Load()
				break
			}
		} else {
			for _, err := range pool.Imap(testenv.Context(t), p, counted, items, pool.Chunksize(1), pool.Window(12)) {
				if err != nil {
					t.Fatal(err)
				}
				atBreak = countedCalls.Load()
				break
			}
		}
		time.Sleep(5 * item) // long enough for the 10 queued chunks to run on 2 slots
		// A worker may have taken one more chunk the moment we broke off.
		if after := countedCalls.Load(); after > atBreak+2 {
			t.Errorf("unordered=%v: %d chunks ran after the break (%d before it): the queued chunks were not dropped",
				unordered, after-atBreak, atBreak)
		}
	}
}

// Pool.Close fails the maps running on it with ErrClosed, promptly.
func TestCloseFailsRunningMap(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, counted.Name(), 2, addr)
	countedCalls.Store(0)
	errc := make(chan error, 1)
	go func() {
		_, err := pool.Map(testenv.Context(t), p, counted, []time.Duration{time.Minute, time.Minute, time.Minute}, pool.Chunksize(1))
		errc <- err
	}()
	for countedCalls.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-errc:
		if !errors.Is(err, pool.ErrClosed) {
			t.Fatalf("map on a closed pool: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the map still runs 10s after Close")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Map(testenv.Context(t), p, counted, []time.Duration{0}); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("map started after Close: %v, want ErrClosed", err)
	}
}

// A map started before its workers waits for them with WaitForWorkers,
// and fails at once without it.
func TestWaitForWorkers(t *testing.T) {
	addr := gearmand(t)
	p := newPool(t, "", 0, addr)
	ctx := testenv.Context(t)
	if _, err := pool.Map(ctx, p, funcs.Square, []int64{1, 2}); !errors.Is(err, pool.ErrNoWorkers) {
		t.Fatalf("without workers: %v, want ErrNoWorkers", err)
	}
	_, err := pool.Map(ctx, p, funcs.Square, []int64{1, 2}, pool.WaitForWorkers(100*time.Millisecond))
	if !errors.Is(err, pool.ErrNoWorkers) || !strings.Contains(err.Error(), "waited 100ms") {
		t.Fatalf("no worker within the wait: %v, want ErrNoWorkers saying it waited", err)
	}
	type result struct {
		got []int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := pool.Map(ctx, p, funcs.Square, ints(100), pool.WaitForWorkers(time.Minute))
		done <- result{got, err}
	}()
	time.Sleep(time.Second)
	startWorkerProcess(t, 2, addr)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	for i, v := range r.got {
		if v != int64(i)*int64(i) {
			t.Fatalf("result %d = %d", i, v)
		}
	}
}

// Chunks reach the job server in input order, so that a one-slot worker
// runs them in that order.
func TestChunksAreQueuedInInputOrder(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 1, addr)
	p := newPool(t, orderRecorded.Name(), 1, addr)
	items := make([]int, 32)
	for i := range items {
		items[i] = i
	}
	recordedMu.Lock()
	recordedItems = nil
	recordedMu.Unlock()
	if _, err := pool.Map(testenv.Context(t), p, orderRecorded, items, pool.Chunksize(1), pool.Window(len(items))); err != nil {
		t.Fatal(err)
	}
	recordedMu.Lock()
	defer recordedMu.Unlock()
	if !slices.Equal(recordedItems, items) {
		t.Fatalf("the worker ran the chunks in the order %v, want input order", recordedItems)
	}
}
