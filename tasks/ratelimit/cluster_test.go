package ratelimit_test

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
)

// stores runs a test on a fresh SQLite file and on a real PostgreSQL.
func stores(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, filepath.Join(t.TempDir(), "tasks.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.Postgres(t))
	})
}

// runChildren starts n worker processes in mode, all starting at the same
// moment and running for run, waits for them and returns their output
// files.
func runChildren(t *testing.T, mode, dsn string, n int, run time.Duration) []string {
	start := time.Now().Add(2 * time.Second) // time to start and open the store
	var outs []string
	var cmds []*exec.Cmd
	for i := range n {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.txt", mode, i))
		cmd, _ := testenv.Subprocess(t, fmt.Sprintf("%s=%s %s %s %d %s", childEnv, mode, dsn, out, start.UnixNano(), run))
		outs = append(outs, out)
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("worker process %d: %v", i, err)
		}
	}
	return outs
}

// TestRateClusterWide: three processes acquiring a queue limited to 50/s
// with a burst of 70 get 450-550 grants in 10s between them, and no
// one-second window holds more than 70, the first one included, which
// starts with the bucket full after an idle spell. (A bucket of 70, as
// golang.org/x/time/rate's burst, would let 120 through that second.)
func TestRateClusterWide(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, dsn string) {
		const run = 10 * time.Second
		idleQueue(t, dsn, "rate", rateLimits)
		var times []int64
		for i, out := range runChildren(t, "rate", dsn, 3, run) {
			rows := readTimes(t, out)
			if len(rows) == 0 {
				t.Errorf("worker process %d got no grant", i)
			}
			for _, r := range rows {
				times = append(times, r[0])
			}
		}
		slices.Sort(times)
		if n := len(times); n < 450 || n > 550 {
			t.Errorf("%d grants in %v at %v/s, want 450-550", n, run, rateLimits.Rate)
		}
		most, at := busiestSecond(times)
		t.Logf("%d grants; busiest one-second window: %d, from +%v", len(times), most, time.Duration(at-times[0]))
		if most > rateLimits.Burst {
			t.Errorf("%d grants in the one-second window from +%v, want at most the burst, %d",
				most, time.Duration(at-times[0]), rateLimits.Burst)
		}
	})
}

// idleQueue makes the queue's bucket before the worker processes start,
// so that it is full when they do, as after an idle spell.
func idleQueue(t *testing.T, dsn, queue string, lim ratelimit.Limits) {
	ctx := testenv.Context(t)
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ratelimit.New(ctx, db, map[string]ratelimit.Limits{queue: lim})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, _, err := l.TryAcquire(ctx, queue); err != nil {
		t.Fatal(err)
	}
}

// busiestSecond returns the most times in any window [t, t+1s) of the
// sorted times, and where it starts.
func busiestSecond(times []int64) (int, int64) {
	most, at := 0, int64(0)
	j := 0
	for i, t := range times {
		for j < len(times) && times[j] < t+int64(time.Second) {
			j++
		}
		if j-i > most {
			most, at = j-i, t
		}
	}
	return most, at
}

// TestMaxRunningClusterWide: three processes of two goroutines each run
// tasks of a queue with max_running 2; the intervals they record while
// holding a slot never overlap more than two at a time.
func TestMaxRunningClusterWide(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, dsn string) {
		type event struct {
			at    int64
			delta int
		}
		var events []event
		for i, out := range runChildren(t, "slots", dsn, 3, 3*time.Second) {
			rows := readTimes(t, out)
			if len(rows) == 0 {
				t.Errorf("worker process %d ran no task", i)
			}
			for _, r := range rows {
				events = append(events, event{r[0], +1}, event{r[1], -1})
			}
		}
		// Ends before starts at the same instant: touching is no overlap.
		sort.Slice(events, func(i, j int) bool {
			return events[i].at < events[j].at || events[i].at == events[j].at && events[i].delta < events[j].delta
		})
		running, most := 0, 0
		for _, e := range events {
			running += e.delta
			most = max(most, running)
		}
		t.Logf("%d tasks, at most %d running at once", len(events)/2, most)
		if most > slotLimits.MaxRunning {
			t.Errorf("%d tasks ran at once, want at most max_running = %d", most, slotLimits.MaxRunning)
		}
		if most < slotLimits.MaxRunning {
			t.Errorf("never more than %d task at once: the limit of %d was not used", most, slotLimits.MaxRunning)
		}
	})
}

// TestKilledHolderSlotComesBack: a process holds the only slot of a
// queue, renewing it past its lease; SIGKILLed, its slot is free again
// once the lease runs out, not before the lease could have run out and
// not never.
func TestKilledHolderSlotComesBack(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, dsn string) {
		ctx := testenv.Context(t)
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		l, err := ratelimit.New(ctx, db, map[string]ratelimit.Limits{"hold": holdLimits}, ratelimit.SlotPoll(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()

		cmd, stdout := testenv.Subprocess(t, fmt.Sprintf("%s=hold %s - %d 1h", childEnv, dsn, time.Now().UnixNano()))
		if line, _ := bufio.NewReader(stdout).ReadString('\n'); strings.TrimSpace(line) != "held" {
			t.Fatalf("holder said %q, want held", line)
		}
		time.Sleep(holdLease + holdLease/2) // past its first lease: held by renewals now
		if rel, _, err := l.TryAcquire(ctx, "hold"); err != nil || rel != nil {
			t.Fatalf("TryAcquire while another process holds the only slot: release %v, err %v; want none", rel != nil, err)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		rel, err := l.Acquire(testenv.ContextWithin(t, 5*holdLease), "hold")
		if err != nil {
			t.Fatalf("slot of the killed holder never came back: %v", err)
		}
		rel()
		back := time.Since(killed)
		t.Logf("slot back %v after SIGKILL (lease %v)", back, holdLease)
		// Renewed every lease/3, so at least 2/3 of the lease was left.
		if back < holdLease/2 || back > 3*holdLease {
			t.Errorf("slot back %v after SIGKILL, want about the lease, %v", back, holdLease)
		}
	})
}
