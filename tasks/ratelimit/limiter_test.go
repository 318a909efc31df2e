package ratelimit_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
)

func openLimiter(t *testing.T, limits map[string]ratelimit.Limits) *ratelimit.Limiter {
	return openLimiterB(t, limits)
}

func openLimiterB(t testing.TB, limits map[string]ratelimit.Limits) *ratelimit.Limiter {
	t.Helper()
	ctx := testenv.Context(t)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := ratelimit.New(ctx, db, limits, ratelimit.SlotPoll(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestBatchStaysWithinBurst: after an idle spell, one TryAcquireN gets at
// most burst - 1.05*rate tokens (the room left for the second's refill
// and 50ms of margin for dispatch delays), and
// the next is told to wait for the next token.
func TestBatchStaysWithinBurst(t *testing.T) {
	t.Parallel()
	l := openLimiter(t, map[string]ratelimit.Limits{"q": {Rate: 10, Burst: 15}})
	ctx := testenv.Context(t)
	if _, _, err := l.TryAcquireN(ctx, "q", 1); err != nil { // creates the bucket
		t.Fatal(err)
	}
	time.Sleep(time.Second) // fills it
	rels, _, err := l.TryAcquireN(ctx, "q", 100)
	if err != nil || len(rels) != 4 {
		t.Fatalf("TryAcquireN(100) after 1s idle: %d grants, err %v; want 4 (burst 15 - 1.05 * rate 10)", len(rels), err)
	}
	rels, wait, err := l.TryAcquireN(ctx, "q", 100)
	if err != nil || len(rels) > 1 || len(rels) == 0 && (wait <= 0 || wait > 150*time.Millisecond) {
		t.Fatalf("TryAcquireN right after: %d grants, wait %v, err %v; want none or one, and at most 100ms+ to wait", len(rels), wait, err)
	}
}

// TestBothLimits: a queue with a rate and max_running 1 hands out one
// grant at a time, slot and token together; a refused token frees the
// slot it had taken in the same transaction.
func TestBothLimits(t *testing.T) {
	t.Parallel()
	l := openLimiter(t, map[string]ratelimit.Limits{"q": {Rate: 1, MaxRunning: 1}})
	ctx := testenv.Context(t)
	rels, _, err := l.TryAcquireN(ctx, "q", 3)
	if err != nil || len(rels) != 1 {
		t.Fatalf("first TryAcquireN(3): %d grants, err %v; want 1 (max_running 1)", len(rels), err)
	}
	rels[0]()
	rels[0]() // twice does nothing
	// The slot is free, the token is not: refused, and the slot stays free.
	again, wait, err := l.TryAcquire(ctx, "q")
	if again != nil || err != nil || wait < 500*time.Millisecond {
		t.Fatalf("TryAcquire with no token: granted %v, wait %v, err %v; want a wait of about 1s", again != nil, wait, err)
	}
	start := time.Now()
	rel, err := l.Acquire(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Acquire took %v for a token due in 1s", d)
	}
	s := l.Stats()["q"]
	if s.Acquired != 2 || s.Waited != 1 || s.TokenWaits == 0 || s.WaitTime <= 0 {
		t.Errorf("Stats = %+v, want 2 acquired after token waits", s)
	}
}

// TestAcquireHonoursContext: a waiter gives up when its ctx ends, with
// an error wrapping the cause and naming the queue.
func TestAcquireHonoursContext(t *testing.T) {
	t.Parallel()
	l := openLimiter(t, map[string]ratelimit.Limits{"q": {MaxRunning: 1}})
	ctx := testenv.Context(t)
	rel, err := l.Acquire(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	short := testenv.ContextWithin(t, 200*time.Millisecond)
	_, err = l.Acquire(short, "q")
	var qe *ratelimit.QueueError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &qe) || qe.Queue != "q" {
		t.Fatalf("Acquire past its deadline: %v, want a QueueError wrapping DeadlineExceeded", err)
	}
}

// TestBadLimits: limits that config would refuse are refused in code
// too, naming the queue and the key.
func TestBadLimits(t *testing.T) {
	t.Parallel()
	l := openLimiter(t, nil)
	for _, lim := range []ratelimit.Limits{{Rate: -1}, {Rate: 50, Burst: 10}, {MaxRunning: -2}} {
		err := l.SetLimits("q", lim)
		var qe *ratelimit.QueueError
		var ce *config.Error
		if !errors.As(err, &qe) || qe.Queue != "q" || !errors.As(err, &ce) || ce.Key == "" {
			t.Errorf("SetLimits(%+v) = %v, want a QueueError holding a config.Error naming the key", lim, err)
		}
	}
	if _, err := l.Acquire(testenv.Context(t), "q"); err != nil {
		t.Errorf("queue with no limits: %v", err)
	}
}
