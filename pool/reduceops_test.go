package pool_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

var (
	// flakyOnce records the items that failed once: each item of
	// flakySum and flakyWords fails on its first call if it is a
	// multiple of 97, then succeeds.
	flakyOnce        sync.Map
	flakyReduceCalls atomic.Int64
	flakySum         = pool.RegisterReducer("test.flakysum",
		func(_ context.Context, x int64) (int64, error) {
			flakyReduceCalls.Add(1)
			if err := failFirst("sum", x); err != nil {
				return 0, err
			}
			return x, nil
		},
		func(acc, x int64) int64 { return acc + x },
		func(a, b int64) int64 { return a + b })
	flakyWords = pool.RegisterKeyed("test.flakywords",
		func(_ context.Context, x int64, emit func(int64, int64)) error {
			if err := failFirst("words", x); err != nil {
				return err
			}
			emit(x%10, 1)
			return nil
		},
		func(a, b int64) int64 { return a + b })
)

func failFirst(kind string, x int64) error {
	if x%97 != 0 {
		return nil
	}
	if _, again := flakyOnce.LoadOrStore(kind+string(rune(x)), true); again {
		return nil
	}
	return errors.New("transient failure")
}

// flakyReducePool is a pool with 2 worker slots that serve flakySum and
// flakyWords.
func flakyReducePool(t *testing.T) *pool.Pool {
	t.Helper()
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, flakySum.Name(), 2, addr)
	waitSlots(t, p, flakyWords.Name(), 2)
	return p
}

// Retries and RetryTaskErrors behave for reduces as for maps: a chunk
// whose item failed once is run again, and its accumulator counted once
// (the sum and the keyed counts are exact); without RetryTaskErrors the
// first failure is final, a *TaskError naming the item.
func TestReduceRetriesAsMaps(t *testing.T) {
	p := flakyReducePool(t)
	ctx := testenv.Context(t)
	const n = 1000
	flakyOnce.Clear()
	_, err := pool.Reduce(ctx, p, flakySum, ints(n), pool.Chunksize(50))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Index%97 != 0 || te.Message != "transient failure" {
		t.Fatalf("without RetryTaskErrors: err = %v, want the *TaskError of a multiple of 97", err)
	}
	flakyOnce.Clear()
	sum, err := pool.Reduce(ctx, p, flakySum, ints(n), pool.Chunksize(50), pool.RetryTaskErrors(), pool.Retries(2))
	if err != nil || sum != n*(n-1)/2 {
		t.Fatalf("with retries: sum %d, %v; want %d", sum, err, n*(n-1)/2)
	}
	flakyOnce.Clear()
	counts, err := pool.ReduceByKeySeq(ctx, p, flakyWords, func(yield func(int64) bool) {
		for x := range int64(n) {
			if !yield(x) {
				return
			}
		}
	}, pool.Chunksize(50), pool.RetryTaskErrors(), pool.Retries(2))
	if err != nil {
		t.Fatal(err)
	}
	for digit := range int64(10) {
		if counts[digit] != n/10 {
			t.Fatalf("with retries: %d items end in %d, want %d (all: %v)", counts[digit], digit, n/10, counts)
		}
	}
}

// Progress counts a reduce's input items as they are folded, as a map's,
// up to the total for a slice (and -1 for a sequence), ending at all.
func TestReduceProgressCountsItems(t *testing.T) {
	p := flakyReducePool(t)
	ctx := testenv.Context(t)
	const n = 1000
	flakyOnce.Clear()
	for x := int64(0); x < n; x += 97 {
		flakyOnce.Store("sum"+string(rune(x)), true) // no failures
		flakyOnce.Store("words"+string(rune(x)), true)
	}
	type report struct{ done, total int }
	var mu sync.Mutex
	var reports []report
	progress := pool.Progress(func(done, total int) {
		mu.Lock()
		reports = append(reports, report{done, total})
		mu.Unlock()
	})
	check := func(what string, total int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(reports) < 2 {
			t.Fatalf("%s: %d progress reports, want one per chunk", what, len(reports))
		}
		for i, r := range reports {
			if r.total != total || (i > 0 && r.done < reports[i-1].done) {
				t.Fatalf("%s: progress %v, want done growing and total %d", what, reports, total)
			}
		}
		if last := reports[len(reports)-1]; last.done != n {
			t.Fatalf("%s: last progress %v, want %d items done", what, last, n)
		}
		reports = nil
	}
	if _, err := pool.Reduce(ctx, p, flakySum, ints(n), pool.Chunksize(100), progress); err != nil {
		t.Fatal(err)
	}
	check("Reduce", n)
	if _, err := pool.ReduceByKey(ctx, p, flakyWords, ints(n), pool.Chunksize(100), progress); err != nil {
		t.Fatal(err)
	}
	check("ReduceByKey", n)
}

// Cancelling a keyed reduce of a sequence returns the context's error
// soon, as a map's, and stops reading the input.
func TestReduceByKeySeqCancel(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, flakyWords.Name(), 2, addr)
	ctx, cancel := context.WithCancel(testenv.Context(t))
	var read atomic.Int64
	items := func(yield func(int64) bool) {
		for x := int64(1); ; x++ { // endless, never a multiple of 97 that fails
			if x%97 == 0 {
				continue
			}
			read.Add(1)
			if x == 5000 {
				cancel()
			}
			if !yield(x) {
				return
			}
		}
	}
	_, err := pool.ReduceByKeySeq(ctx, p, flakyWords, items, pool.Chunksize(100))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	atReturn := read.Load()
	if atReturn > 20_000 {
		t.Fatalf("read %d items of an endless input cancelled at 5000", atReturn)
	}
}

// keyedCombinePanics panics in its combine when a key's count reaches 3.
var keyedCombinePanics = pool.RegisterKeyed("test.keyedcombinepanics",
	func(_ context.Context, s string, emit func(string, int)) error {
		emit(s, 1)
		return nil
	},
	func(a, b int) int {
		if a+b == 3 {
			panic("third " + "count")
		}
		return a + b
	})

// A panicking combine of a keyed reduce, with no per-item deadline (its
// pairs combined as they are emitted), is a *TaskError naming the item
// and its chunk, as with one; a panic of the function itself is not
// taken for the combine's.
func TestReduceByKeyCombinePanicNamesTheChunk(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 1, addr)
	p := newPool(t, keyedCombinePanics.Name(), 1, addr)
	ctx := testenv.Context(t)
	items := []string{"w", "x", "y", "z", "a", "a", "a", "b"}
	_, err := pool.ReduceByKey(ctx, p, keyedCombinePanics, items, pool.Chunksize(4))
	var te *pool.TaskError
	if !errors.As(err, &te) || !te.Panic || te.Index != 6 || !strings.Contains(te.Message, "combine, in the chunk of items 4-7: third count") {
		t.Fatalf("err = %#v, want a *TaskError for item 6 naming the combine and the chunk of items 4-7", err)
	}
	_, err = pool.ReduceByKey(ctx, p, keyedPanicsInFn, []string{"x", "y", "panic"}, pool.Chunksize(3))
	if !errors.As(err, &te) || !te.Panic || te.Index != 2 || strings.Contains(te.Message, "combine") {
		t.Fatalf("err = %v, want a *TaskError for item 2, not the combine's", err)
	}
}

// keyedPanicsInFn panics in its function on "panic".
var keyedPanicsInFn = pool.RegisterKeyed("test.keyedpanicsinfn",
	func(_ context.Context, s string, emit func(string, int)) error {
		emit(s, 1)
		if s == "panic" {
			panic("fn panic")
		}
		return nil
	},
	func(a, b int) int { return a + b })
