package gearman_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// assigned is how many jobs of fn the job server has handed to workers.
func assigned(ctx context.Context, t *testing.T, a *gearman.Admin, fn string) int {
	t.Helper()
	st, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == fn {
			return s.Running
		}
	}
	return 0
}

// TestPrefetchAsksAheadWhileJobsAreFast: after fast jobs, a worker of one
// slot with WithPrefetch(2) holds two more jobs while one runs (the job
// server counts three assigned), yet runs one at a time; a fresh worker,
// which has seen no fast job, asks for no more than its slot.
func TestPrefetchAsksAheadWhileJobsAreFast(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	var running, peak atomic.Int32
	release := make(chan struct{})
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"pf": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			n := running.Add(1)
			defer running.Add(-1)
			if n > peak.Load() {
				peak.Store(n)
			}
			if string(j.Data) == "hold" {
				<-release
			}
			return j.Data, nil
		},
	}, gearman.WithConcurrency(1), gearman.WithPrefetch(2))
	a, err := gearman.DialAdmin(ctx, srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := newClient(t, srv.Addr())

	// A fresh worker asks for its one slot only.
	var tasks []*gearman.Task
	submit := func(data string) {
		task, err := c.Submit(ctx, "pf", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	for range 3 {
		submit("hold")
	}
	testenv.Eventually(t, ctx, "a job running", func() (bool, error) { return running.Load() == 1, nil })
	time.Sleep(50 * time.Millisecond) // time for asks ahead, if any were made
	if n := assigned(ctx, t, a, "pf"); n != 1 {
		t.Fatalf("fresh worker of one slot holds %d jobs, want 1", n)
	}
	close(release)
	for _, task := range tasks {
		if _, err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Fast jobs bring the asks ahead into circulation.
	for range 10 {
		if _, err := c.Call(ctx, "pf", []byte("fast")); err != nil {
			t.Fatal(err)
		}
	}
	release = make(chan struct{})
	tasks = nil
	submit("hold")
	testenv.Eventually(t, ctx, "the held job running", func() (bool, error) { return running.Load() == 1, nil })
	submit("fast")
	submit("fast")
	testenv.Eventually(t, ctx, "two jobs asked ahead", func() (bool, error) { return assigned(ctx, t, a, "pf") == 3, nil })
	close(release)
	for i, task := range tasks {
		if got, err := task.Wait(ctx); err != nil || len(got) == 0 {
			t.Fatalf("task %d: %q, %v", i, got, err)
		}
	}
	if p := peak.Load(); p != 1 {
		t.Fatalf("%d jobs ran at once on a worker of one slot", p)
	}
}

// TestSendDataSoon: data sent with SendDataSoon reaches the client before
// the result when the job ends at once, and on its own, while the job
// still runs, when the job runs past the delay.
func TestSendDataSoon(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	release := make(chan struct{})
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"soon": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			if err := j.SendDataSoon([]byte("started"), 5*time.Millisecond); err != nil {
				return nil, err
			}
			if string(j.Data) == "hold" {
				<-release
			}
			return []byte("done"), nil
		},
	})
	c := newClient(t, srv.Addr())
	for _, data := range []string{"fast", "hold"} {
		got := make(chan string, 2)
		task, err := c.Dispatch(ctx, "soon", []byte(data), gearman.WithUpdates(func(u gearman.Update) {
			if u.Kind == gearman.UpdateData {
				got <- string(u.Data)
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if data == "hold" {
			select {
			case d := <-got:
				if d != "started" {
					t.Fatalf("update %q, want \"started\"", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no data from a running job 5s after it started")
			}
			close(release)
		}
		if res, err := task.Wait(ctx); err != nil || string(res) != "done" {
			t.Fatalf("%s job: %q, %v", data, res, err)
		}
		if data == "fast" {
			select {
			case d := <-got:
				if d != "started" {
					t.Fatalf("update %q, want \"started\"", d)
				}
			default:
				t.Fatal("the fast job's data did not come before its result")
			}
		}
	}
}

// TestSendDataIfRunning: a job that ends before the delay sends no data;
// one that runs past it sends the data while it runs, before its result.
func TestSendDataIfRunning(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	release := make(chan struct{})
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"ifrunning": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			j.SendDataIfRunning([]byte("started"), 100*time.Millisecond)
			if string(j.Data) == "hold" {
				<-release
			}
			return []byte("done"), nil
		},
	})
	c := newClient(t, srv.Addr())
	for _, data := range []string{"fast", "hold"} {
		var updates atomic.Int32
		started := make(chan struct{}, 1)
		task, err := c.Dispatch(ctx, "ifrunning", []byte(data), gearman.WithUpdates(func(u gearman.Update) {
			if u.Kind == gearman.UpdateData && string(u.Data) == "started" {
				updates.Add(1)
				started <- struct{}{}
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if data == "hold" {
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("no data from a running job 5s after it started")
			}
			close(release)
		}
		if res, err := task.Wait(ctx); err != nil || string(res) != "done" {
			t.Fatalf("%s job: %q, %v", data, res, err)
		}
		if want := map[string]int32{"fast": 0, "hold": 1}[data]; updates.Load() != want {
			t.Fatalf("%s job sent %d data packets, want %d", data, updates.Load(), want)
		}
	}
}

// TestWakeUpAsksInOneWrite: a worker of 2 slots that asks 8 jobs ahead,
// woken for one job at a time, sends its asks for all ten tokens in one
// write, not one write each: counted as this process's write system calls
// per job (the client's submission and the worker's result, PRE_SLEEP and
// asks: about 4; 12-13 when each ask was a write of its own).
func TestWakeUpAsksInOneWrite(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"wake": func(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil },
	}, gearman.WithConcurrency(2), gearman.WithPrefetch(8))
	c := newClient(t, srv.Addr())
	call := func(n int) {
		for i := range n {
			if got, err := c.Call(ctx, "wake", []byte{byte(i)}); err != nil || len(got) != 1 || got[0] != byte(i) {
				t.Fatalf("call %d: %q, %v", i, got, err)
			}
		}
	}
	call(50) // fast jobs bring the asks ahead into circulation
	const jobs = 300
	before := writeSyscalls(t)
	call(jobs)
	perJob := float64(writeSyscalls(t)-before) / jobs
	t.Logf("%.2f write system calls per job", perJob)
	if perJob > 8 {
		t.Fatalf("%.2f write system calls per job one at a time: the worker's asks went out one write each", perJob)
	}
}

// writeSyscalls is how many write system calls this process has made, from
// /proc/self/io.
func writeSyscalls(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("/proc/self/io has no syscw")
	return 0
}
