package jobstatus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/jobstatus"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAskCountsJobsWorkersAndSlots asks a real gearmand holding one running
// and two queued jobs of a function served by a glimpse worker of 3 slots
// (the worker runs one job at a time here), and a fanout queue.
func TestAskCountsJobsWorkersAndSlots(t *testing.T) {
	ctx := testenv.ContextWithin(t, 20*time.Second)
	srv := testenv.Gearmand(t)
	function := wire.GearmanPrefix + "jobstatus.hold"
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithConcurrency(1),
		gearman.WithClientID(wire.WorkerClientID("host-1-abc", 3)))
	if err != nil {
		t.Fatal(err)
	}
	hold := func(ctx context.Context, _ *gearman.Job) ([]byte, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}
	if err := w.Register(function, hold); err != nil {
		t.Fatal(err)
	}
	if err := w.Register("fanout", hold); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	defer func() {
		close(release)
		w.Close()
		<-ran
	}()
	c, err := gearman.NewClient(ctx, []string{srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if _, err := c.SubmitBackground(ctx, function, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	<-started

	st := jobstatus.Ask(ctx, srv.Addr())
	if st.Err != nil {
		t.Fatal(st.Err)
	}
	if st.Workers["host-1-abc"] != 3 {
		t.Errorf("workers %v, want host-1-abc with 3 slots", st.Workers)
	}
	got := map[string]jobstatus.Function{}
	for _, f := range st.Functions {
		got[f.Name] = f
	}
	want := jobstatus.Function{Name: "jobstatus.hold", Queued: 2, Running: 1, Workers: 1, Slots: 3}
	if got["jobstatus.hold"] != want {
		t.Errorf("function %+v, want %+v", got["jobstatus.hold"], want)
	}
	if f := got["fanout"]; !f.Internal || f.Slots != 3 {
		t.Errorf("fanout %+v, want internal with 3 slots", f)
	}
}

// TestAskNamesAServerThatIsDown: no listing, the error.
func TestAskNamesAServerThatIsDown(t *testing.T) {
	ctx := testenv.ContextWithin(t, 10*time.Second)
	st := jobstatus.Ask(ctx, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)))
	if st.Err == nil || st.Functions != nil || st.Workers != nil {
		t.Errorf("got %+v, want only an error", st)
	}
}

func TestInternal(t *testing.T) {
	for name, want := range map[string]bool{
		"fanout": true, "__matchmaking_x": true, wire.CommandTopic + "_w1": true,
		wire.SharedAlias(wire.GearmanPrefix+"f", "w1"): true,
		wire.GearmanPrefix + "examples.square":         false, "glimpse-task.examples.square": false,
	} {
		if got := jobstatus.Internal(name); got != want {
			t.Errorf("Internal(%q) = %v, want %v", name, got, want)
		}
	}
}
