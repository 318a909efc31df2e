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

func TestGroupWaitsForItsGoroutines(t *testing.T) {
	var g lifecycle.Group
	var finished atomic.Int32
	release := make(chan struct{})
	for range 3 {
		if !g.Go(func() { <-release; finished.Add(1) }) {
			t.Fatal("Go refused on an open group")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with members blocked: %v, want DeadlineExceeded", err)
	}
	close(release)
	ctx, cancel = context.WithTimeout(context.Background(), liveness)
	defer cancel()
	if err := g.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if n := finished.Load(); n != 3 {
		t.Fatalf("Wait returned with %d of 3 goroutines finished", n)
	}
}

func TestGroupClosedRefusesNewMembers(t *testing.T) {
	var g lifecycle.Group
	if !g.Enter() {
		t.Fatal("Enter refused on an open group")
	}
	g.Close()
	g.Close() // harmless
	ran := false
	if g.Go(func() { ran = true }) || g.Enter() {
		t.Fatal("a closed group took a new member")
	}
	if ran {
		t.Fatal("Go ran fn on a closed group")
	}
	g.Leave() // the member that entered before Close
	if err := g.Wait(context.Background()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestGroupLeaveWithoutEnterPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Leave without Enter did not panic")
		}
	}()
	var g lifecycle.Group
	g.Leave()
}

// Members entering and leaving while another goroutine closes and waits:
// Wait returns only when every member that got in has left.
func TestGroupConcurrentCloseAndWait(t *testing.T) {
	for range 50 {
		var g lifecycle.Group
		var inside, admitted, left atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if g.Enter() {
					admitted.Add(1)
					inside.Add(1)
					time.Sleep(time.Millisecond)
					inside.Add(-1)
					left.Add(1)
					g.Leave()
				}
			})
		}
		g.Close()
		ctx, cancel := context.WithTimeout(context.Background(), liveness)
		err := g.Wait(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if n := inside.Load(); n != 0 {
			t.Fatalf("Wait returned with %d members inside", n)
		}
		wg.Wait()
		if admitted.Load() != left.Load() {
			t.Fatalf("%d admitted, %d left", admitted.Load(), left.Load())
		}
	}
}
