package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

func adminPID(t *testing.T, ctx context.Context, addr string) int {
	t.Helper()
	return clustertest.AdminPID(t, ctx, addr)
}

// TestStartLocal maps on a local cluster, then checks that Close leaves
// no gearmand, no temp files and (TestMain's goleak) no goroutine behind.
func TestStartLocal(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := StartLocal(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			l.Close()
		}
	})
	cfg := l.Config()
	if len(cfg.JobServers) != 1 || cfg.JobServers[0] != l.gd.Addr() || !cfg.HasBroker() || cfg.Validate() != nil {
		t.Errorf("Config() = %+v, want gearmand's address %s and the broker's URLs", cfg, l.gd.Addr())
	}
	cfg.JobServers[0] = "changed"
	if l.Config().JobServers[0] != l.gd.Addr() {
		t.Error("changing the returned Config changed the cluster's")
	}
	if l.Pool() == nil {
		t.Fatal("Pool() = nil")
	}

	// Registered before StartLocal returned: no waiting needed.
	if n, err := l.Pool().WorkerSlots(ctx, "examples.square"); err != nil || n != 2 {
		t.Errorf("WorkerSlots(examples.square) = %d, %v; want 2", n, err)
	}
	got, err := pool.Map(ctx, l.Pool(), funcs.Hex, []int64{1, 255, -16})
	if err != nil || len(got) != 3 || got[0] != "0x1" || got[1] != "0xff" || got[2] != "-0x10" {
		t.Fatalf("Map(hex) = %q, %v", got, err)
	}

	pid := l.gd.Pid()
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !bytes.Contains(cmdline, []byte("--job-retries=3\x00")) {
		t.Errorf("gearmand command line %q (%v), want --job-retries=3", cmdline, err)
	}
	dir := l.dir
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !processGone(pid) {
		t.Errorf("gearmand (pid %d) still there after Close", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s still there after Close: %v", dir, err)
	}
	if _, err := pool.Map(ctx, l.Pool(), funcs.Square, []int64{1}); err == nil {
		t.Error("Map on a closed local cluster succeeded")
	}
}

func TestStartLocalDefaultSlots(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := StartLocal(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n, err := l.Pool().WorkerSlots(ctx, "examples.square"); err != nil || n != runtime.GOMAXPROCS(0) {
		t.Errorf("WorkerSlots = %d, %v; want GOMAXPROCS %d", n, err, runtime.GOMAXPROCS(0))
	}
}

// TestStartLocalCancelled: a start cut short cleans up after itself.
func TestStartLocalCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l, err := StartLocal(ctx, 1)
	if err == nil {
		l.Close()
		t.Fatal("StartLocal with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// testTTL is the expiry of the test's broadcast commands.
const testTTL = time.Minute

func TestLocalPingAndTargets(t *testing.T) {
	ctx := testenv.Context(t)
	// Obeying quit, as the local command's worker does (StartLocal's
	// refuses it: TestStartLocalRefusesQuitAndRestart).
	l, err := StartLocalWith(ctx, LocalConfig{Worker: config.Worker{Slots: 2}, Log: io.Discard, ObeyStops: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stats, err := l.Pool().Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].WorkerID != l.Worker().ID() || stats[0].Slots != 2 || stats[0].PID == 0 {
		t.Fatalf("Ping = %+v, want the local worker", stats)
	}
	// A command for other workers is ignored, and an expired one too.
	replies, err := l.Pool().Broadcast(ctx, pool.NewCommand(pool.CommandQuit, testTTL, "nobody-*"))
	if err != nil || len(replies) != 0 {
		t.Fatalf("targeted quit: %+v, %v; want no replies", replies, err)
	}
	old := pool.NewCommand(pool.CommandQuit, testTTL)
	old.Expires = old.Sent.Add(-1)
	if _, err := l.Pool().Broadcast(ctx, old); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-l.Worker().StopRequested():
		t.Fatalf("the worker obeyed %+v", req)
	default:
	}
	// A live quit is obeyed once, even if it comes twice.
	quit := pool.NewCommand(pool.CommandQuit, testTTL, l.Worker().ID())
	for range 2 {
		if _, err := l.Pool().Broadcast(ctx, quit); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case req := <-l.Worker().StopRequested():
		if req.Command != quit.ID || req.Restart {
			t.Fatalf("stop request %+v", req)
		}
	case <-ctx.Done():
		t.Fatal("quit not delivered")
	}
	select {
	case req := <-l.Worker().StopRequested():
		t.Fatalf("the same quit was obeyed twice: %+v", req)
	default:
	}
}
