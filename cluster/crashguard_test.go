package cluster

import (
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// TestCrashGuardSharedByWorkers: the guards of several worker processes
// share a state directory. A death (a running file left unlocked) counts
// once however many workers notice it at the same time, and the job that
// reached crash_loop_limit deaths is failed by the next worker. (Here a
// guard "dies" by closing its file without removing it, as a killed
// process's is left; the cli tests kill real processes.)
func TestCrashGuardSharedByWorkers(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	const limit = 2
	newGuard := func(id string) *crashGuard {
		g, err := newCrashGuard(&Worker{id: id, log: slog.New(slog.DiscardHandler)}, limit)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.close)
		return g
	}
	f := fakeFunc{FuncName: "t.poison"}
	job := &gearman.Job{Function: "glimpse.t.poison", Handle: "H:x:1", Unique: "u1"}
	die := func(g *crashGuard) {
		if _, err := g.enter(f, job); err != nil {
			t.Fatal(err)
		}
		g.own.Close() // the process is gone; its file stays
	}
	var guards []*crashGuard
	for _, id := range []string{"w2", "w3", "w4", "w5"} {
		guards = append(guards, newGuard(id))
	}
	die(newGuard("w1"))
	// Four live workers notice the death at once.
	var wg sync.WaitGroup
	for _, g := range guards {
		wg.Go(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.scan()
		})
	}
	wg.Wait()
	last := newGuard("w6")
	if n := last.deaths[jobKey(job)]; n != 1 {
		t.Fatalf("one death counted %d times", n)
	}
	die(guards[0])
	last.mu.Lock()
	last.scan()
	last.mu.Unlock()
	_, err := last.enter(f, job)
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Limit != wire.LimitCrashLoop {
		t.Fatalf("the job after %d deaths: %v; want a task error naming crash_loop_limit", limit, err)
	}
	// Another job still runs.
	leave, err := last.enter(f, &gearman.Job{Function: "glimpse.t.poison", Handle: "H:x:2"})
	if err != nil {
		t.Fatal(err)
	}
	leave()
}
