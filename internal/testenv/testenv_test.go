package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain fails the run if a gearmand child of this binary (running or
// unreaped) outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		data, _ := os.ReadFile(st)
		s := string(data) // pid (comm) state ppid ...
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i+1], "(gearmand)") {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			fmt.Fprintf(os.Stderr, "FAIL: gearmand child left behind: %s\n", s[:i+1])
			code = 1
		}
	}
	os.Exit(code)
}

// dial checks that something accepts TCP connections on addr.
func dial(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	conn.Close()
}

func TestGearmandLifecycle(t *testing.T) {
	t.Parallel()
	p := Gearmand(t, "--threads=2")
	dial(t, p.Addr())
	port := p.Port()

	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.Pid() != 0 {
		t.Fatalf("Pid() after Stop = %d, want 0", p.Pid())
	}

	if err := p.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if p.Port() != port {
		t.Fatalf("Port() after Restart = %d, want %d", p.Port(), port)
	}
	dial(t, fmt.Sprintf("127.0.0.1:%d", port))

	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if p.Pid() != 0 {
		t.Fatalf("Pid() after Kill = %d, want 0", p.Pid())
	}
	// Cleanup's Stop on a killed server must be a quiet no-op.
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	// The port is free only until another process takes it, and other
	// test binaries pick ports at the same time: a few tries must do.
	var err error
	for range 5 {
		port := FreePort(t)
		if port <= 0 || port > 65535 {
			t.Fatalf("FreePort() = %d", port)
		}
		var l net.Listener
		if l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return
		}
	}
	t.Fatalf("listen on FreePort() port, five times: %v", err)
}

// failedTB is a testing.TB whose test has failed; it records logs and runs
// cleanups on demand.
type failedTB struct {
	testing.TB
	mu       sync.Mutex
	logs     []string
	errs     []string
	cleanups []func()
}

func (f *failedTB) Failed() bool { return true }
func (f *failedTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}
func (f *failedTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *failedTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func TestGearmandLogsTailOnFailure(t *testing.T) {
	t.Parallel()
	f := &failedTB{TB: t}
	p := Gearmand(f)
	ran := false
	defer func() {
		if !ran { // make sure the server goes even if this test fails early
			p.Kill()
		}
	}()
	dial(t, p.Addr())

	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	ran = true
	if p.Pid() != 0 {
		t.Fatalf("Pid() after cleanup = %d, want 0", p.Pid())
	}
	if len(f.errs) > 0 {
		t.Fatalf("cleanup reported errors: %v", f.errs)
	}
	logs := strings.Join(f.logs, "\n")
	if !strings.Contains(logs, "Starting up with pid") || !strings.Contains(logs, "Shutdown complete") {
		t.Fatalf("failed test did not get gearmand's log tail; logged:\n%s", logs)
	}
}

// TestContext: Context ends when its test ends, and has a deadline about
// ContextTimeout away.
func TestContext(t *testing.T) {
	var ctx context.Context
	t.Run("inner", func(t *testing.T) {
		ctx = Context(t)
		deadline, ok := ctx.Deadline()
		if left := time.Until(deadline); !ok || left <= ContextTimeout-time.Minute || left > ContextTimeout {
			t.Fatalf("deadline %v from now (set: %v), want about %v", left, ok, ContextTimeout)
		}
		if ctx.Err() != nil {
			t.Fatal("context ended while its test runs")
		}
	})
	if ctx.Err() != context.Canceled {
		t.Fatalf("context after its test ended: %v, want context.Canceled", ctx.Err())
	}
	short := ContextWithin(t, time.Minute)
	if deadline, _ := short.Deadline(); time.Until(deadline) > time.Minute {
		t.Fatalf("ContextWithin(t, 1m) ends %v from now", time.Until(deadline))
	}
}
