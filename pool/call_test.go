package pool_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// callItem is an item of callRecorded: an id to record, and how long to
// run.
type callItem struct {
	ID    int
	Sleep time.Duration
}

var (
	// callRecorded records the ids of the items it runs in ranIDs, then
	// sleeps for the item's time.
	ranMu        sync.Mutex
	ranIDs       []int
	callRecorded = pool.Register("test.callRecorded", func(ctx context.Context, it callItem) (int, error) {
		ranMu.Lock()
		ranIDs = append(ranIDs, it.ID)
		ranMu.Unlock()
		select {
		case <-time.After(it.Sleep):
			return it.ID, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
)

func ran(id int) bool {
	ranMu.Lock()
	defer ranMu.Unlock()
	return slices.Contains(ranIDs, id)
}

// TestCallReturnsWorkersValue: Call and Go return what the function
// computed in a worker process; a failing function is a *TaskError with
// Index 0, as in a one-item map; a bad option and a function no worker
// serves fail as a map does.
func TestCallReturnsWorkersValue(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	p := newPool(t, failDeclared.Name(), 2, addr)
	ctx := testenv.Context(t)
	if got, err := pool.Call(ctx, p, funcs.Hex, 255); err != nil || got != "0xff" {
		t.Fatalf("Call(hex, 255) = %q, %v; want \"0xff\"", got, err)
	}
	if got, err := pool.Go(ctx, p, funcs.Square, 12).Wait(ctx); err != nil || got != 144 {
		t.Fatalf("Go(square, 12).Wait = %d, %v; want 144", got, err)
	}
	_, err := pool.Call(ctx, p, failDeclared, 3)
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Index != 0 || !errors.Is(err, errBadInput) || !strings.HasPrefix(te.Worker, "proc-") {
		t.Fatalf("failing call: %v (%T), want a *TaskError of item 0 from a worker process that is errBadInput", err, err)
	}
	if _, err := pool.Call(ctx, p, funcs.Square, 2, pool.Retries(-1)); err == nil || !strings.Contains(err.Error(), "Retries(-1)") {
		t.Fatalf("Call with Retries(-1): %v, want an error naming the option", err)
	}
	idle := newPool(t, "", 0, gearmand(t))
	if _, err := pool.Go(ctx, idle, funcs.Square, 2).Wait(ctx); !errors.Is(err, pool.ErrNoWorkers) {
		t.Fatalf("call with no worker: %v, want ErrNoWorkers", err)
	}
}

// TestCancelledCallDropsQueuedJob: a call cancelled while its job is
// queued (the only slot busy) returns at once with the cancel's cause,
// and the worker never runs it, even after a later call has run.
func TestCancelledCallDropsQueuedJob(t *testing.T) {
	addr := gearmand(t, "--verbose=ERROR")
	startWorker(t, 1, addr)
	p := newPool(t, callRecorded.Name(), 1, addr)
	ctx := testenv.Context(t)
	ranMu.Lock()
	ranIDs = nil
	ranMu.Unlock()
	busy := pool.Go(ctx, p, callRecorded, callItem{ID: 1, Sleep: 400 * time.Millisecond})
	testenv.Eventually(t, ctx, "the slot taken", func() (bool, error) { return ran(1), nil })

	queued, cancel := context.WithCancel(ctx)
	call := pool.Go(queued, p, callRecorded, callItem{ID: 2})
	time.Sleep(50 * time.Millisecond) // submitted by now
	cancel()
	select {
	case <-call.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("a cancelled call did not return within 2s")
	}
	if _, err := call.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", err)
	}
	if _, err := busy.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The next call runs after anything still queued before it.
	if got, err := pool.Call(ctx, p, callRecorded, callItem{ID: 3}); err != nil || got != 3 {
		t.Fatalf("call after the cancel: %d, %v", got, err)
	}
	if ran(2) {
		t.Fatal("the cancelled call's queued job ran")
	}
}

// TestConcurrentCallsGetTheirOwnResults: a thousand calls at once from
// futures, on worker processes, each get their own item's result.
func TestConcurrentCallsGetTheirOwnResults(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	p := newPool(t, funcs.Square.Name(), 2, addr)
	ctx := testenv.Context(t)
	const n = 1000
	futures := make([]*pool.Future[int64], n)
	for i := range futures {
		futures[i] = pool.Go(ctx, p, funcs.Square, int64(i))
	}
	for i, fu := range futures {
		got, err := fu.Wait(ctx)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if want := int64(i) * int64(i); got != want {
			t.Fatalf("call %d returned %d, want %d", i, got, want)
		}
	}
}

// TestFutureWaitEndsWithItsContext: Wait gives up with its own context's
// cause while the call goes on, and the call's result is still there.
func TestFutureWaitEndsWithItsContext(t *testing.T) {
	addr := gearmand(t, "--verbose=ERROR")
	startWorker(t, 1, addr)
	p := newPool(t, callRecorded.Name(), 1, addr)
	ctx := testenv.Context(t)
	fu := pool.Go(ctx, p, callRecorded, callItem{ID: 10, Sleep: 200 * time.Millisecond})
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := fu.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a short context: %v, want context.DeadlineExceeded", err)
	}
	if got, err := fu.Wait(ctx); err != nil || got != 10 {
		t.Fatalf("Wait after: %d, %v; want 10", got, err)
	}
}
