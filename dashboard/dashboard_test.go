package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/dashboard"
	_ "github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// nap sleeps its item; failOdd fails on odd items.
var (
	nap = pool.Register("dashboardtest.nap", func(ctx context.Context, d time.Duration) (time.Duration, error) {
		select {
		case <-time.After(d):
			return d, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	errOdd  = errors.New("odd item")
	failOdd = pool.Register("dashboardtest.failodd", func(_ context.Context, x int) (int, error) {
		if x%2 == 1 {
			return 0, errOdd
		}
		return x, nil
	})
)

// startServed starts a local cluster (its worker heartbeats every 100ms),
// watches it and serves its dashboard; it returns the cluster and the
// dashboard's URL.
func startServed(t *testing.T, ctx context.Context, opts ...dashboard.Option) (*cluster.Local, *dashboard.Cluster, string) {
	t.Helper()
	wc := config.DefaultWorker()
	wc.Slots, wc.HeartbeatInterval = 2, 100*time.Millisecond
	l, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	w, err := dashboard.Watch(l.Config(), dashboard.WatchOptions{Pool: l.Pool(), PollEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	ln, err := dashboard.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- dashboard.Serve(sctx, ln, dashboard.New(w, opts...)) }()
	t.Cleanup(func() {
		stop()
		<-served
	})
	return l, w, dashboard.URL(ln)
}

func getState(t *testing.T, ctx context.Context, url string) dashboard.Snapshot {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"api/state", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s dashboard.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStateShowsTheCluster: /api/state has the worker (pid, slots, a
// heartbeat), the functions' queues, a running map whose count moves,
// the throughput it made, and no task service.
func TestStateShowsTheCluster(t *testing.T) {
	ctx := testenv.Context(t)
	l, _, url := startServed(t, ctx)
	var s dashboard.Snapshot
	testenv.Eventually(t, ctx, "the worker's row with a heartbeat", func() (bool, error) {
		s = getState(t, ctx, url)
		return len(s.Workers) == 1 && s.Workers[0].PID == os.Getpid() && s.Workers[0].Slots == 2 &&
			!s.Workers[0].LastHeartbeat.IsZero() && !s.Workers[0].Stale, nil
	})
	if s.Workers[0].ID != l.Worker().ID() {
		t.Errorf("worker %q, want %q", s.Workers[0].ID, l.Worker().ID())
	}
	if !slices.ContainsFunc(s.Functions, func(f dashboard.Function) bool { return f.Name == "examples.square" && f.Slots == 2 && f.Workers == 1 }) {
		t.Errorf("no queue row for examples.square with 2 slots: %+v", s.Functions)
	}
	if s.Tasks != nil {
		t.Errorf("tasks %v without a task service, want null", s.Tasks)
	}
	done := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, l.Pool(), nap, slices.Repeat([]time.Duration{50 * time.Millisecond}, 60), pool.Chunksize(1))
		done <- err
	}()
	var counts []int
	testenv.Eventually(t, ctx, "the map's count moving", func() (bool, error) {
		s = getState(t, ctx, url)
		for _, m := range s.Maps {
			if m.Function == nap.Name() && m.Total == 60 && (len(counts) == 0 || counts[len(counts)-1] != m.Done) {
				counts = append(counts, m.Done)
			}
		}
		return len(counts) >= 2 && counts[0] < counts[len(counts)-1], nil
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The step still filling shows once half of it has passed.
	testenv.Eventually(t, ctx, "most of the map's 60 items in the throughput history", func() (bool, error) {
		items := 0.0
		for _, p := range getState(t, ctx, url).Throughput {
			items += p.Items * 2 // per second over 2s steps
		}
		return items >= 30, nil
	})
}

// TestServeRefusesOtherHosts: a request naming another host (DNS
// rebinding to loopback) is refused; the address itself and localhost
// are served.
func TestServeRefusesOtherHosts(t *testing.T) {
	ctx := testenv.Context(t)
	_, _, url := startServed(t, ctx)
	for host, want := range map[string]int{"evil.example:80": http.StatusMisdirectedRequest, "localhost": http.StatusOK, "": http.StatusOK} {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"api/state", nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// taskCounts is a TaskStates with fixed counts.
type taskCounts map[string]int

func (c taskCounts) TaskStates(context.Context) (map[string]int, error) { return c, nil }

// TestTasksByState: with a task service, /api/state carries its counts.
func TestTasksByState(t *testing.T) {
	ctx := testenv.Context(t)
	_, _, url := startServed(t, ctx, dashboard.WithTasks(taskCounts{"queued": 3, "failed": 1}))
	s := getState(t, ctx, url)
	if s.Tasks["queued"] != 3 || s.Tasks["failed"] != 1 {
		t.Errorf("tasks %v, want queued 3 and failed 1", s.Tasks)
	}
}

// TestLogStreamFiltersByLevel: the log stream carries a worker's WARN
// record of a failed chunk at level warn, refuses an unknown level, and
// the server stops within its bound while the stream is open.
func TestLogStreamFiltersByLevel(t *testing.T) {
	ctx := testenv.Context(t)
	l, _, url := startServed(t, ctx)
	resp, err := http.Get(url + "api/logs?level=loud")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("level=loud: status %d, want 400", resp.StatusCode)
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", url+"api/logs?level=warn", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := pool.Map(ctx, l.Pool(), failOdd, []int{1}); err == nil || !strings.Contains(err.Error(), errOdd.Error()) {
		t.Fatalf("failodd: %v", err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var r dashboard.LogRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Level != "WARN" && r.Level != "ERROR" {
			t.Errorf("record at %s on a stream at warn: %+v", r.Level, r)
		}
		if r.Worker == l.Worker().ID() && strings.Contains(r.Attrs, "function="+failOdd.Name()) {
			return
		}
	}
	t.Fatalf("no WARN record of the failed chunk on the stream: %v", sc.Err())
}

// TestServeStopsWithAStreamOpen: Serve returns within about ShutdownWait
// of its context's end while a log stream is open.
func TestServeStopsWithAStreamOpen(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: config.DefaultWorker(), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	w, err := dashboard.Watch(l.Config(), dashboard.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ln, err := dashboard.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- dashboard.Serve(sctx, ln, dashboard.New(w)) }()
	resp, err := http.Get(dashboard.URL(ln) + "api/logs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stop()
	testenv.ReturnsWithin(t, "Serve with a log stream open", 3*dashboard.ShutdownWait, func() error { return <-served })
}
