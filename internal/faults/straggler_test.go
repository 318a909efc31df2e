package faults

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestStragglerBackupTasks: three one-slot worker processes, one of them
// twenty times slower per item. With BackupTasks the map returns while
// the slow worker is still inside its last chunk, whose results a fast
// worker computed; without it (the control run) the map waits until the
// slow worker has finished. Both are read from the slow worker's own log
// of the items it starts and ends, not from the clock.
func TestStragglerBackupTasks(t *testing.T) {
	c := newCluster(t, Setup{})
	ctx := c.ctx
	slowLog := filepath.Join(t.TempDir(), "slow")
	slow := c.worker(t, 1, slowEnv+"="+slowLog)
	fast := []*proc{c.worker(t, 1), c.worker(t, 1)}
	p := c.pool(t)
	const chunk = 10

	// With backup tasks. Few chunks, so that the fast workers finish all
	// the others while the slow one is on its first. On a loaded machine
	// the slow worker may wake after the fast ones took every chunk, or
	// the fast ones may take longer than its chunk: such a run shows
	// nothing either way, so it is tried again on new items (a map that
	// waited for the slow worker every time fails).
	var first int
	for attempt := 1; ; attempt++ {
		items := ints(attempt*100_000, 150)
		got, err := pool.Map(ctx, p, square, items, pool.Chunksize(chunk), pool.BackupTasks())
		log := readSlowLog(t, slowLog)
		byPID := checkSquares(t, items, got, err)
		unfinished := log.unfinished(chunk)
		if len(unfinished) > 1 {
			t.Fatalf("when the map returned the slow worker was inside chunks %v, want one (log %q)", unfinished, log.lines)
		}
		if len(unfinished) == 0 {
			if attempt == 3 {
				t.Fatalf("in %d maps the slow worker was never inside a chunk when the map returned: the maps waited for it, or it got none (log %q)", attempt, log.lines)
			}
			t.Logf("attempt %d shows nothing: the slow worker was inside no chunk when the map returned; items by pid %v", attempt, byPID)
			waitSlowIdle(t, ctx, slowLog, chunk)
			continue
		}
		first = unfinished[0]
		for x := first; x < first+chunk; x++ {
			if pid := got[x-items[0]].PID; pid != fast[0].pid() && pid != fast[1].pid() {
				t.Fatalf("item %d of the chunk the slow worker was running came from pid %d, not from a fast worker", x, pid)
			}
		}
		t.Logf("backup: the map returned while the slow worker (pid %d) was inside the chunk of items %d-%d; items by pid %v",
			slow.pid(), first, first+chunk-1, byPID)
		break
	}
	// The slow worker goes on with its copy after the map, and finishes it.
	waitSlowIdle(t, ctx, slowLog, chunk)

	// Control: no backup tasks, so the map waits for the slow worker.
	items := ints(1_000_000, 150) // above every item of the backup maps
	got, err := pool.Map(ctx, p, square, items, pool.Chunksize(chunk))
	log := readSlowLog(t, slowLog)
	byPID := checkSquares(t, items, got, err)
	if unfinished := log.unfinished(chunk); len(unfinished) != 0 {
		t.Fatalf("the map returned while the slow worker was inside chunks %v", unfinished)
	}
	var slowItems []int
	for x := range log.started {
		if x >= items[0] {
			slowItems = append(slowItems, x)
		}
	}
	if len(slowItems) == 0 || byPID[slow.pid()] != len(slowItems) {
		t.Fatalf("control: the slow worker ran items %v, the results have %d of its items; want the same, not none",
			slowItems, byPID[slow.pid()])
	}
	for _, x := range slowItems {
		if pid := got[x-items[0]].PID; pid != slow.pid() {
			t.Fatalf("control: item %d, run by the slow worker, has the result of pid %d", x, pid)
		}
	}
	t.Logf("control: the map waited for the slow worker's %d items; items by pid %v", len(slowItems), byPID)
	c.shutdown(t)
}

// waitSlowIdle waits until the slow worker has finished every chunk it
// started.
func waitSlowIdle(t *testing.T, ctx context.Context, path string, chunk int) {
	t.Helper()
	testenv.Eventually(t, ctx, "the slow worker to finish its discarded chunk", func() (bool, error) {
		return len(readSlowLog(t, path).unfinished(chunk)) == 0, nil
	})
}

// slowLog is what the slow worker wrote: "start X" and "end X" per item.
type slowLog struct {
	lines          []string
	started, ended map[int]bool
}

func readSlowLog(t *testing.T, path string) slowLog {
	t.Helper()
	l := slowLog{lines: readLines(t, path), started: map[int]bool{}, ended: map[int]bool{}}
	for _, line := range l.lines {
		what, n, _ := strings.Cut(line, " ")
		x, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("slow log line %q", line)
		}
		switch what {
		case "start":
			l.started[x] = true
		case "end":
			l.ended[x] = true
		default:
			t.Fatalf("slow log line %q", line)
		}
	}
	return l
}

// unfinished lists the chunks (by first item) the slow worker started and
// has not finished: the log has one of their items started and their last
// item not ended. (Between two items no item runs, so items alone would
// not tell.)
func (l slowLog) unfinished(chunk int) []int {
	var out []int
	for x := range l.started {
		first := x / chunk * chunk
		if !l.ended[first+chunk-1] && !slices.Contains(out, first) {
			out = append(out, first)
		}
	}
	slices.Sort(out)
	return out
}

func (l slowLog) String() string { return fmt.Sprint(l.lines) }
