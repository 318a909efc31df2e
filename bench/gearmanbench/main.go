// Command gearmanbench measures jobs/s of gearman.Client + gearman.Worker
// and, in the same run on the same gearmand, of libgearman's C client and
// echo worker (bench/cgearman), and prints the ratio.
//
//	gearmanbench [-workers 1,2] [-jobs 100000] [-size 16] [-window 1000] [-json FILE]
//
// Each worker is a process of its own on both sides. With GEARMAN_PORT set
// it uses the gearmand already listening on 127.0.0.1:GEARMAN_PORT and
// measures only the Go pair, printing "go_jobs_per_s N"; WORKERS and JOBS
// set the worker count and job count. -json writes the figures as JSON
// (bench/internal/benchjson.Gearman) for bench/report.
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gearmanbench: ")
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := serveEcho(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	workersFlag := flag.String("workers", "1,2", "comma-separated worker process counts to measure")
	jobs := flag.Int("jobs", 100000, "jobs per measurement")
	size := flag.Int("size", 16, "payload bytes per job")
	window := flag.Int("window", 1000, "jobs in flight from the client")
	rounds := flag.Int("rounds", 3, "measurements of each pair (alternating); the median is reported")
	concurrencyFlag := flag.String("concurrency", "0,2", "comma-separated jobs-at-once settings of each Go worker process to measure (0: the default, 4*GOMAXPROCS)")
	cdir := flag.String("cdir", "bench/cgearman", "directory of the C benchmark (built with make)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the Go client side to this file")
	threads := flag.Int("threads", 0, "gearmand --threads (0: gearmand's default)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if v := os.Getenv("WORKERS"); v != "" {
		*workersFlag = v
	}
	if v := os.Getenv("JOBS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			log.Fatalf("JOBS=%q is not a positive number", v)
		}
		*jobs = n
	}
	counts, err := benchenv.ParseList("-workers", *workersFlag, 1)
	if err != nil {
		log.Fatal(err)
	}
	concurrencies, err := benchenv.ParseList("-concurrency", *concurrencyFlag, 0)
	if err != nil {
		log.Fatal(err)
	}
	if *rounds < 1 {
		log.Fatalf("-rounds %d: need at least 1", *rounds)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{jobs: *jobs, size: *size, window: *window}
	if port := os.Getenv("GEARMAN_PORT"); port != "" {
		b.addr = "127.0.0.1:" + port
		for _, n := range counts {
			r, err := b.goPair(ctx, n, concurrencies[0])
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("go_jobs_per_s %.0f\n", r.rate)
		}
		return
	}
	if err := b.buildC(*cdir); err != nil {
		log.Fatal(err)
	}
	args := []string{"--verbose=ERROR"}
	if *threads > 0 {
		args = append(args, fmt.Sprintf("--threads=%d", *threads))
	}
	srv, err := gearmand.Start(ctx, gearmand.Options{Args: args})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	b.addr, b.serverPid = srv.Addr(), srv.Pid()
	fmt.Printf("gearmand %s; %d jobs of %d bytes, %d in flight; median of %d rounds\n",
		b.addr, b.jobs, b.size, b.window, *rounds)
	fmt.Printf("cpu_us: microseconds of CPU per job in the client / the workers / gearmand\n")
	fmt.Printf("%-8s %-14s %14s %-16s %14s %-16s %6s\n", "workers", "go_slots", "go_jobs_per_s", "go_cpu_us", "c_jobs_per_s", "c_cpu_us", "ratio")
	out := benchjson.Gearman{Jobs: b.jobs, PayloadBytes: b.size, Window: b.window, Rounds: *rounds, GearmandThreads: *threads}
	for _, n := range counts {
		goRuns := make([][]result, len(concurrencies))
		var cRuns []result
		for range *rounds {
			for i, conc := range concurrencies {
				r, err := b.goPair(ctx, n, conc)
				if err != nil {
					log.Fatal(err)
				}
				goRuns[i] = append(goRuns[i], r)
			}
			r, err := b.cPair(ctx, n)
			if err != nil {
				log.Fatal(err)
			}
			cRuns = append(cRuns, r)
		}
		cRates := rates(cRuns)
		c := median(cRuns)
		for i, conc := range concurrencies {
			goRates := rates(goRuns[i])
			g := median(goRuns[i])
			slots := strconv.Itoa(conc)
			if conc == 0 {
				// The worker processes run on this machine with the
				// same GOMAXPROCS.
				conc = 4 * runtime.GOMAXPROCS(0)
				slots = fmt.Sprintf("default(%d)", conc)
			}
			fmt.Printf("%-8d %-14s %14.0f %-16s %14.0f %-16s %6.2f\n", n, slots, g.rate, b.cpu(g), c.rate, b.cpu(c), g.rate/c.rate)
			out.Rows = append(out.Rows, benchjson.GearmanRow{Workers: n, GoConcurrency: conc,
				GoJobsPerS: g.rate, CJobsPerS: c.rate, Ratio: g.rate / c.rate,
				GoRoundsPerS: goRates, CRoundsPerS: cRates, GoCPUus: b.cpuJSON(g), CCPUus: b.cpuJSON(c)})
		}
	}
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, out); err != nil {
			log.Fatal(err)
		}
	}
}

// rates returns the jobs/s of each measurement, in order.
func rates(rs []result) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.rate
	}
	return out
}

// result is one measurement.
type result struct {
	rate                      float64 // jobs/s
	client, workers, gearmand time.Duration
}

func median(rs []result) result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.rate, b.rate) })
	return rs[len(rs)/2]
}

func (b *bench) cpu(r result) string {
	c := b.cpuJSON(r)
	return fmt.Sprintf("%.1f/%.1f/%.1f", c.Client, c.Workers, c.Gearmand)
}

// cpuJSON is the CPU microseconds per job of each party.
func (b *bench) cpuJSON(r result) benchjson.CPU {
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.jobs) }
	return benchjson.CPU{Client: us(r.client), Workers: us(r.workers), Gearmand: us(r.gearmand)}
}

// processCPU reads a process's user+system CPU time from /proc.
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" that closes the command name; utime and stime
	// are fields 14 and 15 of the whole line, in clock ticks (100/s).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type bench struct {
	addr      string
	serverPid int
	jobs      int
	size      int
	window    int
	cbin      string
	run       atomic.Int64
}

func (b *bench) buildC(dir string) error {
	out, err := exec.Command("make", "-s", "-C", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("building the C benchmark in %s: %v\n%s", dir, err, out)
	}
	b.cbin, err = filepath.Abs(filepath.Join(dir, "bin"))
	return err
}

// goPair starts n Go worker processes and times b.jobs calls from one
// gearman.Client in this process.
func (b *bench) goPair(ctx context.Context, n, concurrency int) (result, error) {
	fn := fmt.Sprintf("bench_go_%d_%d", os.Getpid(), b.run.Add(1))
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	return b.measure(ctx, fn, n, func() *exec.Cmd {
		return exec.Command(self, "worker", b.addr, fn, strconv.Itoa(concurrency))
	}, func() (time.Duration, error) {
		c, err := gearman.NewClient(ctx, []string{b.addr})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		before := selfCPU()
		err = b.callAll(ctx, c, fn)
		return selfCPU() - before, err
	})
}

func (b *bench) callAll(ctx context.Context, c *gearman.Client, fn string) error {
	unique := strconv.Itoa(os.Getpid()) + "-"
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(b.window, b.jobs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, b.size)
			for {
				i := next.Add(1)
				if i > int64(b.jobs) {
					return
				}
				copy(payload, strconv.FormatInt(i, 10))
				// A unique id per job, as the C client sends ("<pid>-<seq>"):
				// libgearman always sends one, so gearmand does the same
				// work for both sides.
				res, err := c.Call(ctx, fn, payload, gearman.WithUnique(unique+strconv.FormatInt(i, 10)))
				if err == nil && !bytes.Equal(res, payload) {
					err = fmt.Errorf("job %d: got %q back, sent %q", i, res, payload)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// cPair does the same with bench/cgearman's echo_worker and client.
func (b *bench) cPair(ctx context.Context, n int) (result, error) {
	fn := fmt.Sprintf("bench_c_%d_%d", os.Getpid(), b.run.Add(1))
	host, port, _ := strings.Cut(b.addr, ":")
	return b.measure(ctx, fn, n, func() *exec.Cmd {
		return exec.Command(filepath.Join(b.cbin, "echo_worker"), host, port, fn)
	}, func() (time.Duration, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(b.cbin, "client"), host, port, fn,
			strconv.Itoa(b.jobs), strconv.Itoa(b.size), strconv.Itoa(b.window))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("C client: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "c_jobs_per_s ") {
			return 0, fmt.Errorf("C client printed no c_jobs_per_s line:\n%s", out)
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
	})
}

// measure starts n workers, waits until gearmand lists them, and times
// run, which returns the client's CPU time.
func (b *bench) measure(ctx context.Context, fn string, n int, worker func() *exec.Cmd, run func() (time.Duration, error)) (result, error) {
	stopWorkers, err := startWorkers(ctx, n, worker)
	if err != nil {
		return result{}, err
	}
	if err := waitForWorkers(ctx, b.addr, fn, n); err != nil {
		stopWorkers()
		return result{}, err
	}
	serverBefore := processCPU(b.serverPid)
	start := time.Now()
	clientCPU, err := run()
	elapsed := time.Since(start)
	serverCPU := processCPU(b.serverPid) - serverBefore
	workerCPU := stopWorkers()
	if err != nil {
		return result{}, err
	}
	return result{rate: float64(b.jobs) / elapsed.Seconds(), client: clientCPU, workers: workerCPU, gearmand: serverCPU}, nil
}

// startWorkers starts n processes and returns a func that stops them
// (SIGTERM, then SIGKILL after 5s) and returns the CPU time they used.
func startWorkers(ctx context.Context, n int, mk func() *exec.Cmd) (func() time.Duration, error) {
	var cmds []*exec.Cmd
	stop := func() time.Duration {
		benchenv.Terminate(cmds)
		var cpu time.Duration
		for _, c := range cmds {
			cpu += c.ProcessState.UserTime() + c.ProcessState.SystemTime()
		}
		return cpu
	}
	for range n {
		c := mk()
		c.Stderr = os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// waitForWorkers polls the admin status until n workers serve fn.
func waitForWorkers(ctx context.Context, addr, fn string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		return err
	}
	defer a.Close()
	for {
		st, err := a.Status(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %d workers of %s: %w", n, fn, err)
		}
		for _, s := range st {
			if s.Name == fn && s.Workers >= n {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d workers of %s: %w", n, fn, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// serveEcho is the Go worker process: worker ADDR FUNC CONCURRENCY.
func serveEcho(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: gearmanbench worker ADDR FUNC CONCURRENCY")
	}
	var opts []gearman.WorkerOption
	if n, _ := strconv.Atoi(args[2]); n > 0 {
		opts = append(opts, gearman.WithConcurrency(n))
	}
	if path := os.Getenv("GEARMANBENCH_WORKER_CPUPROFILE"); path != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	w, err := gearman.NewWorker([]string{args[0]}, opts...)
	if err != nil {
		return err
	}
	echo := func(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil }
	if err := w.Register(args[1], echo); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Shutdown(ctx)
	}()
	if err := w.Run(); !errors.Is(err, gearman.ErrWorkerClosed) {
		return err
	}
	return nil
}
