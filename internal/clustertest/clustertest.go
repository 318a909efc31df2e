// Package clustertest holds the test helpers that the tests of the worker
// runtime (package cluster) and of the command line (package cli) share:
// configs, waiting for a worker to register, a wire.Function whose chunks
// the test controls. It imports pool, so pool's own tests cannot use it;
// helpers free of pool live in internal/testenv.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// ExampleGearmanNames are the Gearman functions of examples/funcs.
var ExampleGearmanNames = []string{
	"glimpse.examples.countprimes", "glimpse.examples.hex", "glimpse.examples.square", "glimpse.examples.wordcount",
}

// WriteConfig writes a config file naming the job servers, plus extra
// lines, and returns its path.
func WriteConfig(t testing.TB, servers []string, extra ...string) string {
	t.Helper()
	text := "[client]\njob_server_url = " + strings.Join(servers, ",") + "\n" + strings.Join(extra, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "config.ini")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// WaitWorker waits until the job server at addr lists a glimpse worker
// connection serving every one of the Gearman functions, and returns it.
func WaitWorker(t testing.TB, ctx context.Context, addr string, functions ...string) gearman.WorkerInfo {
	t.Helper()
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var found gearman.WorkerInfo
	testenv.Eventually(t, ctx, fmt.Sprintf("a worker serving %v on %s", functions, addr), func() (bool, error) {
		ws, err := a.Workers(ctx)
		for _, w := range ws {
			if strings.HasPrefix(w.ClientID, "glimpse/") && containsAll(w.Functions, functions) {
				found = w
				return true, nil
			}
		}
		return false, err
	})
	return found
}

func containsAll(have, want []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// CheckSquares maps examples.square over 0..99 in chunks of 7 and checks
// every result.
func CheckSquares(t testing.TB, ctx context.Context, pl *pool.Pool) {
	t.Helper()
	xs := make([]int64, 100)
	for i := range xs {
		xs[i] = int64(i)
	}
	squares, err := pool.Map(ctx, pl, funcs.Square, xs, pool.Chunksize(7))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		if squares[i] != x*x {
			t.Fatalf("squares[%d] = %d", i, squares[i])
		}
	}
}

// NewClient is a Gearman client for the job servers, closed by the test's
// cleanup.
func NewClient(t testing.TB, ctx context.Context, addrs ...string) *gearman.Client {
	t.Helper()
	c, err := gearman.NewClient(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// FakeFunc is a wire.Function whose chunks the test controls: its jobs
// carry raw bytes, so a plain gearman.Client can submit them.
type FakeFunc struct {
	FuncName string
	Run      func(ctx context.Context, payload []byte, worker string) ([]byte, error)
}

func (f FakeFunc) Name() string        { return f.FuncName }
func (f FakeFunc) GearmanName() string { return wire.GearmanPrefix + f.FuncName }
func (f FakeFunc) RunChunk(ctx context.Context, payload []byte, worker string) ([]byte, error) {
	return f.Run(ctx, payload, worker)
}

// LogWriter sends log lines to t.Log.
type LogWriter struct{ T testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// ProcessGone reports whether no process has the pid (a zombie counts as
// still there: someone failed to reap it).
func ProcessGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// AdminPID asks the job server at addr for its pid.
func AdminPID(t testing.TB, ctx context.Context, addr string) int {
	t.Helper()
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pid, err := a.PID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// KillJobServer kills the job server at addr and waits until its port
// refuses connections.
func KillJobServer(t testing.TB, ctx context.Context, addr string) {
	t.Helper()
	pid := AdminPID(t, ctx, addr)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, ctx, fmt.Sprintf("job server %s (pid %d) gone", addr, pid), func() (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true, nil
		}
		c.Close()
		return false, nil
	})
}

// WorkerIDPattern matches a worker id, "host-pid-random"; the pid is its
// first group.
var WorkerIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+-([0-9]+)-[0-9a-f]{8}$`)
