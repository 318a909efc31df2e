package tasks_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
)

// The environment of a worker process (the test binary run again).
const (
	workerEnv  = "TASKS_TEST_WORKER" // the job server's address
	storeEnv   = "TASKS_TEST_STORE"  // the task store's DSN
	runsEnv    = "TASKS_TEST_RUNS"   // the directory the test functions record their runs in
	leaseEnv   = "TASKS_TEST_LEASE"  // [tasks] lease
	slotsEnv   = "TASKS_TEST_SLOTS"  // worker slots
	redispatch = "TASKS_TEST_REDISPATCH"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(workerEnv); addr != "" {
		os.Exit(workerProcess(addr))
	}
	goleak.VerifyTestMain(m)
}

// Job is the item of the test functions.
type Job struct {
	Key     string
	SleepMS int
	FailN   int // fail the first FailN attempts
}

// record appends "key unixms" to runs/<name> when it starts: one short
// O_APPEND write, whole even with other processes writing.
func record(name, key string) int {
	dir := os.Getenv(runsEnv)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %d\n", key, time.Now().UnixMilli())
	return countKey(path, key)
}

// countKey counts the lines of path recording key.
func countKey(path, key string) int {
	n := 0
	for _, l := range readLines(path) {
		if strings.Fields(l)[0] == key {
			n++
		}
	}
	return n
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

var (
	recordFn = pool.Register("tasks-test.record", func(ctx context.Context, j Job) (string, error) {
		record("record", j.Key)
		select {
		case <-time.After(time.Duration(j.SleepMS) * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "done:" + j.Key, nil
	})
	flakyFn = pool.Register("tasks-test.flaky", func(ctx context.Context, j Job) (int, error) {
		n := record("flaky", j.Key)
		if n <= j.FailN {
			return 0, fmt.Errorf("attempt %d of %s failed", n, j.Key)
		}
		return n, nil
	})
)

// workerProcess serves tasks until SIGTERM.
func workerProcess(addr string) int {
	lease, _ := time.ParseDuration(os.Getenv(leaseEnv))
	again, _ := time.ParseDuration(os.Getenv(redispatch))
	slots, _ := strconv.Atoi(os.Getenv(slotsEnv))
	conf := config.DefaultTasks()
	conf.Lease, conf.RedispatchAfter = lease, again
	wc := config.DefaultWorker()
	wc.Slots = slots
	wc.LogLevel = slog.LevelWarn
	w, err := cluster.NewWorker(config.Client{JobServers: []string{addr}}, wc, cluster.WithTasks(os.Getenv(storeEnv), conf))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Shutdown(ctx)
	}()
	if err := w.Run(); !errors.Is(err, cluster.ErrWorkerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// env is a test's cluster: a gearmand with a persistent queue, a task
// store, the worker processes it starts, and a client.
type env struct {
	t      testing.TB
	ctx    context.Context
	gd     *gearmand.Process
	dsn    string
	runs   string
	conf   config.Tasks
	client *tasks.Client
}

// newEnv starts gearmand with a libsqlite3 queue and opens a client on
// the store dsn ("" for a PostgreSQL server of the test's own).
func newEnv(t *testing.T, dsn string, conf config.Tasks) *env { return newEnvTB(t, dsn, conf) }

func newEnvTB(t testing.TB, dsn string, conf config.Tasks) *env {
	t.Helper()
	if dsn == "" {
		dsn = testenv.Postgres(t)
	}
	queue := filepath.Join(t.TempDir(), "gearmand-queue.db")
	e := &env{t: t, ctx: testenv.Context(t), dsn: dsn, runs: t.TempDir(), conf: conf}
	e.gd = testenv.Gearmand(t, "-q", "libsqlite3", "--libsqlite3-db", queue)
	e.client = e.newClient()
	return e
}

// newClient opens another client on the env's cluster, as another
// process would.
func (e *env) newClient() *tasks.Client {
	e.t.Helper()
	db, err := store.Open(e.ctx, e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	gc, err := gearman.NewClient(e.ctx, []string{e.gd.Addr()})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := tasks.NewClient(e.ctx, db, gc, e.conf)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		c.Close()
		gc.Close()
		db.Close()
	})
	return c
}

// startWorker starts a worker process serving tasks and waits until
// gearmand lists it.
func (e *env) startWorker(slots int) *os.Process {
	e.t.Helper()
	cmd, _ := testenv.Subprocess(e.t, workerEnv+"="+e.gd.Addr(), storeEnv+"="+e.dsn, runsEnv+"="+e.runs,
		leaseEnv+"="+e.conf.Lease.String(), redispatch+"="+e.conf.RedispatchAfter.String(), slotsEnv+"="+strconv.Itoa(slots))
	clustertest.WaitWorker(e.t, e.ctx, e.gd.Addr(), tasks.GearmanName(recordFn.Name()))
	return cmd.Process
}

// waitAll waits until every id is in an end state.
func (e *env) waitAll(ids []tasks.ID) {
	e.t.Helper()
	left := append([]tasks.ID(nil), ids...)
	testenv.Eventually(e.t, e.ctx, fmt.Sprintf("%d tasks finished", len(ids)), func() (bool, error) {
		for len(left) > 0 {
			in, err := e.client.Get(e.ctx, left[0])
			if err != nil {
				return false, err
			}
			if !in.State.Finished() {
				return false, nil
			}
			left = left[1:]
		}
		return true, nil
	})
}

// testConf is a [tasks] section with short lease and redispatch times, so
// that lost work comes back within a test's seconds.
func testConf() config.Tasks {
	c := config.DefaultTasks()
	c.Lease = 2 * time.Second
	c.RedispatchAfter = time.Second
	return c
}

// runCounts counts the runs of each key that fn's file records.
func (e *env) runCounts(fn string) map[string]int {
	out := map[string]int{}
	for _, l := range readLines(filepath.Join(e.runs, fn)) {
		out[strings.Fields(l)[0]]++
	}
	return out
}

var _ sync.Mutex
