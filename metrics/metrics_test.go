package metrics_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/metricstest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/metrics/histogram"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve serves reg on a free loopback port for the test.
func serve(t *testing.T, g prometheus.Gatherer) *metrics.Server {
	t.Helper()
	s, err := metrics.Listen("127.0.0.1:0", g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestListenLoopbackByDefault: an address without a host binds 127.0.0.1,
// not every interface.
func TestListenLoopbackByDefault(t *testing.T) {
	for _, addr := range []string{":0", "0"} {
		s, err := metrics.Listen(addr, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(s.Addr())
		if host != "127.0.0.1" {
			t.Errorf("Listen(%q) bound %s, want 127.0.0.1", addr, s.Addr())
		}
		s.Close()
	}
}

// TestListenBadAddr: an address that does not parse, or is taken, is an
// *AddrError naming it.
func TestListenBadAddr(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		addr string
		bad  bool // ErrBadAddr: does not parse
	}{{"", true}, {"nonsense", true}, {"localhost:99999", true}, {"localhost:http", true}, {taken.Addr().String(), false}} {
		s, err := metrics.Listen(tc.addr, prometheus.NewRegistry())
		if err == nil {
			s.Close()
			t.Errorf("Listen(%q) served", tc.addr)
			continue
		}
		var ae *metrics.AddrError
		if !errors.As(err, &ae) || ae.Addr == "" && tc.addr != "" || errors.Is(err, metrics.ErrBadAddr) != tc.bad {
			t.Errorf("Listen(%q): %v, want an *AddrError (ErrBadAddr: %v)", tc.addr, err, tc.bad)
		}
	}
}

// TestServerShutdownFreesThePort: Shutdown returns within its bound and
// the port can be bound again.
func TestServerShutdownFreesThePort(t *testing.T) {
	s, err := metrics.Listen("127.0.0.1:0", metrics.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	sc := metricstest.Get(t, s.URL())
	sc.WantAbove(t, 0, "go_goroutines")
	sc.WantAbove(t, 0, "process_resident_memory_bytes")
	metricstest.Promtool(t, sc)
	addr := s.Addr()
	err = testenv.ReturnsWithin(t, "Shutdown", 2*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return s.Shutdown(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s still bound after Shutdown: %v", addr, err)
	}
	l.Close()
}

// histogramCollector exports one metrics.Histogram.
type histogramCollector struct {
	h    *histogram.Histogram
	desc *prometheus.Desc
}

func (c histogramCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c histogramCollector) Collect(ch chan<- prometheus.Metric) {
	m, err := metrics.HistogramMetric(c.desc, c.h.Snapshot(), "x")
	if err != nil {
		panic(err)
	}
	ch <- m
}

// TestHistogramObserveN: n observations in one call count n, land in
// their bucket, and add n times the value to the sum, also when many
// goroutines observe at once.
func TestHistogramObserveN(t *testing.T) {
	h := histogram.New([]float64{0.01, 0.1, 1})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				h.ObserveN(0.05, 10) // 10 items of a chunk, 50ms each
				h.Observe(2)         // over every bound: +Inf
			}
		})
	}
	wg.Wait()
	reg := prometheus.NewRegistry()
	reg.MustRegister(histogramCollector{h, prometheus.NewDesc("test_duration_seconds", "test", []string{"l"}, nil)})
	sc := metricstest.Get(t, serve(t, reg).URL())
	got := sc.Histogram("test_duration_seconds", "l", "x")
	if got == nil {
		t.Fatalf("no histogram:\n%s", sc.Text)
	}
	if got.GetSampleCount() != 88000 {
		t.Errorf("count %d, want 88000", got.GetSampleCount())
	}
	if sum := got.GetSampleSum(); sum < 19999 || sum > 20001 { // 80000*0.05 + 8000*2
		t.Errorf("sum %v, want 20000", sum)
	}
	want := map[float64]uint64{0.01: 0, 0.1: 80000, 1: 80000}
	for _, b := range got.Bucket {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	metricstest.Promtool(t, sc)
}

// TestJobServersCollector asks a real gearmand: queued jobs of a function
// no worker serves, the running job and the worker of another, and a job
// server that is down.
func TestJobServersCollector(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	down := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	c, err := gearman.NewClient(ctx, []string{srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		if _, err := c.SubmitBackground(ctx, "queued.fn", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	running := make(chan struct{}, 1)
	w, err := gearman.NewWorker([]string{srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	w.Register("busy.fn", func(ctx context.Context, _ *gearman.Job) ([]byte, error) {
		running <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	defer func() {
		w.Close()
		<-ran
	}()
	if _, err := c.SubmitBackground(ctx, "busy.fn", nil); err != nil {
		t.Fatal(err)
	}
	<-running

	js := metrics.NewJobServers([]string{srv.Addr(), down})
	defer js.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(js)
	sc := metricstest.Get(t, serve(t, reg).URL())
	s := []string{"server", srv.Addr()}
	sc.Want(t, 1, "glimpse_jobserver_up", s...)
	sc.Want(t, 0, "glimpse_jobserver_up", "server", down)
	sc.Want(t, 3, "glimpse_jobserver_queued_jobs", append(s, "function", "queued.fn")...)
	sc.Want(t, 0, "glimpse_jobserver_running_jobs", append(s, "function", "queued.fn")...)
	sc.Want(t, 0, "glimpse_jobserver_workers", append(s, "function", "queued.fn")...)
	sc.Want(t, 1, "glimpse_jobserver_queued_jobs", append(s, "function", "busy.fn")...)
	sc.Want(t, 1, "glimpse_jobserver_running_jobs", append(s, "function", "busy.fn")...)
	sc.Want(t, 1, "glimpse_jobserver_workers", append(s, "function", "busy.fn")...)
	metricstest.Promtool(t, sc)
}
