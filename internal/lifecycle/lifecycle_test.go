package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/lifecycle"
)

// liveness bounds how long a test waits for something that must happen;
// generous, for a loaded machine.
const liveness = 5 * time.Second

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestBeginTwiceIsErrRunning(t *testing.T) {
	var l lifecycle.Lifecycle
	if err := l.Begin(); err != nil {
		t.Fatalf("first Begin: %v", err)
	}
	if err := l.Begin(); !errors.Is(err, lifecycle.ErrRunning) {
		t.Fatalf("second Begin: %v, want ErrRunning", err)
	}
	if s := l.State(); s != lifecycle.Running {
		t.Fatalf("State = %v, want running", s)
	}
}

func TestBeginAfterStopIsErrClosed(t *testing.T) {
	for _, stop := range []struct {
		name string
		fn   func(*lifecycle.Lifecycle) lifecycle.State
	}{{"Stop", (*lifecycle.Lifecycle).Stop}, {"Cancel", (*lifecycle.Lifecycle).Cancel}} {
		t.Run(stop.name, func(t *testing.T) {
			var l lifecycle.Lifecycle
			if before := stop.fn(&l); before != lifecycle.Idle {
				t.Fatalf("%s returned %v, want idle", stop.name, before)
			}
			if err := l.Begin(); !errors.Is(err, lifecycle.ErrClosed) {
				t.Fatalf("Begin after %s: %v, want ErrClosed", stop.name, err)
			}
			// Nothing ran, so there is nothing to wait for.
			if !closed(l.Done()) || l.State() != lifecycle.Stopped {
				t.Fatalf("after %s before any Run: Done closed %v, state %v", stop.name, closed(l.Done()), l.State())
			}
		})
	}
}

func TestBeginWhileStoppingIsErrClosed(t *testing.T) {
	var l lifecycle.Lifecycle
	l.Begin()
	l.Stop()
	if err := l.Begin(); !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Begin while stopping: %v, want ErrClosed", err)
	}
	l.End()
	if err := l.Begin(); !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Begin after End: %v, want ErrClosed", err)
	}
}

// Stop is the graceful half: new work stops, the work in hand goes on.
func TestStopCancelsContextButNotWorkContext(t *testing.T) {
	var l lifecycle.Lifecycle
	l.Begin()
	ctx, work := l.Context(), l.WorkContext()
	if l.Stopping() {
		t.Fatal("Stopping before Stop")
	}
	if before := l.Stop(); before != lifecycle.Running {
		t.Fatalf("Stop returned %v, want running", before)
	}
	if ctx.Err() == nil || !l.Stopping() {
		t.Error("Context not cancelled by Stop")
	}
	if work.Err() != nil {
		t.Error("WorkContext cancelled by Stop; it must live through a drain")
	}
	if closed(l.Done()) || l.State() != lifecycle.Stopping {
		t.Errorf("Run has not ended, yet Done closed %v, state %v", closed(l.Done()), l.State())
	}
	if before := l.Cancel(); before != lifecycle.Stopping {
		t.Errorf("Cancel returned %v, want stopping", before)
	}
	if work.Err() == nil {
		t.Error("WorkContext not cancelled by Cancel")
	}
}

func TestEndStopsAndClosesDone(t *testing.T) {
	var l lifecycle.Lifecycle
	l.Begin()
	l.End() // Run returned on its own, e.g. after a failure
	if !closed(l.Done()) || l.State() != lifecycle.Stopped {
		t.Fatalf("after End: Done closed %v, state %v", closed(l.Done()), l.State())
	}
	if l.Context().Err() == nil {
		t.Error("Context not cancelled by End")
	}
	if l.WorkContext().Err() != nil {
		t.Error("End cancelled WorkContext; only Cancel may")
	}
	if before := l.Stop(); before != lifecycle.Stopped {
		t.Errorf("Stop after End returned %v, want stopped", before)
	}
	l.End() // harmless
}

func TestEndWithoutRunDoesNothing(t *testing.T) {
	var l lifecycle.Lifecycle
	l.End()
	if err := l.Begin(); err != nil {
		t.Fatalf("Begin after a stray End: %v", err)
	}
}

func TestWaitIsBoundedByCtx(t *testing.T) {
	var l lifecycle.Lifecycle
	l.Begin()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a running lifecycle: %v, want DeadlineExceeded", err)
	}
	go func() {
		l.Stop()
		l.End()
	}()
	ctx, cancel = context.WithTimeout(context.Background(), liveness)
	defer cancel()
	if err := l.Wait(ctx); err != nil {
		t.Fatalf("Wait after End: %v", err)
	}
}

// Many Runs and Stops race: exactly one Run begins, exactly one Stop is
// first, every other Run gets ErrRunning or ErrClosed, and Done closes.
func TestConcurrentRunAndStop(t *testing.T) {
	for range 50 {
		var l lifecycle.Lifecycle
		var begun, first atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				err := l.Begin()
				switch {
				case err == nil:
					begun.Add(1)
					<-l.Context().Done()
					l.End()
				case !errors.Is(err, lifecycle.ErrRunning) && !errors.Is(err, lifecycle.ErrClosed):
					t.Errorf("Begin: %v", err)
				}
			})
			wg.Go(func() {
				if b := l.Stop(); b == lifecycle.Idle || b == lifecycle.Running {
					first.Add(1)
				}
			})
		}
		wg.Wait()
		if begun.Load() > 1 || first.Load() != 1 {
			t.Fatalf("%d Runs began (want at most 1), %d Stops were first (want 1)", begun.Load(), first.Load())
		}
		if !closed(l.Done()) {
			t.Fatal("Done not closed after every Run returned")
		}
	}
}

// StopIdle hands the release of a never-run service to its caller: Runs
// are refused and Waits wait until that caller's End.
func TestStopIdleLeavesDoneToTheCaller(t *testing.T) {
	var l lifecycle.Lifecycle
	if !l.StopIdle() {
		t.Fatal("StopIdle on an idle lifecycle returned false")
	}
	if l.StopIdle() {
		t.Fatal("a second StopIdle returned true")
	}
	if err := l.Begin(); !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Begin after StopIdle: %v, want ErrClosed", err)
	}
	if before := l.Stop(); before != lifecycle.Stopping {
		t.Fatalf("Stop after StopIdle returned %v, want stopping", before)
	}
	if closed(l.Done()) || l.Context().Err() == nil {
		t.Fatalf("before End: Done closed %v, Context err %v", closed(l.Done()), l.Context().Err())
	}
	l.End()
	if !closed(l.Done()) || l.State() != lifecycle.Stopped {
		t.Fatalf("after End: Done closed %v, state %v", closed(l.Done()), l.State())
	}

	var running lifecycle.Lifecycle
	running.Begin()
	if running.StopIdle() {
		t.Fatal("StopIdle on a running lifecycle returned true")
	}
	if running.State() != lifecycle.Running {
		t.Fatalf("StopIdle changed a running lifecycle to %v", running.State())
	}
}
