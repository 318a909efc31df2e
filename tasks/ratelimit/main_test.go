package ratelimit_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
	"go.uber.org/goleak"

	"testing"
)

// childEnv makes the test binary a worker process of a test:
// "MODE DSN OUT START_NS RUN" (see child).
const childEnv = "GLIMPSE_RATELIMIT_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := child(spec); err != nil {
			fmt.Fprintln(os.Stderr, "ratelimit child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// The queues and limits the worker processes share.
var (
	rateLimits = ratelimit.Limits{Rate: 50, Burst: 70}
	slotLimits = ratelimit.Limits{MaxRunning: 2}
	holdLimits = ratelimit.Limits{MaxRunning: 1}
	holdLease  = 2 * time.Second
)

// child plays one worker process: from START_NS until RUN later it
// acquires its queue's grants as fast as they come, from two goroutines,
// and writes to OUT one line per grant: its time (mode "rate") or the
// interval it held a slot (mode "slots"). Mode "hold" takes the only slot
// of its queue, says "held" and waits to be killed.
func child(spec string) error {
	f := strings.Fields(spec)
	mode, dsn, out := f[0], f[1], f[2]
	startNs, _ := strconv.ParseInt(f[3], 10, 64)
	run, _ := time.ParseDuration(f[4])
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, startNs).Add(run))
	defer cancel()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	l, err := ratelimit.New(ctx, db, map[string]ratelimit.Limits{"rate": rateLimits, "slots": slotLimits, "hold": holdLimits},
		ratelimit.Lease(holdLease), ratelimit.SlotPoll(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer l.Close()
	if mode == "hold" {
		if _, err := l.Acquire(ctx, "hold"); err != nil {
			return err
		}
		fmt.Println("held")
		<-ctx.Done()
		return nil
	}
	time.Sleep(time.Until(time.Unix(0, startNs)))
	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				rel, err := l.Acquire(ctx, mode)
				if err != nil {
					return // the run is over
				}
				got := time.Now().UnixNano()
				line := strconv.FormatInt(got, 10)
				if mode == "slots" {
					time.Sleep(time.Duration(10+got%30) * time.Millisecond)
					line += " " + strconv.FormatInt(time.Now().UnixNano(), 10)
				}
				rel()
				mu.Lock()
				lines = append(lines, line)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return os.WriteFile(out, []byte(strings.Join(lines, "\n")), 0o600)
}

// readTimes reads a child's OUT file: one line of integers per grant.
func readTimes(t *testing.T, path string) [][]int64 {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var rows [][]int64
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var row []int64
		for _, s := range strings.Fields(sc.Text()) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			row = append(row, n)
		}
		rows = append(rows, row)
	}
	return rows
}
