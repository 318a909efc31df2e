package periodic_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks/periodic"
	"go.uber.org/goleak"
)

// childEnv makes the test binary a scheduler process of a test:
// "MODE DSN OUT START_NS RUN" (see child).
const childEnv = "GLIMPSE_PERIODIC_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := child(spec); err != nil {
			fmt.Fprintln(os.Stderr, "periodic child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// The entries the scheduler processes run.
var (
	tickEntry = periodic.Entry{Name: "tick", Schedule: "@every 1s", Function: "examples.tick"}
	dieEntry  = periodic.Entry{Name: "die", Schedule: "@every 30s", Function: "examples.tick"}
)

const childLease = time.Second

// child runs a Scheduler from START_NS for RUN. Mode "sched" runs
// tickEntry and appends "PERIOD_MS KEY PID" to OUT for each Enqueue;
// mode "die" runs dieEntry, says "claimed PERIOD_MS" in its Enqueue and
// blocks there until it is killed.
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
	entry, enqueue := tickEntry, func(ctx context.Context, e periodic.Entry, period time.Time, key string) error {
		fh, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer fh.Close()
		_, err = fmt.Fprintf(fh, "%d %s %d\n", period.UnixMilli(), key, os.Getpid())
		return err
	}
	if mode == "die" {
		entry, enqueue = dieEntry, func(ctx context.Context, e periodic.Entry, period time.Time, key string) error {
			fmt.Printf("claimed %d\n", period.UnixMilli())
			select {} // until SIGKILL
		}
	}
	s, err := periodic.New(db, []periodic.Entry{entry}, enqueue, periodic.ClaimLease(childLease))
	if err != nil {
		return err
	}
	time.Sleep(time.Until(time.Unix(0, startNs)))
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	s.Stop(context.Background())
	return nil
}
