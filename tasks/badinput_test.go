package tasks_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
)

// Each bad input is a typed error naming what was wrong, and nothing is
// written.
func TestEnqueueRefusesBadInput(t *testing.T) {
	conf := testConf()
	conf.MaxItemBytes = 1000
	e := newEnv(t, filepath.Join(t.TempDir(), "tasks.db"), conf)
	var unregistered pool.Func[Job, string]
	cases := []struct {
		name string
		call func() (tasks.ID, error)
		want error
		says string
	}{
		{"unknown function", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, unregistered, Job{})
		}, tasks.ErrUnknownFunction, "not registered"},
		{"past ETA", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, recordFn, Job{}, tasks.ETA(time.Now().Add(-time.Minute)))
		}, tasks.ErrPastETA, "before now"},
		{"negative countdown", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, recordFn, Job{}, tasks.Countdown(-time.Second))
		}, tasks.ErrNegativeDelay, "-1s"},
		{"oversized item", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, recordFn, Job{Key: strings.Repeat("x", 2000)})
		}, tasks.ErrItemTooLarge, "limit 1000 (max_item_bytes)"},
		{"key over the limit", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, recordFn, Job{}, tasks.Key(strings.Repeat("k", tasks.MaxKeyBytes+1)))
		}, tasks.ErrKeyTooLong, "257 bytes"},
		{"key not UTF-8", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, recordFn, Job{}, tasks.Key("a\xffb"))
		}, tasks.ErrBadKey, "UTF-8"},
		{"bad queue", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, recordFn, Job{}, tasks.Queue("no spaces"))
		}, tasks.ErrBadQueue, `"no spaces"`},
		{"bad retry", func() (tasks.ID, error) {
			return tasks.Enqueue(e.ctx, e.client, recordFn, Job{}, tasks.Retry(tasks.RetryConfig{MinBackoff: time.Hour, MaxBackoff: time.Second}))
		}, tasks.ErrBadRetry, "MaxBackoff"},
	}
	for _, c := range cases {
		id, err := c.call()
		var ee *tasks.EnqueueError
		if id != "" || !errors.Is(err, c.want) || !errors.As(err, &ee) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %q, %v; want an *EnqueueError wrapping %v that says %q", c.name, id, err, c.want, c.says)
		}
	}
	list, err := e.client.List(e.ctx, tasks.Filter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("tasks stored after bad input: %v, %v", list, err)
	}
}

// Get, Lookup, Cancel and Retry of tasks that are not there, or not in
// the right state, say so.
func TestTaskOperationsRefuse(t *testing.T) {
	e := newEnv(t, filepath.Join(t.TempDir(), "tasks.db"), testConf())
	ctx := context.Background()
	if _, err := e.client.Get(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("Get of a missing task: %v", err)
	}
	id, err := tasks.Enqueue(ctx, e.client, recordFn, Job{}, tasks.Countdown(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tasks.Lookup(ctx, e.client, flakyFn, id); !errors.Is(err, tasks.ErrWrongFunction) {
		t.Errorf("Lookup with another function: %v", err)
	}
	if err := e.client.Retry(ctx, id); !errors.Is(err, tasks.ErrNotRetryable) {
		t.Errorf("Retry of a scheduled task: %v", err)
	}
	if err := e.client.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Cancel(ctx, id); !errors.Is(err, tasks.ErrNotCancelable) || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("second Cancel: %v", err)
	}
	if err := e.client.Retry(ctx, id); err != nil {
		t.Errorf("Retry of a cancelled task: %v", err)
	}
	in, err := e.client.Get(ctx, id)
	if err != nil || in.State != tasks.Scheduled {
		t.Fatalf("after Retry: %+v, %v", in, err)
	}
}
