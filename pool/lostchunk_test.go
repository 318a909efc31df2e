package pool_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// gatedItem is an item of gated: Hold makes it wait for its test's gate.
type gatedItem struct {
	Test string
	X    int
	Hold bool
}

// gates are the tests' gates: a held item announces itself on started
// and waits until release is closed.
var gates sync.Map // test name -> *gate

type gate struct {
	started, release chan struct{}
	runs             [2]atomic.Int32 // executions of items 0 and 1
}

var gated = pool.Register("losttest.gated", func(ctx context.Context, it gatedItem) (int, error) {
	g, _ := gates.Load(it.Test)
	gt := g.(*gate)
	gt.runs[it.X].Add(1)
	if it.Hold {
		gt.started <- struct{}{}
		select {
		case <-gt.release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return it.X * 10, nil
})

// lostChunkMap runs a map of two one-item chunks on a one-slot worker:
// chunk 0 holds the slot while chunk 1 waits in gearmand's queue, where
// the admin command "cancel job" cancels it, as anyone who reaches the
// admin port can. gearmand sends WORK_FAIL; the map resubmits the chunk
// with the same unique id, which joins the cancelled job, and gearmand
// drops that job, with no word to anyone, when the worker next asks for
// work. It returns the map's outcome and the cancelled job's handle.
func lostChunkMap(t *testing.T, opts ...pool.MapOption) ([]int, error, gearman.JobHandle, *gate) {
	addr := gearmand(t)
	startWorker(t, 1, addr)
	p := newPool(t, gated.Name(), 1, addr)
	g := &gate{started: make(chan struct{}, 1), release: make(chan struct{})}
	gates.Store(t.Name(), g)
	t.Cleanup(func() { gates.Delete(t.Name()) })
	ctx := testenv.ContextWithin(t, 30*time.Second)

	type result struct {
		out []int
		err error
	}
	done := make(chan result, 1)
	go func() {
		items := []gatedItem{{t.Name(), 0, true}, {t.Name(), 1, false}}
		out, err := pool.Map(ctx, p, gated, items, append(opts, pool.Chunksize(1))...)
		done <- result{out, err}
	}()
	<-g.started
	admin, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	queued := waitQueuedChunk(t, ctx, admin)
	if err := admin.CancelJob(ctx, queued); err != nil {
		t.Fatal(err)
	}
	// Let the map hear the WORK_FAIL and resubmit (after 50ms) before the
	// worker asks for work again: the order the lost chunk needs.
	time.Sleep(500 * time.Millisecond)
	close(g.release)
	select {
	case r := <-done:
		return r.out, r.err, gearman.JobHandle{Server: addr, Handle: queued}, g
	case <-time.After(20 * time.Second):
		t.Fatalf("the map hangs 20s after chunk 1 (job %s) was cancelled at the job server", queued)
	}
	return nil, nil, gearman.JobHandle{}, nil
}

// waitQueuedChunk returns the handle of chunk 1's job, the later of the
// map's two: gearmand numbers handles in order, and the map submits its
// chunks in input order.
func waitQueuedChunk(t *testing.T, ctx context.Context, admin *gearman.Admin) string {
	var handles []string
	testenv.Eventually(t, ctx, "both chunks at gearmand", func() (bool, error) {
		jobs, err := admin.Jobs(ctx)
		handles = handles[:0]
		for _, j := range jobs {
			handles = append(handles, j.Handle)
		}
		return len(handles) == 2, err
	})
	seq := func(h string) int {
		n, _ := strconv.Atoi(h[strings.LastIndexByte(h, ':')+1:])
		return n
	}
	return slices.MaxFunc(handles, func(a, b string) int { return seq(a) - seq(b) })
}

func TestMapResubmitsChunkCancelledAtJobServer(t *testing.T) {
	out, err, _, g := lostChunkMap(t, pool.Retries(2), pool.CheckSilentChunks(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 10}; !slices.Equal(out, want) {
		t.Fatalf("Map = %v; want %v", out, want)
	}
	if n := g.runs[1].Load(); n != 1 {
		t.Errorf("item 1 ran %d times; want once (the cancelled job never runs)", n)
	}
}

func TestMapFailsWithChunkLostError(t *testing.T) {
	// Retries(1): the WORK_FAIL of the cancel takes the one retry, and
	// the resubmitted copy is the one gearmand drops.
	_, err, h, _ := lostChunkMap(t, pool.Retries(1), pool.CheckSilentChunks(200*time.Millisecond))
	var le *pool.ChunkLostError
	if !errors.As(err, &le) {
		t.Fatalf("Map error = %v; want a *pool.ChunkLostError", err)
	}
	want := pool.ChunkLostError{Func: gated.Name(), Chunk: 1, First: 1, Last: 1, Server: h.Server, Handle: h.Handle}
	if *le != want {
		t.Fatalf("ChunkLostError = %+v; want %+v", *le, want)
	}
	for _, s := range []string{"chunk 1 (items 1-1)", h.Server, h.Handle, "cancel job"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}
