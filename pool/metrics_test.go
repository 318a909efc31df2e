package pool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/metricstest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/pool"
)

// dyingWorker takes one chunk of funcs.Square, announces it as a glimpse
// worker does, and holds it until the test closes the worker: to the job
// server a worker that died running it.
type dyingWorker struct {
	once    sync.Once
	w       *gearman.Worker
	started chan struct{}
	ran     chan error
}

func startDyingWorker(t *testing.T, addr, id string) *dyingWorker {
	t.Helper()
	d := &dyingWorker{started: make(chan struct{}, 1), ran: make(chan error, 1)}
	var err error
	d.w, err = gearman.NewWorker([]string{addr}, gearman.WithConcurrency(1), gearman.WithClientID(wire.WorkerClientID(id, 1)))
	if err != nil {
		t.Fatal(err)
	}
	d.w.Register(wire.GearmanPrefix+funcs.Square.Name(), func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		j.SendData(wire.ChunkStarted(id))
		d.started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	go func() { d.ran <- d.w.Run() }()
	t.Cleanup(d.die)
	return d
}

func (d *dyingWorker) die() {
	d.once.Do(func() {
		d.w.Close()
		<-d.ran
	})
}

// TestPoolCollector runs maps that crash-loop, get a backup task, succeed
// and retry on a real gearmand, and scrapes the pool's metrics over HTTP
// after each: maps started, finished and failed, chunks in flight,
// retries, crash loops, backup tasks launched and won.
func TestPoolCollector(t *testing.T) {
	addr := gearmand(t)
	ctx := testenv.Context(t)
	p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithNoWorkersGrace(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := metrics.Listen("127.0.0.1:0", metrics.NewRegistry(metrics.NewPoolCollector(p)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// A crash loop: two workers take the chunk in turn and die with it.
	a, b := startDyingWorker(t, addr, "dier-a"), startDyingWorker(t, addr, "dier-b")
	waitSlots(t, p, funcs.Square.Name(), 2)
	mapped := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, p, funcs.Square, []int64{7}, pool.Retries(0))
		mapped <- err
	}()
	first := waitStarted(t, ctx, a, b)
	first.die() // gearmand gives its chunk to the other
	second := map[*dyingWorker]*dyingWorker{a: b, b: a}[first]
	waitStarted(t, ctx, second)
	if err := <-mapped; !errors.Is(err, pool.ErrCrashLoop) {
		t.Fatalf("map over dying workers: %v, want ErrCrashLoop", err)
	}
	a.die()
	b.die()
	sc := metricstest.Get(t, s.URL())
	sc.Want(t, 1, "glimpse_pool_crash_loops_total")
	sc.Want(t, 1, "glimpse_pool_maps_failed_total")

	testBackupMetrics(t, ctx, p, addr, s.URL())

	if _, err := pool.Map(ctx, p, funcs.Square, ints(100), pool.Chunksize(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Map(ctx, p, failOdd, []int{1}, pool.RetryTaskErrors(), pool.Retries(2)); err == nil {
		t.Fatal("failOdd(1) succeeded")
	}
	sc = metricstest.Get(t, s.URL())
	sc.Want(t, 4, "glimpse_pool_maps_started_total")
	sc.Want(t, 2, "glimpse_pool_maps_finished_total")
	sc.Want(t, 2, "glimpse_pool_maps_failed_total")
	sc.Want(t, 0, "glimpse_pool_chunks_in_flight")
	sc.Want(t, 2, "glimpse_pool_retries_total")
	sc.Want(t, 1, "glimpse_pool_crash_loops_total")
	sc.Want(t, 1, "glimpse_pool_backup_tasks_launched_total")
	sc.Want(t, 1, "glimpse_pool_backup_tasks_won_total")
	sc.Want(t, 0, "glimpse_pool_direct_chunks_total") // small items: see TestDirectPathBypassesJobServer
	sc.Want(t, 0, "glimpse_pool_direct_fallbacks_total")
	metricstest.Promtool(t, sc)
}

// waitStarted returns the first of ds to take a chunk.
func waitStarted(t *testing.T, ctx context.Context, ds ...*dyingWorker) *dyingWorker {
	t.Helper()
	for {
		for _, d := range ds {
			select {
			case <-d.started:
				return d
			default:
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("no worker took the chunk")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// testBackupMetrics: a straggler holds a chunk, its ten chunks show in
// flight, and once fast workers come a backup copy wins.
func testBackupMetrics(t *testing.T, ctx context.Context, p *pool.Pool, addr, url string) {
	t.Helper()
	s := startStraggler(t, addr)
	waitSlots(t, p, funcs.Square.Name(), 1)
	mapped := make(chan error, 1)
	go func() {
		_, err := pool.Map(ctx, p, funcs.Square, ints(100), pool.Chunksize(10), pool.BackupTasks())
		mapped <- err
	}()
	<-s.held
	testenv.Eventually(t, ctx, "10 chunks in flight", func() (bool, error) {
		v, _ := metricstest.Get(t, url).Value("glimpse_pool_chunks_in_flight")
		return v == 10, nil
	})
	startWorker(t, 1, addr)
	startWorker(t, 1, addr)
	if err := <-mapped; err != nil {
		t.Fatal(err)
	}
	if s.ran.Load() != 0 {
		t.Fatal("the straggler's copy decided the chunk")
	}
}
