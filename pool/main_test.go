package pool_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/config"
	_ "github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/direct"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// workerEnv makes the test binary a worker process serving every
// registered function: "SLOTS ADDR[,ADDR]".
const workerEnv = "POOL_TEST_WORKER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(workerEnv); spec != "" {
		os.Exit(workerProcess(spec))
	}
	if spec := os.Getenv(largeClientEnv); spec != "" {
		os.Exit(largeClientProcess(spec))
	}
	goleak.VerifyTestMain(m)
}

func workerProcess(spec string) int {
	n, addrs, _ := strings.Cut(spec, " ")
	slots, _ := strconv.Atoi(n)
	opts, err := workerTLS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w, err := serve(strings.Split(addrs, ","), slots, fmt.Sprintf("proc-%d", os.Getpid()), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("serving")
	w.Run()
	return 0
}

// serve runs a gearman.Worker that serves every registered function the
// way glimpse workers do. (package cluster has the real runtime; pool's
// tests stay below it, as the data flows.)
func serve(addrs []string, slots int, id string, opts ...gearman.WorkerOption) (*gearman.Worker, error) {
	w, err := gearman.NewWorker(addrs, append([]gearman.WorkerOption{gearman.WithConcurrency(slots),
		gearman.WithClientID(wire.WorkerClientID(id, slots)),
		gearman.WithBackoff(5*time.Millisecond, 100*time.Millisecond)}, opts...)...)
	if err != nil {
		return nil, err
	}
	for _, f := range wire.Functions() {
		w.Register(f.GearmanName(), func(ctx context.Context, j *gearman.Job) ([]byte, error) {
			// A chunk of large items comes by the direct path.
			parts, err := direct.Serve(ctx, j.Data, gearman.DefaultMaxPacketSize, func(payload []byte) ([][]byte, error) {
				return wire.RunChunkParts(ctx, f, payload, id)
			})
			if err != nil {
				return nil, err
			}
			j.SetMoreResult(parts[1:]...)
			return parts[0], nil
		})
	}
	return w, nil
}

// startWorker runs an in-process worker for the test.
func startWorker(t testing.TB, slots int, addrs ...string) *gearman.Worker {
	t.Helper()
	return startWorkerWith(t, slots, addrs)
}

// startWorkerWith is startWorker with options for the gearman.Worker.
func startWorkerWith(t testing.TB, slots int, addrs []string, opts ...gearman.WorkerOption) *gearman.Worker {
	t.Helper()
	w, err := serve(addrs, slots, "inproc-"+t.Name(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	t.Cleanup(func() {
		w.Close()
		<-done
	})
	return w
}

// startWorkerProcess runs a worker process and waits until it serves.
func startWorkerProcess(t *testing.T, slots int, addrs ...string) *exec.Cmd {
	t.Helper()
	return startWorkerProcessEnv(t, nil, slots, addrs...)
}

// startWorkerProcessEnv is startWorkerProcess with more environment
// variables ("KEY=value") for the worker.
func startWorkerProcessEnv(t *testing.T, env []string, slots int, addrs ...string) *exec.Cmd {
	t.Helper()
	cmd, out := testenv.Subprocess(t, append(env, fmt.Sprintf("%s=%d %s", workerEnv, slots, strings.Join(addrs, ",")))...)
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "serving" {
		t.Fatalf("worker process did not start: %v", sc.Err())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd
}

// newPool connects a pool to the job servers and waits until the worker
// slots it should see are registered for fn.
func newPool(t testing.TB, fn string, slots int, addrs ...string) *pool.Pool {
	t.Helper()
	p, err := pool.New(config.Client{JobServers: addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if fn != "" {
		waitSlots(t, p, fn, slots)
	}
	return p
}

func waitSlots(t testing.TB, p *pool.Pool, fn string, slots int) {
	t.Helper()
	ctx := testenv.Context(t)
	for {
		n, err := p.WorkerSlots(ctx, fn)
		if n >= slots {
			return
		}
		if err != nil && !errors.Is(err, pool.ErrNoWorkers) {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d slots of %s never registered (last: %d, %v)", slots, fn, n, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// gearmand starts a job server for the test.
func gearmand(t testing.TB, args ...string) string {
	return testenv.Gearmand(t, args...).Addr()
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
