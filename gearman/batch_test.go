package gearman_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// countingConn counts the writes made on a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestWorkerBatchesOutcomesOfJobsInHand: a worker holding several short
// jobs at once sends their results and its next asks in fewer writes than
// jobs (each job's WORK_COMPLETE waits for the write of the next job to
// end, up to a few together), and every result is right.
func TestWorkerBatchesOutcomesOfJobsInHand(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	var writes atomic.Int64 // before: the worker's registration
	count := gearman.WithConnWrapper(func(nc net.Conn) net.Conn { return countingConn{nc, &writes} })
	c := newClient(t, srv.Addr())
	// The jobs wait in the job server's queue, as a map's do, before the
	// worker comes.
	const jobs = 600
	tasks := make([]*gearman.Task, jobs)
	for i := range tasks {
		task, err := c.Submit(ctx, "up", fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		tasks[i] = task
	}
	before := writes.Load()
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"up": func(_ context.Context, j *gearman.Job) ([]byte, error) { return append(j.Data, '!'), nil },
	}, gearman.WithConcurrency(2), gearman.WithPrefetch(8), count)
	for i, task := range tasks {
		got, err := task.Wait(ctx)
		if want := fmt.Sprintf("%d!", i); err != nil || string(got) != want {
			t.Fatalf("job %d: %q, %v; want %q", i, got, err, want)
		}
	}
	n := writes.Load() - before
	t.Logf("%d jobs, %d worker writes", jobs, n)
	if n > jobs*6/10 {
		t.Fatalf("the worker made %d writes for %d jobs: one per job, its results not batched", n, jobs)
	}
}

// TestHeldOutcomeNotKeptBehindASlowJob: a fast job's result does not wait
// for a slow job of the same worker to end (the slow job is still running
// when the fast one's result arrives).
func TestHeldOutcomeNotKeptBehindASlowJob(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	release := make(chan struct{})
	var slowRunning atomic.Bool
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"slow": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			slowRunning.Store(true)
			<-release
			return []byte("slow done"), nil
		},
		"fast": func(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil },
	}, gearman.WithConcurrency(2))
	c := newClient(t, srv.Addr())
	slow, err := c.Submit(ctx, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(release)
		if got, err := slow.Wait(ctx); err != nil || string(got) != "slow done" {
			t.Errorf("slow job: %q, %v", got, err)
		}
	}()
	testenv.Eventually(t, ctx, "the slow job running", func() (bool, error) { return slowRunning.Load(), nil })
	for i := range 20 {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second) // far above the hold bound
		got, err := c.Call(fctx, "fast", []byte{byte(i)})
		cancel()
		if err != nil || len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("fast job %d beside a running slow one: %q, %v", i, got, err)
		}
	}
}
