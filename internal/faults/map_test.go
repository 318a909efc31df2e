package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// TestWorkerKilledHoldingChunk: a worker process is SIGKILLed while it
// holds a chunk. gearmand gives the chunk to another worker and the map
// completes; the held chunk's results come from a surviving process.
func TestWorkerKilledHoldingChunk(t *testing.T) {
	c := newCluster(t, Setup{})
	ctx := c.ctx
	holdFile := filepath.Join(t.TempDir(), "held")
	holder := c.worker(t, 1, holdEnv+"="+holdFile)
	others := []*proc{c.worker(t, 2), c.worker(t, 2)}
	p := c.pool(t)

	const chunk = 20
	items := ints(0, 2000)
	m := startMap(ctx, p, square, items, pool.Chunksize(chunk))
	// The holder writes the first item of its chunk, then holds it.
	var heldItem int
	testenv.Eventually(t, ctx, "the holder to take a chunk", func() (bool, error) {
		select {
		case <-m.done:
			t.Fatalf("the map ended (%v) before the holder took a chunk", m.err)
		default:
		}
		data, err := os.ReadFile(holdFile)
		if err != nil {
			return false, err
		}
		heldItem, err = strconv.Atoi(string(data))
		return err == nil, err
	})
	holder.kill(t, ctx)

	got, err := m.wait(t, ctx)
	byPID := checkSquares(t, items, got, err)
	if byPID[holder.pid()] != 0 {
		t.Errorf("the killed holder computed %d items", byPID[holder.pid()])
	}
	start := heldItem / chunk * chunk
	for i := start; i < start+chunk; i++ {
		if pid := got[i].PID; pid != others[0].pid() && pid != others[1].pid() {
			t.Fatalf("item %d of the held chunk was computed by pid %d, not by a surviving worker", i, pid)
		}
	}
	t.Logf("the holder held items %d-%d; done by %v", start, start+chunk-1, byPID)
	c.shutdown(t)
}

// TestAllWorkersKilledMidMap: every worker process is SIGKILLed while the
// map runs; its chunks wait in gearmand until new worker processes start,
// and the map, whose no-workers grace is long enough, completes.
func TestAllWorkersKilledMidMap(t *testing.T) {
	c := newCluster(t, Setup{})
	ctx := c.ctx
	old := []*proc{c.worker(t, 2), c.worker(t, 2)}
	p := c.pool(t, pool.WithNoWorkersGrace(time.Minute))

	items := ints(0, 3000)
	m := startMap(ctx, p, square, items, pool.Chunksize(20))
	m.waitItems(t, ctx, len(items)/4)
	for _, w := range old {
		w.kill(t, ctx)
	}
	// A real outage: no worker left, chunks still queued, map still running.
	addr := c.servers[0].Addr()
	testenv.Eventually(t, ctx, "gearmand to see every worker gone", func() (bool, error) {
		ids, err := workerIDs(ctx, addr)
		return err == nil && len(ids) == 0, err
	})
	st, err := gearmantest.FunctionStatus(ctx, addr, wire.GearmanPrefix+square.Name())
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued == 0 {
		t.Fatalf("no chunk queued while the workers are gone: %+v", st)
	}
	select {
	case <-m.done:
		t.Fatalf("the map returned (%v) while its chunks had no worker", m.err)
	default:
	}

	fresh := []*proc{c.worker(t, 2), c.worker(t, 2)}
	got, err := m.wait(t, ctx)
	byPID := checkSquares(t, items, got, err)
	oldItems := byPID[old[0].pid()] + byPID[old[1].pid()]
	freshItems := byPID[fresh[0].pid()] + byPID[fresh[1].pid()]
	if oldItems == 0 || freshItems == 0 || oldItems+freshItems != len(items) {
		t.Errorf("items by the killed workers %d, by the new ones %d, of %d", oldItems, freshItems, len(items))
	}
	c.shutdown(t)
}

// TestGearmandRestartMidMap: gearmand is stopped and started again on the
// same port while a map runs, losing every queued and running job. The
// client's lost jobs are resubmitted (pool retries cover
// ErrConnectionLost), the workers reconnect, and the map completes.
func TestGearmandRestartMidMap(t *testing.T) {
	c := newCluster(t, Setup{})
	ctx := c.ctx
	workers := []*proc{c.worker(t, 2), c.worker(t, 2)}
	p := c.pool(t)

	items := ints(0, 3000)
	m := startMap(ctx, p, square, items, pool.Chunksize(20))
	m.waitItems(t, ctx, len(items)/4)
	gd := c.servers[0]
	before := gd.Pid()
	if err := gd.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if gd.Pid() == before {
		t.Fatal("gearmand kept its pid across Restart")
	}
	done := m.items.Load()

	got, err := m.wait(t, ctx)
	byPID := checkSquares(t, items, got, err)
	if done >= int64(len(items)) {
		t.Fatalf("the map was over (%d items) before gearmand came back", done)
	}
	// The same worker processes serve the new gearmand.
	for _, w := range workers {
		c.waitRegistered(t, w)
	}
	t.Logf("%d items were done when gearmand restarted; by pid: %v", done, byPID)
	c.shutdown(t)
}

// TestJobServerLostForGood: the cluster has two job servers and one is
// SIGKILLed mid-map, never to return. Its chunks are resubmitted to the
// other one, whose workers finish the map.
func TestJobServerLostForGood(t *testing.T) {
	c := newCluster(t, Setup{JobServers: 2})
	ctx := c.ctx
	c.worker(t, 2)
	c.worker(t, 2)
	p := c.pool(t)

	items := ints(0, 3000)
	m := startMap(ctx, p, square, items, pool.Chunksize(20))
	m.waitItems(t, ctx, len(items)/4)
	// Chunks go to both servers (by a hash of their unique id).
	lost := c.servers[1]
	st, err := gearmantest.FunctionStatus(ctx, lost.Addr(), wire.GearmanPrefix+square.Name())
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued == 0 {
		t.Fatalf("%s holds no chunk to lose: %+v", lost.Addr(), st)
	}
	if err := lost.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s holding %+v", lost.Addr(), st)

	got, err := m.wait(t, ctx)
	checkSquares(t, items, got, err)
	// The next map runs on the server that is left.
	items = ints(5000, 400)
	got, err = pool.Map(ctx, p, square, items, pool.Chunksize(20))
	checkSquares(t, items, got, err)
	c.shutdown(t)
}

// TestPoisonItemPanics: an item whose function panics every time fails
// the map after Retries+1 attempts with a *TaskError naming it; the
// panics cost no worker process.
func TestPoisonItemPanics(t *testing.T) {
	c := newCluster(t, Setup{})
	ctx := c.ctx
	poisonLog := filepath.Join(t.TempDir(), "poison")
	workers := []*proc{c.worker(t, 2, poisonLogEnv+"="+poisonLog), c.worker(t, 2, poisonLogEnv+"="+poisonLog)}
	ids, err := workerIDs(ctx, c.servers[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	p := c.pool(t)

	const retries = 2
	_, err = pool.Map(ctx, p, poisonPanic, ints(0, 1000), pool.Chunksize(10), pool.Retries(retries), pool.RetryTaskErrors())
	var te *pool.TaskError
	if !errors.As(err, &te) {
		t.Fatalf("map error %v (%T), want a *pool.TaskError", err, err)
	}
	if te.Index != poisonPanicItem || !te.Panic || te.Func != poisonPanic.Name() ||
		!strings.Contains(te.Message, fmt.Sprint("poison item ", poisonPanicItem)) || te.Stack == "" {
		t.Fatalf("task error %+v, want a panic of item %d with its stack", te, poisonPanicItem)
	}
	if ids[workers[0].pid()] != te.Worker && ids[workers[1].pid()] != te.Worker {
		t.Errorf("task error names worker %q, not one of %v", te.Worker, ids)
	}
	if attempts := readLines(t, poisonLog); len(attempts) != retries+1 {
		t.Errorf("the poison item ran %d times (pids %v), want %d", len(attempts), attempts, retries+1)
	}

	// No worker process was lost: all still registered, all slots there.
	for _, w := range workers {
		if !w.running() {
			t.Fatalf("%s exited: %v", w, w.cmd.ProcessState)
		}
	}
	if slots, err := p.WorkerSlots(ctx, poisonPanic.Name()); slots != 4 || err != nil {
		t.Fatalf("%d worker slots (%v), want 4", slots, err)
	}
	items := ints(0, 400)
	got, err := pool.Map(ctx, p, square, items, pool.Chunksize(10))
	checkSquares(t, items, got, err)
	c.shutdown(t)
}

// TestPoisonItemKillsWorker: an item that kills its worker process every
// time. Workers announce each chunk they start, so the pool sees the
// chunk go from worker to worker and fails the map with ErrCrashLoop
// after Retries+1 starts, whether or not gearmand gives up on its own
// (--job-retries); it does not kill workers forever. The test restarts
// dead workers as a supervisor would, and the cluster serves the next
// map.
func TestPoisonItemKillsWorker(t *testing.T) {
	t.Run("gearmand retries forever", func(t *testing.T) { testPoisonItemKillsWorker(t) })
	t.Run("gearmand --job-retries=3", func(t *testing.T) { testPoisonItemKillsWorker(t, "--job-retries=3") })
}

func testPoisonItemKillsWorker(t *testing.T, gearmandArgs ...string) {
	const retries = 1
	c := newCluster(t, Setup{GearmandArgs: gearmandArgs})
	ctx := c.ctx
	poisonLog := filepath.Join(t.TempDir(), "poison")
	env := poisonLogEnv + "=" + poisonLog

	// One slot each, so a worker that dies holds only the poison chunk.
	exited := make(chan *proc, 64)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	supervise := func(w *proc) {
		go func() {
			<-w.done
			select {
			case exited <- w:
			case <-stop:
			}
		}()
	}
	for range 2 {
		supervise(c.worker(t, 1, env))
	}
	p := c.pool(t)
	m := startMap(ctx, p, poisonExit, ints(0, 200), pool.Chunksize(10), pool.Retries(retries))

	deaths := 0
	restart := func(w *proc) {
		t.Helper()
		if code := w.cmd.ProcessState.ExitCode(); code != poisonExitCode {
			t.Fatalf("%s died with %v, not of the poison; stderr:\n%s", w, w.cmd.ProcessState, w.stderr)
		}
		deaths++
		// Not c.worker: the new one may take the poison before it shows
		// in the admin listing.
		supervise(c.start(t, []string{env}, "worker", "-n", "1"))
	}
	for m.running() {
		select {
		case w := <-exited:
			restart(w)
		case <-m.done:
		case <-ctx.Done():
			t.Fatalf("the map did not end after %d worker deaths", deaths)
		}
	}
	_, err := m.wait(t, ctx)
	if err == nil {
		t.Fatal("the map with a poison item succeeded")
	}
	first := poisonExitItem / 10 * 10
	span := fmt.Sprintf("items %d-%d", first, first+9)
	if !errors.Is(err, pool.ErrCrashLoop) || !strings.Contains(err.Error(), span) || !strings.Contains(err.Error(), poisonExit.Name()) {
		t.Fatalf("map error %q, want ErrCrashLoop naming %s and %s", err, poisonExit.Name(), span)
	}
	// Retries+1 workers died of it; the map stopped at the next start.
	// That worker dies of it too, and gearmand drops the chunk, whose
	// client has left, when the next worker grabs it (or at once, after
	// --job-retries); one more worker may have grabbed it meanwhile.
	addr, fn := c.servers[0].Addr(), wire.GearmanPrefix+poisonExit.Name()
	testenv.Eventually(t, ctx, "the poison chunk to be gone and its dead replaced", func() (bool, error) {
		for drained := false; !drained; {
			select {
			case w := <-exited:
				restart(w)
			default:
				drained = true
			}
		}
		st, err := gearmantest.FunctionStatus(ctx, addr, fn)
		runs := readLines(t, poisonLog)
		return err == nil && st.Queued == 0 && len(runs) >= retries+2 && deaths == len(runs), err
	})
	runs := readLines(t, poisonLog)
	t.Logf("map error: %v; the poison item ran %d times", err, len(runs))
	if len(runs) > retries+3 {
		t.Fatalf("the poison item ran %d times, want %d or %d", len(runs), retries+2, retries+3)
	}

	// With the dead replaced, the cluster serves a normal map.
	c.mu.Lock()
	procs := slices.Clone(c.procs)
	c.mu.Unlock()
	live := 0
	for _, w := range procs {
		if w.running() {
			c.waitRegistered(t, w)
			live++
		}
	}
	if live != 2 {
		t.Fatalf("%d workers running, want 2", live)
	}
	items := ints(0, 400)
	got, err := pool.Map(ctx, p, square, items, pool.Chunksize(10))
	checkSquares(t, items, got, err)
	select {
	case w := <-exited:
		t.Fatalf("%s died during the normal map: %v", w, w.cmd.ProcessState)
	default:
	}
	c.shutdown(t)
}
