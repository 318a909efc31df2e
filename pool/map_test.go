package pool_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

var (
	panicAt7777 = pool.Register("test.panic7777", func(_ context.Context, x int) (int, error) {
		if x == 7777 {
			var m map[string]int
			m["boom"]++ // a real runtime panic, with a real stack
		}
		return x, nil
	})
	failOdd = pool.Register("test.failodd", func(_ context.Context, x int) (int, error) {
		if x%2 == 1 {
			return 0, fmt.Errorf("odd input %d", x)
		}
		return x, nil
	})
	slowSquare = pool.Register("test.slowsquare", func(ctx context.Context, x int64) (int64, error) {
		select {
		case <-time.After(2 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return x * x, nil
	})
	sleepy = pool.Register("test.sleepy", func(ctx context.Context, d time.Duration) (string, error) {
		select {
		case <-time.After(d):
			return "slept", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	unserved = pool.Register("test.unserved", func(_ context.Context, x int) (int, error) { return x, nil })
)

func ints(n int) []int64 {
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = int64(i)
	}
	return xs
}

func TestMapKeepsOrder(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 4, addr)
	p := newPool(t, funcs.Square.Name(), 4, addr)
	ctx := testenv.Context(t)
	const n = 100_000
	var progress []int
	got, err := pool.Map(ctx, p, funcs.Square, ints(n), pool.Progress(func(done, total int) {
		if total != n {
			t.Errorf("progress total %d, want %d", total, n)
		}
		progress = append(progress, done)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d results, want %d", len(got), n)
	}
	for i, v := range got {
		if v != int64(i)*int64(i) {
			t.Fatalf("result %d = %d, want %d", i, v, i*i)
		}
	}
	if len(progress) < 2 || progress[len(progress)-1] != n {
		t.Fatalf("progress %v: want several calls ending at %d", progress, n)
	}
	// Small chunks: many jobs, same answer.
	got, err = pool.Map(ctx, p, funcs.Square, ints(1000), pool.Chunksize(7), pool.Priority(pool.High))
	if err != nil || len(got) != 1000 || got[999] != 999*999 {
		t.Fatalf("chunksize 7: %d results, %v", len(got), err)
	}
}

func TestMapEmptyInput(t *testing.T) {
	addr := gearmand(t)
	p := newPool(t, "", 0, addr)
	got, err := pool.Map(testenv.Context(t), p, funcs.Square, nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Map(nil) = %v, %v; want an empty slice", got, err)
	}
	for v, err := range pool.Imap(testenv.Context(t), p, funcs.Square, func(func(int64) bool) {}) {
		t.Fatalf("Imap of nothing yielded %v, %v", v, err)
	}
}

func TestPanicReportsIndexAndStack(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, panicAt7777.Name(), 2, addr)
	items := make([]int, 10_000)
	for i := range items {
		items[i] = i
	}
	_, err := pool.Map(testenv.Context(t), p, panicAt7777, items)
	var te *pool.TaskError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *pool.TaskError", err)
	}
	if te.Index != 7777 || !te.Panic || te.Func != "test.panic7777" || !strings.HasPrefix(te.Worker, "inproc-") {
		t.Fatalf("TaskError = %+v", te)
	}
	if !strings.Contains(te.Message, "assignment to entry in nil map") || !strings.Contains(te.Stack, "map_test.go") {
		t.Fatalf("message %q / stack %q: want the panic and its remote stack", te.Message, te.Stack)
	}
	if !strings.Contains(err.Error(), "item 7777 panicked") {
		t.Fatalf("error text %q", err)
	}
	// The worker survived and serves the next map.
	if _, err := pool.Map(testenv.Context(t), p, panicAt7777, items[:100]); err != nil {
		t.Fatal(err)
	}
}

func TestTaskErrorsAreFinalUnlessAsked(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, failOdd.Name(), 2, addr)
	_, err := pool.Map(testenv.Context(t), p, failOdd, []int{0, 2, 4, 5, 6}, pool.Chunksize(1))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Index != 3 || te.Message != "odd input 5" || te.Panic || te.Timeout {
		t.Fatalf("err = %v", err)
	}
	_, err = pool.Map(testenv.Context(t), p, failOdd, []int{1}, pool.RetryTaskErrors(), pool.Retries(2))
	if !errors.As(err, &te) || te.Index != 0 {
		t.Fatalf("with retries: %v", err)
	}
}

func TestTaskTimeout(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, sleepy.Name(), 2, addr)
	items := []time.Duration{0, time.Minute, 0}
	_, err := pool.Map(testenv.Context(t), p, sleepy, items, pool.TaskTimeout(50*time.Millisecond), pool.Chunksize(1))
	var te *pool.TaskError
	if !errors.As(err, &te) || !te.Timeout || te.Index != 1 {
		t.Fatalf("err = %v, want a timeout of item 1", err)
	}
}

func TestErrNoWorkers(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 1, addr) // serves everything registered, but not on this server
	other := gearmand(t)
	p := newPool(t, "", 0, other)
	_, err := pool.Map(testenv.Context(t), p, unserved, []int{1, 2, 3})
	if !errors.Is(err, pool.ErrNoWorkers) || !strings.Contains(err.Error(), "test.unserved") {
		t.Fatalf("err = %v, want ErrNoWorkers naming the function", err)
	}
}

func TestCancelDropsQueuedChunks(t *testing.T) {
	srv := testenv.Gearmand(t)
	addr := srv.Addr()
	startWorker(t, 2, addr)
	p := newPool(t, sleepy.Name(), 2, addr)
	ctx, cancel := context.WithCancel(testenv.Context(t))
	items := make([]time.Duration, 200)
	for i := range items {
		items[i] = 20 * time.Millisecond
	}
	var first atomic.Bool
	errc := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, p, sleepy, items, pool.Chunksize(1), pool.Window(100), pool.Progress(func(done, total int) {
			if first.CompareAndSwap(false, true) {
				cancel()
			}
		}))
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The map left ~100 chunks queued; the workers take and drop them.
	ctx = testenv.Context(t)
	testenv.Eventually(t, ctx, "the cancelled map's chunks to leave the queue", func() (bool, error) {
		st, err := gearmantest.FunctionStatus(ctx, addr, "glimpse.test.sleepy")
		return err == nil && st.Queued == 0, err
	})
}

func TestImapStreamsInOrderAndStops(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 4, addr)
	p := newPool(t, funcs.Square.Name(), 4, addr)
	ctx := testenv.Context(t)
	var read atomic.Int64
	input := func(yield func(int64) bool) {
		for i := int64(0); i < 50_000; i++ {
			read.Add(1)
			if !yield(i) {
				return
			}
		}
	}
	i := int64(0)
	for v, err := range pool.Imap(ctx, p, funcs.Square, input) {
		if err != nil {
			t.Fatal(err)
		}
		if v != i*i {
			t.Fatalf("result %d = %d", i, v)
		}
		i++
	}
	if i != 50_000 {
		t.Fatalf("%d results", i)
	}
	// Breaking out early stops reading the input.
	read.Store(0)
	n := 0
	for _, err := range pool.Imap(ctx, p, funcs.Square, input, pool.Chunksize(10), pool.Window(4)) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 25 {
			break
		}
	}
	if r := read.Load(); r > 25+10*4+10 {
		t.Fatalf("read %d items to yield 25 with 4 chunks of 10 in flight", r)
	}
}

func TestImapUnorderedCoversEveryIndex(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 4, addr)
	p := newPool(t, slowSquare.Name(), 4, addr)
	seen := make([]bool, 2000)
	for r, err := range pool.ImapUnordered(testenv.Context(t), p, slowSquare, seq(2000), pool.Chunksize(50)) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[r.Index] || r.Value != int64(r.Index)*int64(r.Index) {
			t.Fatalf("result %+v (seen before: %v)", r, seen[r.Index])
		}
		seen[r.Index] = true
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("index %d missing", i)
		}
	}
}

func seq(n int) iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for i := range n {
			if !yield(int64(i)) {
				return
			}
		}
	}
}

func TestWorkerProcessKilledMidMap(t *testing.T) {
	addr := gearmand(t)
	victim := startWorkerProcess(t, 2, addr)
	startWorkerProcess(t, 2, addr)
	p := newPool(t, slowSquare.Name(), 4, addr)
	const n = 3000 // 2ms each over 4 slots: about 1.5s
	errc := make(chan error, 1)
	var got []int64
	killed := make(chan struct{})
	go func() {
		var err error
		got, err = pool.Map(testenv.Context(t), p, slowSquare, ints(n), pool.Chunksize(25), pool.Progress(func(done, total int) {
			if done >= n/4 {
				select {
				case <-killed:
				default:
					victim.Process.Signal(syscall.SIGKILL)
					close(killed)
				}
			}
		}))
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	default:
		t.Fatal("the map finished before a worker was killed")
	}
	for i, v := range got {
		if v != int64(i)*int64(i) {
			t.Fatalf("result %d = %d", i, v)
		}
	}
}

func TestTwoJobServersOneStopped(t *testing.T) {
	a, b := testenv.Gearmand(t), testenv.Gearmand(t)
	startWorker(t, 4, a.Addr(), b.Addr())
	p := newPool(t, slowSquare.Name(), 4, a.Addr(), b.Addr())
	const n = 3000
	var stopped atomic.Bool
	got, err := pool.Map(testenv.Context(t), p, slowSquare, ints(n), pool.Chunksize(20), pool.Progress(func(done, total int) {
		if done >= n/3 && stopped.CompareAndSwap(false, true) {
			a.Stop()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !stopped.Load() {
		t.Fatal("the map finished before a job server was stopped")
	}
	for i, v := range got {
		if v != int64(i)*int64(i) {
			t.Fatalf("result %d = %d", i, v)
		}
	}
}

func TestImapMemoryStaysBounded(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, funcs.Square.Name(), 2, addr)
	n := 10_000_000
	if testing.Short() {
		n = 1_000_000 // the race detector makes 10M items take minutes
	}
	var peak uint64
	var ms runtime.MemStats
	count := 0
	for v, err := range pool.Imap(testenv.Context(t), p, funcs.Square, seq(n), pool.Chunksize(10_000), pool.Window(4)) {
		if err != nil {
			t.Fatal(err)
		}
		if int64(count)*int64(count) != v {
			t.Fatalf("result %d = %d", count, v)
		}
		count++
		if count%500_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if count != n {
		t.Fatalf("%d results, want %d", count, n)
	}
	// 4 chunks of 10k int64s in flight are well under a megabyte each way;
	// a map that held its input or output would need n*8 bytes and more.
	if limit := uint64(64 << 20); peak > limit {
		t.Fatalf("heap in use peaked at %d MiB over %d items", peak>>20, n)
	}
	t.Logf("%d items, heap in use peaked at %.1f MiB", n, float64(peak)/(1<<20))
}

func TestBadOptionsAndConfig(t *testing.T) {
	addr := gearmand(t)
	p := newPool(t, "", 0, addr)
	for _, opt := range []pool.MapOption{pool.Chunksize(-1), pool.Retries(-1), pool.Window(-2), pool.TaskTimeout(-time.Second)} {
		if _, err := pool.Map(testenv.Context(t), p, funcs.Square, []int64{1}, opt); err == nil {
			t.Errorf("option accepted: %T", opt)
		}
	}
	if _, err := pool.FromConfigFile("/nonexistent/glimpse.ini"); err == nil || !strings.Contains(err.Error(), "/nonexistent/glimpse.ini") {
		t.Fatalf("missing file: %v", err)
	}
	bad := t.TempDir() + "/bad.ini"
	if err := writeFile(bad, "[client]\njob_server_url = 127.0.0.1:notaport\n"); err != nil {
		t.Fatal(err)
	}
	_, err := pool.FromConfigFile(bad)
	if err == nil || !strings.Contains(err.Error(), "bad.ini") || !strings.Contains(err.Error(), "job_server_url") {
		t.Fatalf("bad port: %v", err)
	}
}

func TestRegisterPanicsOnBadNames(t *testing.T) {
	for _, name := range []string{"", "has space", "slash/y", strings.Repeat("x", 201), "examples.square"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			pool.Register(name, func(context.Context, int) (int, error) { return 0, nil })
		}()
	}
}

func TestMapFailsWhenEveryWorkerIsGone(t *testing.T) {
	addr := gearmand(t)
	victim := startWorkerProcess(t, 1, addr)
	p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithNoWorkersGrace(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSlots(t, p, sleepy.Name(), 1)
	ctx := testenv.Context(t)
	errc := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, p, sleepy, []time.Duration{time.Hour, time.Hour}, pool.Chunksize(1))
		errc <- err
	}()
	// Kill the only worker once it holds a chunk.
	testenv.Eventually(t, ctx, "the worker to hold a chunk", func() (bool, error) {
		st, err := gearmantest.FunctionStatus(ctx, addr, "glimpse.test.sleepy")
		return err == nil && st.Running > 0, err
	})
	victim.Process.Signal(syscall.SIGKILL)
	if err := <-errc; !errors.Is(err, pool.ErrNoWorkers) || !strings.Contains(err.Error(), "none left") {
		t.Fatalf("err = %v, want ErrNoWorkers once the only worker died", err)
	}
}

// A Chunksize(1) map with the default Window keeps enough one-item chunks
// at the job server that the slots never wait a round trip for their next
// job: far more than twice the slots plus two.
func TestTinyChunksDefaultWindowKeepsQueueFull(t *testing.T) {
	srv := testenv.Gearmand(t)
	addr := srv.Addr()
	startWorker(t, 2, addr)
	p := newPool(t, sleepy.Name(), 2, addr)
	ctx, cancel := context.WithCancel(testenv.Context(t))
	items := make([]time.Duration, 300)
	for i := range items {
		items[i] = 20 * time.Millisecond
	}
	errc := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, p, sleepy, items, pool.Chunksize(1))
		errc <- err
	}()
	// The map takes 3s; 2*slots+2 = 6 chunks would never get there.
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	testenv.Eventually(t, waitCtx, "more than 64 one-item chunks at the job server", func() (bool, error) {
		st, err := gearmantest.FunctionStatus(waitCtx, addr, "glimpse.test.sleepy")
		return err == nil && st.Queued > 64, err
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
