package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
		// The process is gone; its file stays. (Its mapping goes too: it
		// holds the file, and so its lock, open.)
		g.table.unmap()
		g.own.Close()
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

// TestRunningTableReadByAnotherProcess: the jobs booked in the mapped
// running file, past its first size, are what a reader of the file (the
// worker that collects it after a death) finds; a cleared slot is gone.
func TestRunningTableReadByAnotherProcess(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "running-t"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := mapRunningTable(f)
	if err != nil {
		t.Fatal(err)
	}
	defer table.unmap()
	want := map[string]bool{}
	var slots []int
	for i := range 3 * runningSlots {
		key := fmt.Sprintf("glimpse.t.f H:x:%d u%d", i, i)
		slots = append(slots, table.put(key))
		want[key] = i%2 == 1
	}
	for i, slot := range slots {
		if i%2 == 0 {
			table.clear(slot)
		}
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	got := runningKeys(data)
	for _, k := range got {
		if !want[k] {
			t.Errorf("%q read back; it was cleared or never booked", k)
		}
		delete(want, k)
	}
	for k, running := range want {
		if running {
			t.Errorf("%q booked, not read back", k)
		}
	}
}

// TestCrashGuardBooksJobsWithoutWrites: booking a job as running and
// unbooking it are stores to the mapped running file, not write system
// calls: the guard costs a small chunk nearly nothing. (The process's
// write calls are counted by Linux in /proc/self/io.)
func TestCrashGuardBooksJobsWithoutWrites(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	g, err := newCrashGuard(&Worker{id: "w1", log: slog.New(slog.DiscardHandler)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	before, ok := writeCalls()
	if !ok {
		t.Skip("no /proc/self/io to count write calls")
	}
	const jobs = 200
	f := fakeFunc{FuncName: "t.f"}
	for i := range jobs {
		leave, err := g.enter(f, &gearman.Job{Function: "glimpse.t.f", Handle: fmt.Sprintf("H:x:%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		leave()
	}
	after, _ := writeCalls()
	if n := after - before; n >= jobs/4 {
		t.Fatalf("%d jobs booked with %d write system calls", jobs, n)
	}
}

// writeCalls is the process's count of write system calls so far.
func writeCalls() (n int, ok bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, found := strings.CutPrefix(line, "syscw: "); found {
			n, err = strconv.Atoi(strings.TrimSpace(v))
			return n, err == nil
		}
	}
	return 0, false
}

// TestCrashGuardCloseRemovesItsFile: a worker that stops removes its
// running file; none is left for another worker to collect.
func TestCrashGuardCloseRemovesItsFile(t *testing.T) {
	state := t.TempDir()
	t.Setenv("STATE_DIRECTORY", state)
	g, err := newCrashGuard(&Worker{id: "w1", log: slog.New(slog.DiscardHandler)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	left, _ := filepath.Glob(filepath.Join(state, crashDir, runningPrefix+"*"))
	if len(left) > 0 {
		t.Fatalf("running files left after close: %v", left)
	}
}
