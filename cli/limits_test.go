package cli

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// stuckItem prints "stuck ITEM", then blocks forever, ignoring its
// context: a 16-byte item that pinned its slot for good.
var stuckItem = pool.Register("test.stuck", func(ctx context.Context, item string) (string, error) {
	fmt.Printf("stuck %s\n", item)
	select {}
})

// exitName is a function of the child workers (see childMain) that
// appends its pid to the file its job's data names, then exits the
// process. Its jobs carry raw bytes.
const exitName = "clustertest.exit"

var limitFuncs = []wire.Function{
	fakeFunc{FuncName: exitName, Run: func(ctx context.Context, payload []byte, _ string) ([]byte, error) {
		f, err := os.OpenFile(string(payload), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			fmt.Fprintln(f, os.Getpid())
			f.Close()
		}
		os.Exit(3) // as an OOM kill or a fatal error would
		return nil, nil
	}},
}

// int64Chunk is a chunk for examples.square (In and Out int64) as a
// client would send it.
func int64Chunk(t *testing.T, items []int64) []byte {
	t.Helper()
	data, err := wire.Encode(wire.ChunkRequest[int64]{InType: "int64", OutType: "int64", Items: items})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// zerosChunk is a chunk of n 1-byte ints (zeros) for a function of
// int64 to out, written by hand: wire.Encode takes long under -race.
func zerosChunk(out string, n int) []byte {
	data := append([]byte("\x02\x95\x00\x00\xa5int64"), byte(0xa0+len(out)))
	data = append(append(data, out...), 0xdd)
	data = binary.BigEndian.AppendUint32(data, uint32(n))
	return append(data, make([]byte, n)...)
}

// filled returns n items of value v (1-byte ints for v < 128, 9-byte
// ones for v >= 1<<32).
func filled(n int, v int64) []int64 {
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = v
	}
	return xs
}

// taskErrorOf returns the task error that a worker sent back for a job.
func taskErrorOf(t *testing.T, what string, err error) *pool.TaskError {
	t.Helper()
	var ex *gearman.JobException
	if !errors.As(err, &ex) {
		t.Fatalf("%s: %v; want a *gearman.JobException from the worker", what, err)
	}
	var te pool.TaskError
	if err := wire.Decode(ex.Data, &te); err != nil {
		t.Fatalf("%s: exception %q is not an encoded task error: %v", what, ex.Data, err)
	}
	return &te
}

// vmHWM is the peak resident memory of a process, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestWorkerRefusesChunksOverItsLimits: a worker process refuses a chunk
// over max_chunk_bytes, max_chunk_items or max_expansion with a task
// error naming the limit, the chunk and the function, before decoding
// it, and serves the next map.
func TestWorkerRefusesChunksOverItsLimits(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[worker]",
		"max_chunk_bytes = 1048576", "max_chunk_items = 400000", "max_expansion = 4")
	startProc(t, "-c", cfg, "worker", "-n", "2")
	info := waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square")
	workerID := strings.TrimPrefix(info.ClientID, "glimpse/2/")

	c := newClient(t, ctx, srv.Addr())
	for _, tc := range []struct {
		name, limit, want string
		payload           []byte
	}{
		// 150,000 9-byte ints: 1.35 MB.
		{"bytes", wire.LimitChunkBytes, "is over the worker's max_chunk_bytes (1048576)", int64Chunk(t, filled(150_000, 1<<40))},
		{"items", wire.LimitChunkItems, "a chunk of 450000 items is over the worker's max_chunk_items (400000)", int64Chunk(t, filled(450_000, 1))},
		// 300 KB that would be 4.8 MB of []int64, over 4x (and 4 MiB).
		{"expansion", wire.LimitExpansion, "would allocate about 4800000 bytes (16x), over the worker's max_expansion", int64Chunk(t, filled(300_000, 1))},
	} {
		task, err := c.Submit(ctx, "glimpse.examples.square", tc.payload)
		if err != nil {
			t.Fatal(err)
		}
		_, err = task.Wait(ctx)
		te := taskErrorOf(t, tc.name, err)
		if te.Limit != tc.limit || te.Func != "examples.square" || te.Worker != workerID || te.Index != -1 ||
			!strings.Contains(te.Message, tc.want) || !strings.Contains(te.Message, task.Handle().Handle) {
			t.Errorf("%s: %+v; want a task error of worker %s naming %s, job %s and %q", tc.name, te, workerID, tc.limit, task.Handle().Handle, tc.want)
		}
		t.Logf("%s: %v", tc.name, te)
	}
	// Within every limit: served.
	res, err := c.Call(ctx, "glimpse.examples.square", int64Chunk(t, filled(200_000, 3)))
	var out wire.ChunkResult[int64]
	if err != nil || wire.Decode(res, &out) != nil || len(out.Items) != 200_000 || out.Items[0] != 9 {
		t.Fatalf("a chunk within the limits: %d results, %v", len(out.Items), err)
	}
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	// A map gets the refusal as a *pool.TaskError naming the limit.
	_, err = pool.Map(ctx, pl, funcs.Square, filled(450_000, 1), pool.Chunksize(450_000))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Limit != wire.LimitChunkItems || !strings.Contains(err.Error(), "max_chunk_items") {
		t.Fatalf("a map of a chunk over max_chunk_items: %v; want a *pool.TaskError naming the limit", err)
	}
	checkSquares(t, ctx, pl)
}

// TestWorkerRefusesHugeBackgroundJob is the attack: one 60 MB
// background job of 1-byte ints took a worker from 24 MB to 1.5 GB. With
// the default limits it is refused (60 million items) and the worker's
// peak memory stays under 400 MB: the payload itself and a copy or two.
// A worker whose max_chunk_bytes is below the job does not even read it
// (peak under 150 MB).
func TestWorkerRefusesHugeBackgroundJob(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	srv := testenv.Gearmand(t)
	defaults := startProc(t, "-c", writeConfig(t, []string{srv.Addr()}), "worker", "-n", "1", "-f", "examples.hex")
	small := startProc(t, "-c", writeConfig(t, []string{srv.Addr()}, "[worker]", "max_chunk_bytes = 1048576"),
		"worker", "-n", "1", "-f", "examples.square")
	waitWorker(t, ctx, srv.Addr(), "glimpse.examples.hex")
	waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square")

	c := newClient(t, ctx, srv.Addr())
	for _, tc := range []struct {
		proc          *proc
		function, out string
		bound         int64
		log           string
	}{
		{defaults, "glimpse.examples.hex", "string", 400 << 20, "a chunk of 60000000 items is over the worker's max_chunk_items (1000000)"},
		{small, "glimpse.examples.square", "int64", 150 << 20, "is over the worker's max_chunk_bytes (1048576)"},
	} {
		if _, err := c.SubmitBackground(ctx, tc.function, zerosChunk(tc.out, 60_000_000)); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, ctx, tc.function+"'s queue empty", func() (bool, error) {
			return functionStatusOf(t, ctx, srv.Addr(), tc.function).Queued == 0, nil
		})
		hwm := vmHWM(t, tc.proc.cmd.Process.Pid)
		t.Logf("%s: worker peak RSS %d MB", tc.function, hwm>>20)
		if hwm > tc.bound {
			t.Errorf("%s: the worker's peak RSS is %d MB, over %d MB", tc.function, hwm>>20, tc.bound>>20)
		}
		tc.proc.stderr.WaitFor(t, ctx, tc.log, tc.proc.done)
	}
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	checkSquares(t, ctx, pl)
	hexes, err := pool.Map(ctx, pl, funcs.Hex, []int64{255, 16})
	if err != nil || len(hexes) != 2 {
		t.Fatalf("hex after the refusal: %v, %v", hexes, err)
	}
}

// TestChunkTimeLimitReclaimsPinnedSlot: a 16-byte item whose function
// blocks forever, ignoring its context, pinned a worker slot for good.
// With chunk_time_limit the chunk fails with an error naming the limit,
// the worker restarts to get its slot back, and then runs chunks on both
// its slots at once.
func TestChunkTimeLimitReclaimsPinnedSlot(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[worker]", "chunk_time_limit = 1s")
	p := startProc(t, "-c", cfg, "worker", "-n", "2")
	before := waitWorker(t, ctx, srv.Addr(), wire.GearmanPrefix+stuckItem.Name())
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()

	start := time.Now()
	_, err = pool.Map(ctx, pl, stuckItem, []string{"sixteen bytes!!!"})
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Limit != wire.LimitChunkTime || !te.Timeout ||
		!strings.Contains(te.Message, "ran past the worker's chunk_time_limit (1s)") ||
		!strings.Contains(te.Message, "ignored its cancelled context") {
		t.Fatalf("map of a stuck item: %v; want a *pool.TaskError naming chunk_time_limit", err)
	}
	t.Logf("map of a stuck item: %v", err)
	// 1s, then 2s of grace: generous slack for a loaded machine.
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the stuck chunk failed after %v", took)
	}
	p.stderr.WaitFor(t, ctx, "msg=restarting", p.done)
	if now := waitWorker(t, ctx, srv.Addr(), wire.GearmanPrefix+blockName); now.ClientID == before.ClientID {
		t.Fatalf("worker %s serves, want the restarted one", now.ClientID)
	}

	// Both slots run a chunk at once: two held jobs both start.
	c := newClient(t, ctx, srv.Addr())
	var tasks []*gearman.Task
	for _, data := range []string{"one", "two"} {
		task, err := c.Submit(ctx, wire.GearmanPrefix+blockName, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	p.stdout.Wait(t, ctx, "both held jobs running", func(s string) bool {
		return strings.Contains(s, "running one") && strings.Contains(s, "running two")
	}, p.done)
	for range tasks {
		p.release(t)
	}
	for _, task := range tasks {
		if res, err := task.Wait(ctx); err != nil || !strings.HasPrefix(string(res), "done ") {
			t.Fatalf("held job: %q, %v", res, err)
		}
	}
}

// TestCrashGuardFailsBackgroundJobThatKillsWorkers: a background job
// whose function exits the process went to every worker gearmand had,
// forever. Now it kills crash_loop_limit worker processes (each started
// after the last died, as a supervisor would), and the next one fails it
// without running it: gearmand's queue is empty and that worker serves.
func TestCrashGuardFailsBackgroundJobThatKillsWorkers(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	srv := testenv.Gearmand(t)
	const limit = 2
	cfg := writeConfig(t, []string{srv.Addr()}, "[worker]", fmt.Sprintf("crash_loop_limit = %d", limit))
	starts := t.TempDir() + "/starts"
	c := newClient(t, ctx, srv.Addr())
	if _, err := c.SubmitBackground(ctx, wire.GearmanPrefix+exitName, []byte(starts)); err != nil {
		t.Fatal(err)
	}
	var last *proc
	for i := 0; i <= limit; i++ {
		last = startProc(t, "-c", cfg, "worker", "-n", "1")
		if i < limit {
			if code := last.wait(t, ctx); code != 3 {
				t.Fatalf("worker %d exited %d, want 3 (killed by the job); stderr:\n%s", i+1, code, last.stderr)
			}
		}
	}
	last.stderr.WaitFor(t, ctx, "killed 2 worker processes on this host, the workers' crash_loop_limit", last.done)
	testenv.Eventually(t, ctx, "the job gone from gearmand's queue", func() (bool, error) {
		return functionStatusOf(t, ctx, srv.Addr(), wire.GearmanPrefix+exitName).Queued == 0, nil
	})
	data, err := os.ReadFile(starts)
	if n := strings.Count(string(data), "\n"); err != nil || n != limit {
		t.Fatalf("the job ran in %d worker processes (%v), want %d:\n%s", n, err, limit, data)
	}
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	checkSquares(t, ctx, pl)
	select {
	case <-last.done:
		t.Fatalf("the last worker exited; stderr:\n%s", last.stderr)
	default:
	}
}

// TestKeyedLimitRefusalsAreSealed: with a cluster key, a chunk refused
// for a limit, whether read (too many items) or skipped unread (over
// max_chunk_bytes, past the worker's packet limit), comes back as the
// worker's sealed *pool.TaskError naming the limit, not as an answer the
// map would take for a rogue's and resubmit 64 times.
func TestKeyedLimitRefusalsAreSealed(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	srv := testenv.Gearmand(t)
	_, keyFile := testenv.KeyFile(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "key_file = "+keyFile, "[worker]",
		"max_chunk_bytes = 1048576", "max_chunk_items = 400000")
	startProc(t, "-c", cfg, "worker", "-n", "1")
	waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square")
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	for _, tc := range []struct {
		name, limit string
		items       []int64
	}{
		{"unread", wire.LimitChunkBytes, filled(300_000, 1<<40)}, // 2.7 MB: past the packet limit
		{"read", wire.LimitChunkItems, filled(450_000, 1)},
	} {
		_, err := pool.Map(ctx, pl, funcs.Square, tc.items, pool.Chunksize(len(tc.items)))
		var te *pool.TaskError
		if !errors.As(err, &te) || te.Limit != tc.limit || errors.Is(err, pool.ErrForgedResult) {
			t.Errorf("%s: a keyed map over %s: %v; want the worker's *pool.TaskError naming the limit", tc.name, tc.limit, err)
		}
	}
	checkSquares(t, ctx, pl)
}
