package gearman_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

func TestShutdownDrainsRunningJobs(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	w := startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"slow": func(ctx context.Context, j *gearman.Job) ([]byte, error) {
			started <- struct{}{}
			<-release
			return []byte("finished " + string(j.Data)), ctx.Err()
		},
	}, gearman.WithConcurrency(2))
	c := newClient(t, srv.Addr())
	var tasks []*gearman.Task
	for _, in := range []string{"a", "b", "c"} {
		task, err := c.Submit(ctx, "slow", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	<-started
	<-started // two jobs running, one queued
	shut := make(chan error, 1)
	go func() { shut <- w.Shutdown(ctx) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while jobs were running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, task := range tasks[:2] {
		if got, err := task.Wait(ctx); err != nil || !strings.HasPrefix(string(got), "finished ") {
			t.Fatalf("task %d: %q, %v", i, got, err)
		}
	}
	// The third job was never taken: it is still queued for another worker.
	select {
	case <-tasks[2].Done():
		r, err := tasks[2].Result()
		t.Fatalf("queued task ended: %q, %v", r, err)
	default:
	}
	waitStatus(t, srv.Addr(), "slow", func(s gearman.FunctionStatus) bool { return s.Queued == 1 && s.Workers == 0 })
}

func TestShutdownGivesUpAtDeadline(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	started := make(chan struct{})
	w := startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"stuck": func(ctx context.Context, j *gearman.Job) ([]byte, error) {
			close(started)
			<-ctx.Done() // only Close's cancellation ends it
			return nil, ctx.Err()
		},
	})
	c := newClient(t, srv.Addr())
	if _, err := c.Submit(ctx, "stuck", nil); err != nil {
		t.Fatal(err)
	}
	<-started
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := w.Shutdown(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
}

func TestJobTimeout(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	w, err := gearman.NewWorker([]string{srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Register("sleepy", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}, gearman.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go w.Run()
	defer w.Close()
	waitWorkers(t, srv.Addr(), "sleepy", 1)
	c := newClient(t, srv.Addr())
	_, err = c.Call(ctx, "sleepy", nil)
	var ex *gearman.JobException
	if !errors.As(err, &ex) || !strings.Contains(string(ex.Data), "ran over its 100ms timeout") {
		t.Fatalf("timed-out job: %v", err)
	}
}

func TestConcurrencyIsALimit(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	var running, peak atomic.Int32
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"count": func(context.Context, *gearman.Job) ([]byte, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			return nil, nil
		},
	}, gearman.WithConcurrency(3))
	c := newClient(t, srv.Addr())
	var wg sync.WaitGroup
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Call(ctx, "count", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d, want exactly 3", p)
	}
}

func TestRegisterAndUnregister(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	w := startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo})
	if err := w.Register("echo", echo); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate Register: %v", err)
	}
	if err := w.Register("", echo); err == nil {
		t.Fatal("empty name accepted")
	}
	if err := w.Register("nilfn", nil); err == nil {
		t.Fatal("nil JobFunc accepted")
	}
	// Registering while running reaches the server at once.
	if err := w.Register("late", echo); err != nil {
		t.Fatal(err)
	}
	waitWorkers(t, srv.Addr(), "late", 1)
	c := newClient(t, srv.Addr())
	if got, err := c.Call(ctx, "late", []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("late function: %q, %v", got, err)
	}
	if err := w.Unregister("late"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Addr(), "late", func(s gearman.FunctionStatus) bool { return s.Workers == 0 })
	if err := w.Unregister("late"); err == nil {
		t.Fatal("second Unregister accepted")
	}
}

func TestWorkerWaitsForServer(t *testing.T) {
	// A worker started before its job server connects when the server
	// comes up, and its Close is prompt while it is still dialling.
	srv := testenv.Gearmand(t)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := testenv.ContextWithin(t, time.Minute)
	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithBackoff(5*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	w.Register("echo", echo)
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	defer func() {
		w.Close()
		<-done
	}()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitWorkers(t, srv.Addr(), "echo", 1)
	c := newClient(t, srv.Addr())
	if got, err := c.Call(ctx, "echo", []byte("late server")); err != nil || string(got) != "late server" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestNewWorkerRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		opts  []gearman.WorkerOption
		want  string
	}{
		{nil, nil, "no job server address"},
		{[]string{"localhost:0"}, nil, "port \"0\""},
		{[]string{"a:1", "a:1"}, nil, "given twice"},
		{[]string{"localhost"}, []gearman.WorkerOption{gearman.WithConcurrency(0)}, "concurrency 0"},
	} {
		_, err := gearman.NewWorker(tc.addrs, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWorker(%v): %v, want error containing %q", tc.addrs, err, tc.want)
		}
	}
}

// TestCloseGivesRunningJobsBack: a job cut short by Close goes back to the
// job server for another worker, even if its function returns an error the
// moment its context is cancelled.
func TestCloseGivesRunningJobsBack(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	started := make(chan struct{})
	first, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	first.Register("handover", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	go first.Run()
	waitWorkers(t, srv.Addr(), "handover", 1)
	c := newClient(t, srv.Addr())
	task, err := c.Submit(ctx, "handover", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	first.Close()
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"handover": func(context.Context, *gearman.Job) ([]byte, error) { return []byte("second worker"), nil },
	})
	if got, err := task.Wait(ctx); err != nil || string(got) != "second worker" {
		t.Fatalf("task = %q, %v; want it done by the second worker", got, err)
	}
}

// A second Run is refused with lifecycle.ErrRunning and leaves the first
// serving; a Run after Close is refused with an error that is both
// ErrWorkerClosed and lifecycle.ErrClosed.
func TestWorkerRunTwiceAndAfterClose(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	w := startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"echo": func(ctx context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil },
	})
	err := w.Run()
	if !errors.Is(err, lifecycle.ErrRunning) || !strings.HasPrefix(err.Error(), "gearman: ") {
		t.Fatalf("second Run: %v, want a gearman error wrapping lifecycle.ErrRunning", err)
	}
	if got, err := newClient(t, srv.Addr()).Call(ctx, "echo", []byte("still serving")); err != nil || string(got) != "still serving" {
		t.Fatalf("Call after the refused Run: %q, %v", got, err)
	}

	closed, err := gearman.NewWorker([]string{srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := closed.Run(); !errors.Is(err, gearman.ErrWorkerClosed) || !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrWorkerClosed and lifecycle.ErrClosed", err)
	}
}

// Run, Shutdown and Close racing from many goroutines: every Run returns
// (ErrWorkerClosed or ErrRunning), and goleak finds nothing left behind.
func TestWorkerConcurrentRunAndStop(t *testing.T) {
	srv := testenv.Gearmand(t)
	for range 20 {
		w, err := gearman.NewWorker([]string{srv.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := w.Run(); !errors.Is(err, gearman.ErrWorkerClosed) && !errors.Is(err, lifecycle.ErrRunning) {
					t.Errorf("Run: %v", err)
				}
			})
		}
		wg.Go(func() { w.Shutdown(testenv.ContextWithin(t, time.Minute)) })
		wg.Go(func() { w.Close() })
		wg.Wait()
	}
}
