package cli

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/metricstest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// metricsURL picks a free loopback port for a -metrics flag.
func metricsURL(t *testing.T) (addr, url string) {
	t.Helper()
	addr = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	return addr, "http://" + addr + "/metrics"
}

// stopsWithin sends SIGTERM and checks that the process exits 0 within
// limit and leaves the metrics address free.
func stopsWithin(t *testing.T, ctx context.Context, p *proc, limit time.Duration, addr string) {
	t.Helper()
	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != exitOK {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	if d := time.Since(start); d > limit {
		t.Errorf("took %v to stop after SIGTERM, want under %v", d, limit)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the metrics address %s is still bound: %v", addr, err)
	}
	l.Close()
}

// TestWorkerMetrics runs "glimpse-cluster worker -metrics" as a process,
// maps over it (items that succeed, fail, panic and run past the time
// limit) and scrapes its endpoint over HTTP: every worker metric, with
// its value. SIGTERM stops the endpoint with the worker.
func TestWorkerMetrics(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[worker]", "chunk_time_limit = 1s")
	addr, url := metricsURL(t)
	p := startProc(t, "-c", cfg, "worker", "-n", "2", "-metrics", addr)
	p.stderr.WaitFor(t, ctx, "serving metrics", p.done)
	waitWorker(t, ctx, srv.Addr(), exampleGearmanNames...)
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()

	if _, err := pool.Map(ctx, pl, funcs.Square, make([]int64, 100), pool.Chunksize(10)); err != nil {
		t.Fatal(err)
	}
	// One chunk of five: items 0-3 ran, 3 failed.
	if _, err := pool.Map(ctx, pl, failThree, []int{0, 1, 2, 3, 4}, pool.Chunksize(5)); err == nil {
		t.Fatal("failThree succeeded")
	}
	if _, err := pool.Map(ctx, pl, panicThree, []int{3}); err == nil {
		t.Fatal("panicThree succeeded")
	}
	// A chunk past chunk_time_limit; while it runs, one slot is busy.
	c := newClient(t, ctx, srv.Addr())
	held, err := c.Submit(ctx, "glimpse."+blockName, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	p.stdout.WaitFor(t, ctx, "running one", p.done)
	metricstest.Get(t, url).Want(t, 1, "glimpse_worker_slots_busy")
	if _, err := held.Wait(ctx); err == nil {
		t.Fatal("the chunk past the time limit succeeded")
	}

	sc := metricstest.Get(t, url)
	sq := []string{"function", funcs.Square.Name()}
	sc.Want(t, 10, "glimpse_worker_chunks_total", sq...)
	sc.Want(t, 0, "glimpse_worker_chunks_failed_total", sq...)
	sc.Want(t, 100, "glimpse_worker_items_total", sq...)
	sc.Want(t, 0, "glimpse_worker_items_failed_total", sq...)
	sc.Want(t, 10, "glimpse_worker_chunk_duration_seconds", sq...)
	sc.Want(t, 100, "glimpse_worker_item_duration_seconds", sq...)
	ft := []string{"function", failThree.Name()}
	sc.Want(t, 1, "glimpse_worker_chunks_total", ft...)
	sc.Want(t, 1, "glimpse_worker_chunks_failed_total", ft...)
	sc.Want(t, 4, "glimpse_worker_items_total", ft...)
	sc.Want(t, 1, "glimpse_worker_items_failed_total", ft...)
	sc.Want(t, 0, "glimpse_worker_panics_total", ft...)
	sc.Want(t, 1, "glimpse_worker_panics_total", "function", panicThree.Name())
	sc.Want(t, 1, "glimpse_worker_items_failed_total", "function", panicThree.Name())
	sc.Want(t, 1, "glimpse_worker_timeouts_total", "function", blockName)
	sc.Want(t, 1, "glimpse_worker_chunks_failed_total", "function", blockName)
	sc.Want(t, 0, "glimpse_worker_timeouts_total", sq...)
	sc.Want(t, 2, "glimpse_worker_slots")
	sc.Want(t, 0, "glimpse_worker_slots_busy")
	// 100 int64 zeros: at least a byte each way per item.
	sc.WantAbove(t, 100, "glimpse_worker_received_bytes_total")
	sc.WantAbove(t, 100, "glimpse_worker_sent_bytes_total")
	sc.WantAbove(t, 1<<20, "glimpse_worker_resident_memory_bytes")
	sc.WantAbove(t, 1<<20, "process_resident_memory_bytes")
	sc.WantAbove(t, 0, "go_goroutines")
	metricstest.Promtool(t, sc)

	stopsWithin(t, ctx, p, 5*time.Second, addr)
}

// TestBrokerMetrics runs "glimpse-cluster broker -metrics", sends one
// message through each channel and scrapes the endpoint: messages and
// bytes per channel and direction. SIGTERM stops it within a second or
// two and frees the address.
func TestBrokerMetrics(t *testing.T) {
	ctx := testenv.Context(t)
	ports := []int{testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)}
	path, cc := brokerConfig(t, ports...)
	addr, url := metricsURL(t)
	p := startProc(t, "-c", path, "broker", "-metrics", addr)
	p.stderr.WaitFor(t, ctx, "broker serving", p.done)
	sendThroughBroker(t, ctx, cc) // one message each way, as TestBrokerCommand

	sc := metricstest.Get(t, url)
	sc.Want(t, 1, "glimpse_broker_messages_total", "channel", "command", "direction", "down")
	sc.Want(t, 13, "glimpse_broker_bytes_total", "channel", "command", "direction", "down")
	sc.Want(t, 1, "glimpse_broker_messages_total", "channel", "log", "direction", "down")
	sc.Want(t, 16, "glimpse_broker_bytes_total", "channel", "log", "direction", "down")
	// Subscriptions, "\x01cmd" each (the subscriber may send its own
	// more than once: on connecting and on reconnecting).
	up, _ := sc.Value("glimpse_broker_messages_total", "channel", "command", "direction", "up")
	if up < 1 {
		t.Errorf("no subscription counted on the command channel")
	}
	sc.Want(t, 4*up, "glimpse_broker_bytes_total", "channel", "command", "direction", "up")
	sc.Want(t, 0, "glimpse_broker_refused_handshakes_total")
	sc.Want(t, 100000, "glimpse_broker_high_water_mark_messages")
	metricstest.Promtool(t, sc)

	stopsWithin(t, ctx, p, 2*time.Second, addr)
}

// TestFanoutAndLocalMetrics: the fanout worker's and the local cluster's
// -metrics endpoints serve their metrics and stop on SIGTERM.
func TestFanoutAndLocalMetrics(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[fanout]", "store = "+filepath.Join(t.TempDir(), "fanout.db"))
	addr, url := metricsURL(t)
	p := startProc(t, "-c", cfg, "fanout", "-metrics", addr)
	p.stderr.WaitFor(t, ctx, "serving metrics", p.done)
	sc := metricstest.Get(t, url)
	sc.Want(t, 1, "glimpse_fanout_subscribers", "topic", "__matchmaking")
	sc.Want(t, 0, "glimpse_fanout_copies_sent_total")
	metricstest.Promtool(t, sc)
	stopsWithin(t, ctx, p, 10*time.Second, addr)

	t.Setenv(config.EnvVar, "")
	addr, url = metricsURL(t)
	p = startProc(t, "local", "-n", "2", "-metrics", addr)
	p.stdout.WaitFor(t, ctx, "job_server_url", p.done)
	sc = metricstest.Get(t, url)
	sc.Want(t, 2, "glimpse_worker_slots")
	sc.Want(t, 1, "glimpse_fanout_subscribers", "topic", wire.CommandTopic)
	sc.Want(t, 0, "glimpse_pool_maps_started_total")
	metricstest.Promtool(t, sc)
	stopsWithin(t, ctx, p, 15*time.Second, addr)
}

// TestMetricsAddressErrors: a -metrics value that is no address, or one
// that is taken, is an error naming the flag; a bad config key names the
// file, section and key.
func TestMetricsAddressErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[fanout]", "store = "+filepath.Join(t.TempDir(), "fanout.db"))
	for _, cmd := range []string{"worker", "fanout"} {
		code, _, stderr := runCLI(t, "-c", cfg, cmd, "-metrics", "nonsense")
		if code != exitUsage || !strings.Contains(stderr, `-metrics: "nonsense": want [HOST]:PORT or PORT`) {
			t.Errorf("%s -metrics nonsense: exit %d, stderr:\n%s", cmd, code, stderr)
		}
		code, _, stderr = runCLI(t, "-c", cfg, cmd, "-metrics", taken.Addr().String())
		if want := `-metrics "` + taken.Addr().String() + `"`; code != exitFailure || !strings.Contains(stderr, want) || !strings.Contains(stderr, "address already in use") {
			t.Errorf("%s -metrics on a taken port: exit %d, want %d and %s ... address already in use; stderr:\n%s", cmd, code, exitFailure, want, stderr)
		}
	}
	bad := writeConfig(t, []string{srv.Addr()}, "[worker]", "metrics = :http")
	code, _, stderr := runCLI(t, "-c", bad, "worker")
	if code == exitOK || !strings.Contains(stderr, "[worker] metrics") || !strings.Contains(stderr, bad) {
		t.Errorf("[worker] metrics = :http: exit %d, stderr:\n%s", code, stderr)
	}
	inUse := writeConfig(t, []string{srv.Addr()}, "[worker]", "metrics = "+taken.Addr().String())
	code, _, stderr = runCLI(t, "-c", inUse, "worker")
	if code != exitFailure || !strings.Contains(stderr, "[worker] metrics") || !strings.Contains(stderr, "address already in use") {
		t.Errorf("[worker] metrics on a taken port: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestHTTPMetricsFlag: glimpse-cluster http -metrics serves the gateway's
// metrics on an address of its own, as the other processes do: the
// requests it answered, by route and code, and the job servers' queues;
// it stops with the gateway on SIGTERM.
func TestHTTPMetricsFlag(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[http]", "listen = 127.0.0.1:0")
	addr, url := metricsURL(t)
	p := startProc(t, "-c", cfg, "http", "-metrics", addr)
	out := p.stdout.Wait(t, ctx, "the gateway's URL", func(s string) bool { return strings.Contains(s, "\n") }, p.done)
	base, ok := strings.CutPrefix(strings.TrimSpace(out), "http: ")
	if !ok {
		t.Fatalf("http printed %q", out)
	}
	for range 3 {
		resp, err := http.Get(base + "healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	sc := metricstest.Get(t, url)
	sc.Want(t, 3, "glimpse_http_requests_total", "route", "GET /healthz", "code", "200")
	sc.Want(t, 1, "glimpse_jobserver_up", "server", srv.Addr())
	metricstest.Promtool(t, sc)
	stopsWithin(t, ctx, p, 10*time.Second, addr)
}
