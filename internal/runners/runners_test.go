package runners

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestGoRunsEveryJob: every job handed to Go runs, concurrently with the
// others, and Stop leaves no goroutine behind.
func TestGoRunsEveryJob(t *testing.T) {
	s := New(4)
	defer s.Stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ran := 0
	release := make(chan struct{})
	for range 20 {
		wg.Add(1)
		s.Go(func() {
			defer wg.Done()
			<-release // all 20 must be running at once for this to end
			mu.Lock()
			ran++
			mu.Unlock()
		})
	}
	close(release)
	wg.Wait()
	if ran != 20 {
		t.Fatalf("%d jobs ran, want 20", ran)
	}
}

// TestRunnersAreReused: jobs one after another run on the same few
// goroutines, and at most maxIdle wait for work.
func TestRunnersAreReused(t *testing.T) {
	s := New(2)
	defer s.Stop()
	for range 100 {
		done := make(chan struct{})
		s.Go(func() { close(done) })
		<-done
	}
	deadline := time.Now().Add(5 * time.Second)
	// A job's runner may not be waiting yet when the next job comes: then
	// a second one starts.
	for s.idle.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.idle.Load(); n < 1 || n > 2 {
		t.Fatalf("%d idle runners after jobs one after another, want 1 or 2", n)
	}
	var wg sync.WaitGroup
	block := make(chan struct{})
	for range 5 {
		wg.Add(1)
		s.Go(func() { defer wg.Done(); <-block })
	}
	close(block)
	wg.Wait()
	for s.idle.Load() > 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.idle.Load(); n > 2 {
		t.Fatalf("%d idle runners, want at most 2", n)
	}
}

// TestGoAfterStop: a job handed over after Stop still runs.
func TestGoAfterStop(t *testing.T) {
	s := New(2)
	s.Stop()
	s.Stop()
	done := make(chan struct{})
	s.Go(func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a job after Stop did not run")
	}
}
