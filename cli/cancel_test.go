package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// blockOnCtx runs in the worker processes (its name sorts after the
// example functions, which TestWorkerCommandErrors lists): an item ending in 9 returns at
// once, one ending in 8 fails after 300ms, any other prints "blocking X",
// blocks until its context is cancelled, then prints "unblocked X".
var blockOnCtx = pool.Register("test.blockonctx", func(ctx context.Context, x int) (int, error) {
	switch x % 10 {
	case 9:
		return x, nil
	case 8:
		time.Sleep(300 * time.Millisecond)
		return 0, fmt.Errorf("item %d fails", x)
	}
	fmt.Printf("blocking %d\n", x)
	<-ctx.Done()
	fmt.Printf("unblocked %d\n", x)
	return 0, ctx.Err()
})

// Every early end of a map cancels the context of its chunks running on
// a worker process, within a second or so, and frees their slots.
func TestEarlyEndCancelsRunningChunks(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	w := startProc(t, "-c", cfg, "worker", "-n", "3")
	waitWorker(t, ctx, srv.Addr(), wire.GearmanPrefix+blockOnCtx.Name())
	newPool := func() *pool.Pool {
		pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pl.Close() })
		return pl
	}
	pl := newPool()
	// runEarlyEnd maps over items, ends the map with end once the items
	// that block are running, and checks the map's error.
	runEarlyEnd := func(name string, pl *pool.Pool, items []int, end func(cancel context.CancelFunc), check func(error) bool) {
		t.Helper()
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := pool.Map(mctx, pl, blockOnCtx, items, pool.Chunksize(1))
			errc <- err
		}()
		waitBlocking(t, ctx, w, items)
		ended := time.Now()
		end(cancel)
		if err := <-errc; !check(err) {
			t.Fatalf("%s: the map returned %v", name, err)
		}
		waitUnblocked(t, ctx, w, name, ended, items)
	}
	runEarlyEnd("context cancelled", pl, []int{0, 1},
		func(cancel context.CancelFunc) { cancel() },
		func(err error) bool { return errors.Is(err, context.Canceled) })
	runEarlyEnd("first error", pl, []int{10, 11, 18}, func(context.CancelFunc) {},
		func(err error) bool { var te *pool.TaskError; return errors.As(err, &te) && te.Index == 2 })
	closing := newPool()
	runEarlyEnd("Pool.Close", closing, []int{20, 21}, func(context.CancelFunc) { closing.Close() },
		func(err error) bool { return errors.Is(err, pool.ErrClosed) })

	// Breaking out of Imap.
	var ended time.Time
	for _, err := range pool.Imap(ctx, pl, blockOnCtx, seqOf(39, 30, 31), pool.Chunksize(1)) {
		if err != nil {
			t.Fatal(err)
		}
		waitBlocking(t, ctx, w, []int{30, 31})
		ended = time.Now()
		break
	}
	waitUnblocked(t, ctx, w, "early break", ended, []int{30, 31})

	// The three slots are free for the next map.
	checkSquares(t, ctx, pl)
}

func seqOf(xs ...int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for _, x := range xs {
			if !yield(x) {
				return
			}
		}
	}
}

// waitBlocking waits until the worker runs the blocking ones of items.
func waitBlocking(t *testing.T, ctx context.Context, w *proc, items []int) {
	t.Helper()
	for _, x := range items {
		if x%10 < 8 {
			w.stdout.WaitFor(t, ctx, fmt.Sprintf("blocking %d\n", x), w.done)
		}
	}
}

// waitUnblocked checks that the blocking ones of items saw their context
// cancelled within 3s of the map's end (the cancel takes a round trip or
// two; 3s leaves slack for a loaded machine).
func waitUnblocked(t *testing.T, ctx context.Context, w *proc, what string, ended time.Time, items []int) {
	t.Helper()
	wctx, cancel := context.WithDeadline(ctx, ended.Add(3*time.Second))
	defer cancel()
	for _, x := range items {
		if x%10 >= 8 {
			continue
		}
		line := fmt.Sprintf("unblocked %d\n", x)
		if _, err := w.stdout.Await(wctx, func(out string) bool { return strings.Contains(out, line) }, w.done); err != nil {
			t.Fatalf("%s: item %d still running on the worker %v after the map ended (%v); output:\n%s",
				what, x, time.Since(ended).Round(time.Millisecond), err, w.stdout)
		}
	}
}

// A worker refuses the chunks of a map it was told to cancel, without
// running them, until the command expires.
func TestCancelledMapChunksAreRefused(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	startProc(t, "-c", cfg, "worker", "-n", "1")
	info := waitWorker(t, ctx, srv.Addr(), wire.GearmanPrefix+blockOnCtx.Name())
	workerID := info.ClientID[strings.LastIndex(info.ClientID, "/")+1:]

	const mapID = "00112233aabbccdd"
	cmd := pool.NewCommand(pool.CommandCancel, time.Minute)
	cmd.Map = mapID
	payload, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, ctx, srv.Addr())
	if _, err := c.SubmitBackground(ctx, wire.CommandTopic+"_"+workerID, payload); err != nil {
		t.Fatal(err)
	}
	n := 0
	testenv.Eventually(t, ctx, "a chunk of the cancelled map to be refused", func() (bool, error) {
		n++
		_, err := c.Call(ctx, wire.GearmanPrefix+blockOnCtx.Name(), []byte("not even a chunk"), gearman.WithUnique(fmt.Sprintf("%s-%d", mapID, n)))
		return err != nil && strings.Contains(err.Error(), "map was cancelled"), nil
	})
	// Another map's chunk still runs.
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	if got, err := pool.Map(ctx, pl, blockOnCtx, []int{9}); err != nil || got[0] != 9 {
		t.Fatalf("another map: %v, %v", got, err)
	}
}
