package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// callTestItem is an item of callRecorded: an id to record, and how long
// to run.
type callTestItem struct {
	ID    int
	Sleep time.Duration
}

var (
	callRanMu sync.Mutex
	callRan   []int
	// callRecorded records the ids it runs, then sleeps for the item's
	// time.
	callRecorded = pool.Register("clustertest.callRecorded", func(ctx context.Context, it callTestItem) (int, error) {
		callRanMu.Lock()
		callRan = append(callRan, it.ID)
		callRanMu.Unlock()
		select {
		case <-time.After(it.Sleep):
			return it.ID, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
)

func callDidRun(id int) bool {
	callRanMu.Lock()
	defer callRanMu.Unlock()
	return slices.Contains(callRan, id)
}

// TestCancelledCallNeverRunsAfterFastCalls: on a worker of one slot that
// asks ahead (fast calls came before), a call cancelled while the slot is
// busy never runs: whether its job was still queued (dropped at the job
// server) or already asked ahead by the worker (refused there on the
// cancel command).
func TestCancelledCallNeverRunsAfterFastCalls(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := StartLocal(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := l.Pool()
	callRanMu.Lock()
	callRan = nil
	callRanMu.Unlock()
	for i := range 50 { // fast calls: the worker asks ahead from now on
		if _, err := pool.Call(ctx, p, callRecorded, callTestItem{ID: 1000 + i}); err != nil {
			t.Fatal(err)
		}
	}
	busy := pool.Go(ctx, p, callRecorded, callTestItem{ID: 1, Sleep: 500 * time.Millisecond})
	testenv.Eventually(t, ctx, "the slot taken", func() (bool, error) { return callDidRun(1), nil })
	queued, cancel := context.WithCancel(ctx)
	call := pool.Go(queued, p, callRecorded, callTestItem{ID: 2})
	time.Sleep(50 * time.Millisecond) // submitted, and maybe asked ahead
	cancel()
	if _, err := call.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", err)
	}
	if _, err := busy.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := pool.Call(ctx, p, callRecorded, callTestItem{ID: 3}); err != nil || got != 3 {
		t.Fatalf("call after the cancel: %d, %v", got, err)
	}
	if callDidRun(2) {
		t.Fatal("the cancelled call ran")
	}
}
