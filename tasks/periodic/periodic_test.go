package periodic_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/tasks/periodic"
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

// TestTwoSchedulersOneRunPerPeriod: two scheduler processes run the same
// @every 1s entry for 4.5s; each period is enqueued once between them,
// with the period's key, and none is skipped.
func TestTwoSchedulersOneRunPerPeriod(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, dsn string) {
		out := filepath.Join(t.TempDir(), "runs.txt")
		start := time.Now().Add(time.Second)
		var cmds []*exec.Cmd
		for range 2 {
			cmd, _ := testenv.Subprocess(t, fmt.Sprintf("%s=sched %s %s %d 4500ms", childEnv, dsn, out, start.UnixNano()))
			cmds = append(cmds, cmd)
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("scheduler process %d: %v", i, err)
			}
		}
		runs := map[int64]int{}
		var first, last int64
		for _, line := range readLines(t, out) {
			f := strings.Fields(line)
			ms, _ := strconv.ParseInt(f[0], 10, 64)
			if want := periodic.Key("tick", time.UnixMilli(ms)); f[1] != want {
				t.Errorf("period %d enqueued with key %q, want %q", ms, f[1], want)
			}
			runs[ms]++
			if first == 0 || ms < first {
				first = ms
			}
			last = max(last, ms)
		}
		for ms, n := range runs {
			if n != 1 {
				t.Errorf("period %v enqueued %d times, want once", time.UnixMilli(ms).UTC(), n)
			}
		}
		for ms := first; ms <= last; ms += 1000 {
			if runs[ms] == 0 {
				t.Errorf("period %v skipped", time.UnixMilli(ms).UTC())
			}
		}
		if len(runs) < 3 {
			t.Errorf("%d periods in 4.5s of @every 1s, want at least 3", len(runs))
		}
	})
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' })
}

// recorder is an Enqueue that records the periods it was called for.
type recorder struct {
	mu      sync.Mutex
	periods []time.Time
	keys    []string
	fired   chan struct{}
}

func newRecorder() *recorder { return &recorder{fired: make(chan struct{}, 100)} }

func (r *recorder) enqueue(ctx context.Context, e periodic.Entry, period time.Time, key string) error {
	r.mu.Lock()
	r.periods = append(r.periods, period)
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	r.fired <- struct{}{}
	return nil
}

func (r *recorder) got() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.periods...)
}

func openDB(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(testenv.Context(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func startScheduler(t *testing.T, db *store.DB, entries []periodic.Entry, enqueue periodic.Enqueue) *periodic.Scheduler {
	t.Helper()
	s, err := periodic.New(db, entries, enqueue, periodic.ClaimLease(childLease))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(testenv.Context(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// TestMissedPeriodsFireOnce: periods missed while no scheduler ran fire
// once, the latest, as soon as a scheduler starts; a new entry waits for
// its first period.
func TestMissedPeriodsFireOnce(t *testing.T) {
	t.Parallel()
	db := openDB(t, filepath.Join(t.TempDir(), "tasks.db"))
	a := newRecorder()
	s := startScheduler(t, db, []periodic.Entry{tickEntry}, a.enqueue)
	<-a.fired
	s.Stop(context.Background())
	lastRun := a.got()[len(a.got())-1]

	time.Sleep(3200 * time.Millisecond) // three periods or so pass unfired
	b := newRecorder()
	fresh := periodic.Entry{Name: "fresh", Schedule: "@every 1s", Function: "examples.tick"}
	started := time.Now()
	startScheduler(t, db, []periodic.Entry{tickEntry}, b.enqueue)
	select {
	case <-b.fired:
	case <-time.After(900 * time.Millisecond):
		t.Fatal("no catch-up run within 900ms of the start")
	}
	c := newRecorder()
	startScheduler(t, db, []periodic.Entry{fresh}, c.enqueue)
	time.Sleep(1500 * time.Millisecond)

	caughtUp := b.got()[0]
	if want := started.Truncate(time.Second).UTC(); !caughtUp.Equal(want) && !caughtUp.Equal(want.Add(time.Second)) {
		t.Errorf("first run after the gap is period %v, want the latest, %v", caughtUp, want)
	}
	for _, p := range b.got() {
		if p.After(lastRun) && p.Before(caughtUp) {
			t.Errorf("missed period %v fired: want only the latest", p)
		}
	}
	for _, p := range c.got() {
		if p.Before(started.Truncate(time.Second)) {
			t.Errorf("new entry fired period %v, before its scheduler started at %v", p, started)
		}
	}
}

// TestDeadClaimerTakenOver: a scheduler process SIGKILLed inside Enqueue,
// after claiming a period, does not lose the period: another scheduler
// takes the claim over once its lease runs out and enqueues the period
// with the same idempotency key.
func TestDeadClaimerTakenOver(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		ranLongAgo(t, db, dieEntry)
		cmd, stdout := testenv.Subprocess(t, fmt.Sprintf("%s=die %s - %d 1h", childEnv, dsn, time.Now().UnixNano()))
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		var claimed int64
		if _, err := fmt.Sscanf(line, "claimed %d", &claimed); err != nil {
			t.Fatalf("dying scheduler said %q: %v", line, err)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		r := newRecorder()
		startScheduler(t, db, []periodic.Entry{dieEntry}, r.enqueue)
		select {
		case <-r.fired:
		case <-time.After(4 * childLease):
			t.Fatalf("the killed scheduler's period was not taken over within %v", 4*childLease)
		}
		period := time.UnixMilli(claimed).UTC()
		if got := r.got(); len(got) != 1 || !got[0].Equal(period) || r.keys[0] != periodic.Key("die", period) {
			t.Errorf("taken over: periods %v keys %v, want [%v] with key %s", got, r.keys, period, periodic.Key("die", period))
		}
	})
}

// ranLongAgo records that entry, a @every 30s one, fired long ago, so
// that a starting scheduler catches up at once, and waits, if need be,
// for a period with at least 6s left for the test to run in.
func ranLongAgo(t *testing.T, db *store.DB, entry periodic.Entry) {
	t.Helper()
	// A scheduler run creates the table.
	s, _ := periodic.New(db, []periodic.Entry{entry}, newRecorder().enqueue)
	if err := s.Start(testenv.Context(t)); err != nil {
		t.Fatal(err)
	}
	s.Stop(context.Background())
	if _, err := db.Exec(db.Q(`INSERT INTO glimpse_tasks_periodic_claims (name, period_ms, owner, lease_until_ms, done, claimed_ms)
		VALUES (?, 0, 'long ago', 0, 1, 0)`), entry.Name); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(time.Now().Truncate(30 * time.Second).Add(30 * time.Second)); left < 6*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
}

// TestFailedEnqueueRetried: an Enqueue that fails is called again for the
// same period and key once the claim's lease runs out, until it succeeds,
// and not after.
func TestFailedEnqueueRetried(t *testing.T) {
	t.Parallel()
	db := openDB(t, filepath.Join(t.TempDir(), "tasks.db"))
	ranLongAgo(t, db, dieEntry)
	var mu sync.Mutex
	var keys []string
	done := make(chan struct{})
	enqueue := func(ctx context.Context, e periodic.Entry, period time.Time, key string) error {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, key)
		if len(keys) < 3 {
			return errors.New("task store unreachable")
		}
		close(done)
		return nil
	}
	startScheduler(t, db, []periodic.Entry{dieEntry}, enqueue)
	select {
	case <-done:
	case <-time.After(8 * childLease):
		t.Fatalf("Enqueue failing twice was not called a third time within %v", 8*childLease)
	}
	time.Sleep(2 * childLease) // no call after the success
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 3 || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("Enqueue calls with keys %v, want 3 calls with one key", keys)
	}
}

// TestBadEntries: entries built in code are checked as [periodic NAME]
// sections are, naming the entry and the key.
func TestBadEntries(t *testing.T) {
	t.Parallel()
	db := openDB(t, filepath.Join(t.TempDir(), "tasks.db"))
	for _, tc := range []struct {
		entries []periodic.Entry
		key     string
	}{
		{[]periodic.Entry{{Name: "x", Schedule: "61 * * * *", Function: "f"}}, "schedule"},
		{[]periodic.Entry{{Name: "x", Schedule: "@every 10ms", Function: "f"}}, "schedule"},
		{[]periodic.Entry{{Name: "x", Schedule: "@hourly", Function: ""}}, "function"},
		{[]periodic.Entry{{Name: "x", Schedule: "@hourly", Function: "f", Item: []byte("{")}}, "item"},
	} {
		_, err := periodic.New(db, tc.entries, newRecorder().enqueue)
		var ee *periodic.EntryError
		var ce *config.Error
		if !errors.As(err, &ee) || ee.Name != "x" || !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("New(%+v) = %v, want an EntryError naming x and key %s", tc.entries[0], err, tc.key)
		}
	}
	dup := []periodic.Entry{tickEntry, tickEntry}
	if _, err := periodic.New(db, dup, newRecorder().enqueue); err == nil || !strings.Contains(err.Error(), "two entries") {
		t.Errorf("two entries of one name: %v", err)
	}
}
