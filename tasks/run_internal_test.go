package tasks

import (
	"context"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// endJob ends the job's context the way a lost job server does, while
// its task runs to the end.
var endJob context.CancelFunc

var finishesAnyway = pool.Register("taskstest.finishesanyway", func(_ context.Context, x int) (int, error) {
	endJob()
	return x * 2, nil
})

// TestRunRecordsATaskThatEndedAsItsJobWasLost: a task whose function ran
// to the end while its job's context ended (gearmand killed, the worker's
// connection lost) is recorded, not given back: given back, it ran again,
// and TestGearmandKilledMidway saw a key run twice.
func TestRunRecordsATaskThatEndedAsItsJobWasLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db := newTestStore(t)
	r, err := NewRunner(ctx, db, "w1", config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	f, ok := wire.Lookup(finishesAnyway.Name())
	if !ok {
		t.Fatal("not registered")
	}
	payload, err := finishesAnyway.TaskPayload(21)
	if err != nil {
		t.Fatal(err)
	}
	var jobCtx context.Context
	jobCtx, endJob = context.WithCancel(ctx)
	o, ok := r.run(jobCtx, f, &claimed{id: "t1", payload: payload})
	if !ok || o.err != "" {
		t.Fatalf("ok %v, error %q: the run that ended was given back", ok, o.err)
	}
	if got, err := finishesAnyway.TaskResult(o.result); err != nil || got != 42 {
		t.Fatalf("result %d, %v; want 42", got, err)
	}
}
