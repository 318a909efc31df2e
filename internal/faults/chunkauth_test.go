package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// The attacks of issue 11 on chunks and results: a rogue worker that
// registers a pool function next to the real workers and answers its
// chunks with wrong values, and a client without the key that submits
// chunks of its own.

// countEnv names a file to which counted appends a line per call, so a
// test sees whether the function ran at all.
const countEnv = "FAULTS_COUNT_LOG"

var counted = pool.Register("faults.counted", func(ctx context.Context, x int) (int, error) {
	appendLine(os.Getenv(countEnv), strconv.Itoa(x))
	return x, nil
})

// writeKey writes a fresh cluster key in dir and returns its path.
func writeKey(t *testing.T, dir string) string {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cluster-"+k.ID()+".key")
	if err := k.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// rogue is a Gearman worker without the key, in this process, that
// serves faults.square: it reads each chunk (the key authenticates, it
// does not encrypt), answers wrong squares, or every third chunk a task
// error of its own, and sends start notices naming a worker that does
// not exist, as if the chunk crashed workers.
type rogue struct {
	id   string
	jobs atomic.Int64
}

func startRogue(t *testing.T, addr string) *rogue {
	t.Helper()
	r := &rogue{id: fmt.Sprintf("rogue-%d-%d", os.Getpid(), testenv.FreePort(t))}
	w, err := gearman.NewWorker([]string{addr}, gearman.WithClientID(r.id))
	if err != nil {
		t.Fatal(err)
	}
	w.Register(wire.GearmanPrefix+square.Name(), r.answer)
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	t.Cleanup(func() {
		w.Close()
		<-done
	})
	return r
}

func (r *rogue) answer(ctx context.Context, job *gearman.Job) ([]byte, error) {
	n := r.jobs.Add(1)
	for range 3 {
		job.SendData(wire.ChunkStarted("rogue-notice"))
	}
	var req wire.ChunkRequest[int]
	if err := wire.Decode(job.Data, &req); err != nil && len(job.Data) > auth.FrameOverhead {
		// Sealed: the payload follows the MAC frame.
		if err := wire.Decode(job.Data[auth.FrameOverhead:], &req); err != nil {
			return nil, err
		}
	}
	if n%3 == 0 {
		return nil, &gearman.JobException{Data: []byte("forged failure")}
	}
	wrong := make([]Square, len(req.Items))
	for i, x := range req.Items {
		wrong[i] = Square{X: x, Square: x*x + 1, PID: os.Getpid()}
	}
	return wire.Encode(wire.ChunkResult[Square]{Items: wrong})
}

// startEchoRogue runs the C gearman tool as a worker of faults.square
// that answers each chunk with its own bytes and appends a line per job
// to the file it returns.
func startEchoRogue(t *testing.T, addr string) (jobsFile string, stop func()) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	jobsFile = filepath.Join(t.TempDir(), "echo-jobs")
	cmd := exec.Command("gearman", "-w", "-h", host, "-p", port, "-f", wire.GearmanPrefix+square.Name(),
		"--", "sh", "-c", `echo job >> "$0"; cat`, jobsFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("the C gearman tool (gearman-tools): %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return jobsFile, stop
}

// TestRogueWorkerCannotForgeResults: with a cluster key, two rogue
// workers beside the real ones (one answering wrong squares and forged
// task errors, one echoing the chunks) take chunks, yet all 50 maps
// return the right value for every item: each forged answer fails its
// attempt and the chunk runs again, on a real worker. The pool's log
// names the rogue by its client id.
func TestRogueWorkerCannotForgeResults(t *testing.T) {
	c := newCluster(t, Setup{Key: true})
	ctx := c.ctx
	c.worker(t, 2)
	addr := c.cfg.JobServers[0]
	r := startRogue(t, addr)
	echoJobs, stopEcho := startEchoRogue(t, addr)
	log := testenv.NewOutput()
	p := c.pool(t, pool.WithLogger(slog.New(slog.NewTextHandler(log, nil))))

	for i := range 50 {
		items := ints(i*20, 20)
		got, err := pool.Map(ctx, p, square, items, pool.Chunksize(1+i%5))
		if err != nil {
			t.Fatalf("map %d failed: %v", i, err)
		}
		checkSquares(t, items, got, nil)
	}
	echoed := len(readLines(t, echoJobs))
	if r.jobs.Load() == 0 || echoed == 0 {
		t.Fatalf("the rogues took %d and %d chunks: the test proves nothing", r.jobs.Load(), echoed)
	}
	if !strings.Contains(log.String(), r.id) {
		t.Errorf("the pool's log does not name the rogue %s:\n%s", r.id, log)
	}
	t.Logf("the rogue took %d chunks, the C echo worker %d; every result was right", r.jobs.Load(), echoed)
	stopEcho()
	c.shutdown(t)
}

// TestUnsignedChunkRefused: a worker with the key runs no chunk that a
// key holder did not seal for it, whether it comes unsigned from a Go
// client or from the C gearman tool, or sealed with another key; the
// refusal says why. A pool with the key then runs the function there.
func TestUnsignedChunkRefused(t *testing.T) {
	c := newCluster(t, Setup{Key: true})
	ctx := c.ctx
	calls := filepath.Join(t.TempDir(), "calls")
	w := c.worker(t, 2, countEnv+"="+calls)
	addr := c.cfg.JobServers[0]
	fn := wire.GearmanPrefix + counted.Name()
	in, out := counted.Shapes()
	chunk, err := wire.Encode(wire.ChunkRequest[int]{Items: []int{1, 2, 3}, InType: in, OutType: out})
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	client, err := gearman.NewClient(ctx, []string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"unsigned", "not signed", chunk},
		{"another key", "does not match", other.Seal(auth.PurposeChunk, chunk, []byte(fn), []byte("0123456789abcdef-1"))},
	} {
		_, err := client.Call(ctx, fn, tc.data, gearman.WithUnique("0123456789abcdef-1"))
		var ex *gearman.JobException
		if !errors.As(err, &ex) || !strings.Contains(string(ex.Data), tc.want) {
			t.Errorf("%s chunk: %v, want a refusal saying %q", tc.name, err, tc.want)
		}
	}
	host, port, _ := strings.Cut(addr, ":")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cli := exec.CommandContext(cctx, "gearman", "-t", "1000", "-h", host, "-p", port, "-f", fn)
	cli.Stdin = strings.NewReader(string(chunk))
	cout, _ := cli.CombinedOutput()
	t.Logf("the C gearman client's unsigned chunk: %q", cout)
	if n := len(readLines(t, calls)); n != 0 {
		t.Fatalf("the function ran %d times on chunks without the key (C gearman client said %q)", n, cout)
	}
	if log := w.stderr.String(); !strings.Contains(log, "level=WARN msg=\"chunk refused") ||
		!strings.Contains(log, "function="+fn) || !strings.Contains(log, "job=H:") {
		t.Errorf("the worker did not warn of the refused chunk by function and job:\n%s", log)
	}

	p := c.pool(t)
	got, err := pool.Map(ctx, p, counted, []int{7, 8})
	if err != nil || len(got) != 2 || got[0] != 7 || got[1] != 8 {
		t.Fatalf("a pool with the key: %v, %v", got, err)
	}
	if n := len(readLines(t, calls)); n != 2 {
		t.Fatalf("the function ran %d times for a map of 2 items", n)
	}
	c.shutdown(t)
}

// TestKeyMismatchFailsClearly: a pool and workers of which only one side
// has the key do not hang and run nothing: the map fails with an error
// that says which side lacks it.
func TestKeyMismatchFailsClearly(t *testing.T) {
	t.Run("pool without key", func(t *testing.T) {
		c := newCluster(t, Setup{Key: true})
		calls := filepath.Join(t.TempDir(), "calls")
		c.worker(t, 2, countEnv+"="+calls)
		p, err := pool.New(config.Client{JobServers: c.cfg.JobServers})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		_, err = pool.Map(c.ctx, p, counted, []int{1, 2, 3})
		var te *pool.TaskError
		if !errors.As(err, &te) || !strings.Contains(te.Message, "not signed") || !strings.Contains(te.Message, "key_file") {
			t.Errorf("Map = %v, want a *pool.TaskError saying the chunk is not signed", err)
		}
		if n := len(readLines(t, calls)); n != 0 {
			t.Errorf("the function ran %d times", n)
		}
		c.shutdown(t)
	})
	t.Run("workers without key", func(t *testing.T) {
		c := newCluster(t, Setup{})
		calls := filepath.Join(t.TempDir(), "calls")
		c.worker(t, 2, countEnv+"="+calls)
		cfg := c.cfg
		cfg.KeyFile = writeKey(t, t.TempDir())
		p, err := pool.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		_, err = pool.Map(c.ctx, p, counted, []int{1, 2, 3})
		var fe *pool.ForgedResultError
		if !errors.As(err, &fe) || !errors.Is(err, pool.ErrForgedResult) || !strings.Contains(err.Error(), "this worker has no key_file") {
			t.Errorf("Map = %v, want a *pool.ForgedResultError quoting the worker's refusal", err)
		}
		if n := len(readLines(t, calls)); n != 0 {
			t.Errorf("the function ran %d times", n)
		}
		c.shutdown(t)
	})
}

// TestKeyedTaskErrors: with a key, the workers' task errors are sealed
// and reach the map whole: the panicking item, its message and stack.
func TestKeyedTaskErrors(t *testing.T) {
	c := newCluster(t, Setup{Key: true})
	c.worker(t, 2, poisonLogEnv+"="+filepath.Join(t.TempDir(), "poison"))
	p := c.pool(t)
	_, err := pool.Map(c.ctx, p, poisonPanic, ints(poisonPanicItem-5, 10), pool.Chunksize(3))
	var te *pool.TaskError
	if !errors.As(err, &te) || !te.Panic || te.Index != 5 || !strings.Contains(te.Message, "poison item") || te.Stack == "" {
		t.Fatalf("Map = %v, want the *pool.TaskError of the panic on item 5 (%d)", err, poisonPanicItem)
	}
	c.shutdown(t)
}
