package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// echoBytes returns its item: the 1 MB case.
var echoBytes = pool.Register("scaling.echo", func(_ context.Context, b []byte) ([]byte, error) {
	return b, nil
})

// workload is one job size: a map of jobs chunks.
type workload struct {
	name      string
	chunk     int // items per job
	itemBytes int // encoded size of an item, roughly
	jobs      int // default job count
	// prepare makes the items of a map of jobs jobs and returns the map,
	// which checks its results.
	prepare func(jobs int) func(ctx context.Context, p *pool.Pool) error
}

// The job counts keep each process's CPU over a measurement at a few
// hundred 10 ms ticks of /proc: a one-item job now costs gearmand under
// 10 µs, and 20,000 of them had come to about 15 ticks.
var workloads = []workload{
	{name: "1-item", chunk: 1, itemBytes: 8, jobs: 60000, prepare: squares(1)},
	{name: "1000-item", chunk: 1000, itemBytes: 8, jobs: 6000, prepare: squares(1000)},
	{name: "1MB-item", chunk: 1, itemBytes: 1 << 20, jobs: 600, prepare: megabytes},
}

// squares maps examples.square over jobs*chunk int64 in chunks of chunk.
func squares(chunk int) func(int) func(context.Context, *pool.Pool) error {
	return func(jobs int) func(context.Context, *pool.Pool) error {
		xs := make([]int64, jobs*chunk)
		for i := range xs {
			xs[i] = int64(i)
		}
		return func(ctx context.Context, p *pool.Pool) error {
			return mapSquares(ctx, p, xs, chunk)
		}
	}
}

func mapSquares(ctx context.Context, p *pool.Pool, xs []int64, chunk int) error {
	res, err := pool.Map(ctx, p, funcs.Square, xs, pool.Chunksize(chunk))
	if err != nil {
		return err
	}
	for i, x := range xs {
		if res[i] != x*x {
			return fmt.Errorf("square of %d: got %d", x, res[i])
		}
	}
	return nil
}

// megabytes maps scaling.echo over jobs items of 1 MB, one per chunk.
func megabytes(jobs int) func(context.Context, *pool.Pool) error {
	items := make([][]byte, jobs)
	for i := range items {
		items[i] = bytes.Repeat([]byte{byte(i)}, 1<<20)
	}
	return func(ctx context.Context, p *pool.Pool) error { return mapMegabytes(ctx, p, items) }
}

func mapMegabytes(ctx context.Context, p *pool.Pool, items [][]byte) error {
	res, err := pool.Map(ctx, p, echoBytes, items, pool.Chunksize(1))
	if err != nil {
		return err
	}
	for i := range items {
		if !bytes.Equal(res[i], items[i]) {
			return fmt.Errorf("item %d came back different (%d bytes)", i, len(res[i]))
		}
	}
	return nil
}

// Result is one measured run: per-job costs and what the run reached.
type Result struct {
	Case            string  `json:"case"`
	Where           string  `json:"where"` // "loopback" or "netns"
	Servers         int     `json:"servers"`
	GearmandThreads int     `json:"gearmand_threads"`
	WorkerProcs     int     `json:"worker_procs"`
	Slots           int     `json:"slots_per_worker"`
	Jobs            int     `json:"jobs"`
	ItemsPerJob     int     `json:"items_per_job"`
	Seconds         float64 `json:"seconds"`
	JobsPerS        float64 `json:"jobs_per_s"`
	// CPU microseconds per job: the client process, all gearmands, the
	// gearmands' busiest threads, all worker processes.
	ClientUs   float64 `json:"client_us"`
	GearmandUs float64 `json:"gearmand_us"`
	ThreadUs   float64 `json:"gearmand_busiest_thread_us"`
	WorkerUs   float64 `json:"worker_us"`
	// BytesPerJob is what the gearmands' TCP connections sent and
	// received per job.
	BytesPerJob float64 `json:"bytes_per_job"`
	// ServerShare is each gearmand's part of the gearmand CPU.
	ServerShare []float64 `json:"server_share"`
	// OurCores is the measured processes' CPU over the wall time;
	// MachineCores the whole machine's (other users' work included).
	OurCores     float64 `json:"our_cores"`
	MachineCores float64 `json:"machine_cores"`
}

// procs are the processes a run measures besides this one.
type procs struct {
	servers, workers []int
	ports            []int // each server's port
}

// snapshot is the counters at one moment.
type snapshot struct {
	at      time.Time
	client  time.Duration
	servers []time.Duration
	threads []map[string]time.Duration
	io      []int64
	workers []time.Duration
	machine time.Duration
}

func take(ps procs) (snapshot, error) {
	s := snapshot{client: selfCPU()}
	for i, pid := range ps.servers {
		cpu, err1 := procCPU(pid)
		th, err2 := threadCPU(pid)
		io, err3 := socketBytes(pid, ps.ports[i])
		if err := firstErr(err1, err2, err3); err != nil {
			return s, fmt.Errorf("gearmand pid %d: %w", pid, err)
		}
		s.servers, s.threads, s.io = append(s.servers, cpu), append(s.threads, th), append(s.io, io)
	}
	for _, pid := range ps.workers {
		cpu, err := procCPU(pid)
		if err != nil {
			return s, fmt.Errorf("worker pid %d: %w", pid, err)
		}
		s.workers = append(s.workers, cpu)
	}
	var err error
	s.machine, err = machineBusy()
	s.at = time.Now()
	return s, err
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// measure runs w once for warm-up (a tenth of the jobs), then jobs jobs
// between two snapshots.
func measure(ctx context.Context, p *pool.Pool, w workload, jobs int, ps procs) (Result, error) {
	if err := w.prepare(max(1, jobs/10))(ctx, p); err != nil {
		return Result{}, fmt.Errorf("%s warm-up: %w", w.name, err)
	}
	run := w.prepare(jobs)
	before, err := take(ps)
	if err != nil {
		return Result{}, err
	}
	if err := run(ctx, p); err != nil {
		return Result{}, fmt.Errorf("%s: %w", w.name, err)
	}
	after, err := take(ps)
	if err != nil {
		return Result{}, err
	}
	return diff(w, jobs, before, after), nil
}

// diff turns two snapshots into per-job figures.
func diff(w workload, jobs int, a, b snapshot) Result {
	wall := b.at.Sub(a.at).Seconds()
	n := float64(jobs)
	us := func(d time.Duration) float64 { return d.Seconds() * 1e6 / n }
	r := Result{Case: w.name, Jobs: jobs, ItemsPerJob: w.chunk, Seconds: wall, JobsPerS: n / wall,
		ClientUs: us(b.client - a.client), WorkerProcs: len(a.workers), Servers: len(a.servers)}
	var server, thread, worker time.Duration
	var io int64
	for i := range a.servers {
		d := b.servers[i] - a.servers[i]
		server += d
		// Ticks of 10 ms: a thread may show a tick more than its process.
		thread += min(busiest(a.threads[i], b.threads[i]), d)
		io += b.io[i] - a.io[i]
		r.ServerShare = append(r.ServerShare, d.Seconds())
	}
	for i := range r.ServerShare {
		r.ServerShare[i] /= max(server.Seconds(), 1e-9)
	}
	for i := range a.workers {
		worker += b.workers[i] - a.workers[i]
	}
	r.GearmandUs, r.ThreadUs, r.WorkerUs = us(server), us(thread), us(worker)
	r.BytesPerJob = float64(io) / n
	ours := (b.client - a.client) + server + worker
	r.OurCores = ours.Seconds() / wall
	r.MachineCores = (b.machine - a.machine).Seconds() / wall
	return r
}

// busiest is the largest CPU time any one thread gained between a and b.
func busiest(a, b map[string]time.Duration) time.Duration {
	var top time.Duration
	for tid, t := range b {
		top = max(top, t-a[tid])
	}
	return top
}
