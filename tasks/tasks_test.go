package tasks_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/tasks"
)

// 1,000 tasks with keys, each enqueued twice, while gearmand is SIGKILLed
// and restarted half way: every task runs, each key once.
func TestGearmandKilledMidway(t *testing.T) {
	e := newEnv(t, "", testConf())
	e.startWorker(4)
	e.startWorker(4)
	const n = 1000
	ids := make([]tasks.ID, n)
	var enqueued atomic.Int64
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		testenv.Eventually(t, e.ctx, "half the tasks enqueued", func() (bool, error) { return enqueued.Load() >= n/2, nil })
		if err := e.gd.Kill(); err != nil {
			t.Error(err)
		}
		if err := e.gd.Restart(e.ctx); err != nil {
			t.Error(err)
		}
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				key := fmt.Sprintf("k%04d", i)
				for range 2 {
					id, err := tasks.Enqueue(e.ctx, e.client, recordFn, Job{Key: key}, tasks.Key(key))
					if err != nil {
						t.Errorf("enqueue %s: %v", key, err)
						return
					}
					if ids[i] != "" && ids[i] != id {
						t.Errorf("key %s: ids %s and %s", key, ids[i], id)
					}
					ids[i] = id
				}
				enqueued.Add(1)
				time.Sleep(time.Millisecond) // spread the enqueues over the kill
			}
		}()
	}
	wg.Wait()
	<-killed
	if t.Failed() {
		return
	}
	e.waitAll(ids)
	runs := e.runCounts("record")
	for i := range n {
		key := fmt.Sprintf("k%04d", i)
		if runs[key] != 1 {
			t.Errorf("key %s ran %d times, want 1", key, runs[key])
		}
		in, err := e.client.Get(e.ctx, ids[i])
		if err != nil || in.State != tasks.Succeeded {
			t.Fatalf("task %s: %+v, %v", ids[i], in, err)
		}
	}
}

// A worker SIGKILLed while it runs a task: the task runs again on another
// worker once its lease runs out, and succeeds; the lost attempt is kept.
func TestWorkerKilledMidTask(t *testing.T) {
	e := newEnv(t, "", testConf())
	first := e.startWorker(2)
	id, err := tasks.Enqueue(e.ctx, e.client, recordFn, Job{Key: "slow", SleepMS: 1500})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, e.ctx, "the task started", func() (bool, error) { return e.runCounts("record")["slow"] == 1, nil })
	if err := first.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.startWorker(2)
	e.waitAll([]tasks.ID{id})
	task, err := tasks.Lookup(e.ctx, e.client, recordFn, id)
	if err != nil {
		t.Fatal(err)
	}
	if task.State != tasks.Succeeded || task.Value != "done:slow" || task.Attempt != 2 {
		t.Fatalf("task: state %s, value %q, attempt %d; want succeeded, done:slow, 2", task.State, task.Value, task.Attempt)
	}
	if len(task.Attempts) != 2 || !strings.Contains(task.Attempts[0].Error, "lease") || task.Attempts[1].Error != "" {
		t.Fatalf("attempts: %+v", task.Attempts)
	}
	if n := e.runCounts("record")["slow"]; n != 2 {
		t.Fatalf("ran %d times, want 2", n)
	}
}

// 100 tasks due in 2s on an idle cluster start between 2s and 3s after
// their enqueue.
func TestScheduledTasksRunOnTime(t *testing.T) {
	e := newEnv(t, "", testConf())
	e.startWorker(4)
	e.startWorker(4)
	time.Sleep(time.Second) // let the workers fall asleep (PRE_SLEEP)
	t0 := time.Now()
	ids := make([]tasks.ID, 100)
	for i := range ids {
		var err error
		opt := tasks.Countdown(2 * time.Second)
		if i%2 == 1 {
			opt = tasks.ETA(t0.Add(2 * time.Second))
		}
		if ids[i], err = tasks.Enqueue(e.ctx, e.client, recordFn, Job{Key: fmt.Sprint("s", i)}, opt); err != nil {
			t.Fatal(err)
		}
	}
	e.waitAll(ids)
	for _, l := range readLines(e.runs + "/record") {
		var key string
		var at int64
		fmt.Sscan(l, &key, &at)
		d := time.UnixMilli(at).Sub(t0)
		if d < 2*time.Second || d > 3*time.Second {
			t.Errorf("task %s started %v after the enqueue, want 2s-3s", key, d)
		}
	}
	if n := len(readLines(e.runs + "/record")); n != 100 {
		t.Fatalf("%d runs, want 100", n)
	}
}

// Two clients enqueue the same key at once: one task, both get its id.
func TestSameKeyConcurrently(t *testing.T) {
	e := newEnv(t, "", testConf())
	other := e.newClient()
	for i := range 50 {
		key := fmt.Sprint("same-", i)
		var got [2]tasks.ID
		var wg sync.WaitGroup
		for j, c := range []*tasks.Client{e.client, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := tasks.Enqueue(e.ctx, c, recordFn, Job{Key: key}, tasks.Key(key), tasks.Countdown(time.Hour))
				if err != nil {
					t.Error(err)
				}
				got[j] = id
			}()
		}
		wg.Wait()
		if got[0] == "" || got[0] != got[1] {
			t.Fatalf("key %s: ids %q and %q", key, got[0], got[1])
		}
	}
	list, err := e.client.List(e.ctx, tasks.Filter{Func: recordFn.Name(), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 50 {
		t.Fatalf("%d tasks stored, want 50", len(list))
	}
}

// A task that fails twice is retried with doubling backoff and succeeds
// on its third attempt; every attempt's error is kept. A task that always
// fails ends failed after its max attempts.
func TestRetriesWithBackoff(t *testing.T) {
	e := newEnv(t, "", testConf())
	e.startWorker(2)
	retry := tasks.Retry(tasks.RetryConfig{MaxAttempts: 5, MinBackoff: 300 * time.Millisecond, MaxBackoff: 2 * time.Second})
	ok, err := tasks.Enqueue(e.ctx, e.client, flakyFn, Job{Key: "twice", FailN: 2}, retry)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := tasks.Enqueue(e.ctx, e.client, flakyFn, Job{Key: "always", FailN: 99},
		tasks.Retry(tasks.RetryConfig{MaxAttempts: 2, MinBackoff: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	e.waitAll([]tasks.ID{ok, bad})
	task, err := tasks.Lookup(e.ctx, e.client, flakyFn, ok)
	if err != nil {
		t.Fatal(err)
	}
	if task.State != tasks.Succeeded || task.Value != 3 || len(task.Attempts) != 3 {
		t.Fatalf("task: %s, value %d, attempts %+v", task.State, task.Value, task.Attempts)
	}
	for i, a := range task.Attempts[:2] {
		if want := fmt.Sprintf("attempt %d of twice failed", i+1); !strings.Contains(a.Error, want) {
			t.Errorf("attempt %d: error %q, want it to say %q", i+1, a.Error, want)
		}
	}
	// Backoff: 300ms after the first failure, 600ms after the second
	// (the clock is the workers', to the millisecond).
	for i, want := range []time.Duration{300 * time.Millisecond, 600 * time.Millisecond} {
		if gap := task.Attempts[i+1].Started.Sub(task.Attempts[i].Ended); gap < want {
			t.Errorf("gap before attempt %d: %v, want at least %v", i+2, gap, want)
		}
	}
	failed, err := e.client.Get(e.ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if failed.State != tasks.Failed || len(failed.Attempts) != 2 || !strings.Contains(failed.Error, "attempt 2 of always failed") {
		t.Fatalf("always failing task: %s, error %q, attempts %+v", failed.State, failed.Error, failed.Attempts)
	}
}
