// Command recovery measures how long a map takes to finish when a fault
// hits it part-way, next to the same map without a fault:
//
//   - none: no fault;
//   - worker SIGKILL: one worker process is killed and, as a supervisor
//     would, a replacement started at once; gearmand gives the chunk the
//     killed worker held to another worker;
//   - worker SIGKILL, not replaced: the same, and the map ends on the
//     workers that are left;
//   - gearmand restart: the job server is stopped (SIGTERM) and started
//     again on the same port; its queue is lost, the map's client and the
//     workers reconnect, and the map resubmits the chunks it was waiting
//     for;
//   - none, automatic chunks: no fault, and the pool's own chunk size
//     (items / (4 x slots)) instead of -chunksize: the baseline of the
//     next two;
//   - straggler: automatic chunks, and one worker process becomes 20
//     times slower (it is stopped 19 ms of every 20 with SIGSTOP/SIGCONT,
//     as an overloaded host would be) until the map ends; the map waits
//     for the chunk it holds;
//   - straggler, BackupTasks: the same, with pool.BackupTasks(): an idle
//     worker runs that chunk again and the first copy to finish wins.
//
// The cluster is local but real: a gearmand managed through
// internal/gearmand (with --job-retries=3, as cluster.StartLocal runs it)
// and -workers `glimpse-cluster worker -n SLOTS` processes. The map is
// examples.countprimes over -items ranges of about -cost CPU each, in
// chunks of -chunksize, with the pool's default options; the fault is
// injected when pool.Progress reports -fault-at of the items done. Each
// round runs the seven cases in turn; the medians are reported, and every
// map's results are checked against those of an untimed fault-free map
// run first.
//
//	recovery [-workers 2] [-slots 1] [-items 2000] [-cost 2ms] [-chunksize 10] [-fault-at 0.3] [-rounds 3] [-json FILE]
//
// -json writes the figures as JSON (bench/internal/benchjson.Recovery) for
// bench/report.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/pool"
)

// jobRetries is gearmand's --job-retries, as in cluster.StartLocal.
const jobRetries = 3

// The faults, in the order each round runs them.
const (
	faultNone       = "none"
	faultWorker     = "worker SIGKILL"
	faultWorkerGone = "worker SIGKILL, not replaced"
	faultGearmand   = "gearmand restart"
	faultNoneAuto   = "none, automatic chunks"
	faultStraggler  = "straggler"
	faultBackup     = "straggler, BackupTasks"
)

// stragglerSlowdown is how many times slower the straggler runs.
const stragglerSlowdown = 20

func main() {
	log.SetFlags(0)
	log.SetPrefix("recovery: ")
	var s setup
	flag.IntVar(&s.workers, "workers", 2, "worker processes")
	flag.IntVar(&s.slots, "slots", 1, "slots of each worker process")
	flag.IntVar(&s.items, "items", 2000, "items of the map")
	flag.DurationVar(&s.cost, "cost", 2*time.Millisecond, "CPU time of one item")
	flag.IntVar(&s.chunksize, "chunksize", 10, "items per chunk")
	flag.Float64Var(&s.faultAt, "fault-at", 0.3, "fraction of the items done when the fault is injected")
	rounds := flag.Int("rounds", 3, "rounds of the seven cases; medians are reported")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	flag.Parse()
	switch {
	case s.workers < 2:
		log.Fatalf("-workers %d: need at least 2, so that one survives the kill", s.workers)
	case s.slots < 1 || s.items < 1 || s.chunksize < 1 || s.cost <= 0 || *rounds < 1:
		log.Fatal("-slots, -items, -chunksize, -cost and -rounds must be positive")
	case s.faultAt <= 0 || s.faultAt >= 1:
		log.Fatalf("-fault-at %v: want a fraction strictly between 0 and 1", s.faultAt)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := run(ctx, s, *rounds, *bin)
	if err != nil {
		log.Fatal(err)
	}
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, out); err != nil {
			log.Fatal(err)
		}
	}
}

type setup struct {
	workers, slots, items, chunksize int
	cost                             time.Duration
	faultAt                          float64
}

// cluster is what a round acts on.
type cluster struct {
	setup
	gd *gearmand.Process
	ws *benchenv.Workers
	p  *pool.Pool
}

func run(ctx context.Context, s setup, rounds int, bin string) (benchjson.Recovery, error) {
	out := benchjson.Recovery{Workers: s.workers, Slots: s.slots, Items: s.items, ItemCostNs: s.cost.Nanoseconds(),
		Chunksize: s.chunksize, FaultAt: s.faultAt, Rounds: rounds, JobRetries: jobRetries}
	dir, err := os.MkdirTemp("", "recovery-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	c := &cluster{setup: s}
	c.gd, err = benchenv.StartGearmand(ctx, dir, fmt.Sprintf("--job-retries=%d", jobRetries))
	if err != nil {
		return out, err
	}
	defer c.gd.Stop()
	cfgPath, err := benchenv.WriteConfig(dir, c.gd.Addr())
	if err != nil {
		return out, err
	}
	c.ws = benchenv.NewWorkers(bin, cfgPath, s.slots)
	defer c.ws.Stop()
	c.p, err = pool.New(config.Client{JobServers: []string{c.gd.Addr()}})
	if err != nil {
		return out, err
	}
	defer c.p.Close()

	ranges := benchenv.PrimeRanges(s.items, s.cost)
	fmt.Printf("examples.countprimes: %d items of ~%v CPU in chunks of %d; %d worker processes x %d slots; fault at %.0f%% of the items; median of %d rounds\n",
		s.items, s.cost, s.chunksize, s.workers, s.slots, 100*s.faultAt, rounds)
	faults := []string{faultNone, faultWorker, faultWorkerGone, faultGearmand, faultNoneAuto, faultStraggler, faultBackup}
	type times struct{ total, after, took []float64 }
	got := map[string]*times{}
	for _, f := range faults {
		got[f] = &times{}
	}
	// One fault-free map first, not timed: it warms up the workers and
	// the pool's connections, and gives the results every map must match.
	want, _, err := c.mapWithFault(ctx, ranges, faultNone)
	if err != nil {
		return out, fmt.Errorf("warm-up map: %w", err)
	}
	for r := range rounds {
		for _, f := range faults {
			res, m, err := c.mapWithFault(ctx, ranges, f)
			if err != nil {
				return out, fmt.Errorf("round %d, %s: %w", r+1, f, err)
			}
			if !slices.Equal(res, want) {
				return out, fmt.Errorf("round %d, %s: the map's results differ from the fault-free map's", r+1, f)
			}
			fmt.Printf("round %d  %-28s total %6.2fs  fault to end %6.2fs  (injecting took %.3fs)\n", r+1, f, m.total, m.after, m.took)
			t := got[f]
			t.total, t.after, t.took = append(t.total, m.total), append(t.after, m.after), append(t.took, m.took)
		}
	}
	fmt.Printf("\n%-28s %10s %14s\n", "fault", "total_s", "fault_to_end_s")
	for _, f := range faults {
		t := got[f]
		row := benchjson.RecoveryRow{Fault: f, TotalS: median(t.total), AfterFaultS: median(t.after), FaultTookS: median(t.took),
			TotalRounds: t.total, AfterRounds: t.after}
		fmt.Printf("%-28s %10.2f %14.2f\n", f, row.TotalS, row.AfterFaultS)
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// measured is one map's timing, in seconds.
type measured struct {
	total float64 // the whole map
	after float64 // from the fault (or, without one, the same point of progress) to the end
	took  float64 // injecting the fault
}

// mapWithFault brings the cluster to full strength, runs the map and
// injects fault once the map's progress reaches faultAt.
func (c *cluster) mapWithFault(ctx context.Context, ranges []funcs.Range, fault string) ([]int64, measured, error) {
	var m measured
	if n := c.workers - c.ws.Len(); n > 0 {
		if err := c.ws.Start(n); err != nil {
			return nil, m, err
		}
	}
	if err := benchenv.WaitSlots(ctx, c.p, funcs.CountPrimes.Name(), c.workers*c.slots); err != nil {
		return nil, m, err
	}
	// The fault runs on its own goroutine: Progress runs on the map's, and
	// blocking it would stall the map. Progress closes trigger at the fault
	// point; a value sent instead means the map ended short of it.
	trigger := make(chan struct{})
	type injected struct {
		at   time.Time
		took time.Duration
		undo func()
		err  error
	}
	done := make(chan injected, 1)
	go func() {
		if _, ended := <-trigger; ended {
			done <- injected{err: fmt.Errorf("the map ended before %.0f%% of its items were done: no fault injected", 100*c.faultAt)}
			return
		}
		at := time.Now()
		undo, err := c.inject(ctx, fault)
		done <- injected{at: at, took: time.Since(at), undo: undo, err: err}
	}()
	fired := false
	threshold := int(c.faultAt * float64(len(ranges)))
	progress := pool.Progress(func(n, _ int) {
		if !fired && n >= threshold {
			fired = true
			close(trigger)
		}
	})
	opts := []pool.MapOption{progress}
	switch fault {
	case faultNoneAuto, faultStraggler:
	case faultBackup:
		opts = append(opts, pool.BackupTasks())
	default:
		opts = append(opts, pool.Chunksize(c.chunksize))
	}
	start := time.Now()
	res, err := pool.Map(ctx, c.p, funcs.CountPrimes, ranges, opts...)
	end := time.Now()
	if !fired {
		trigger <- struct{}{}
	}
	inj := <-done
	if inj.undo != nil {
		inj.undo()
	}
	if err != nil {
		return nil, m, fmt.Errorf("the map failed: %w", err)
	}
	if inj.err != nil {
		return nil, m, inj.err
	}
	m.total = end.Sub(start).Seconds()
	m.after = end.Sub(inj.at).Seconds()
	m.took = inj.took.Seconds()
	return res, m, nil
}

// inject causes fault; undo, if not nil, ends it (after the map).
func (c *cluster) inject(ctx context.Context, fault string) (undo func(), err error) {
	switch fault {
	case faultNone, faultNoneAuto:
		return nil, nil
	case faultWorker, faultWorkerGone:
		if err := c.ws.Kill(0); err != nil {
			return nil, err
		}
		if fault == faultWorker {
			return nil, c.ws.Start(1)
		}
		return nil, nil
	case faultGearmand:
		return nil, c.gd.Restart(ctx)
	case faultStraggler, faultBackup:
		return throttle(c.ws.Process(0), stragglerSlowdown), nil
	}
	return nil, fmt.Errorf("unknown fault %q", fault)
}

// throttle makes a process slowdown times slower, by letting it run 1ms
// out of every slowdown, until the returned func is called.
func throttle(p *os.Process, slowdown int) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer p.Signal(syscall.SIGCONT)
		for {
			p.Signal(syscall.SIGSTOP)
			select {
			case <-quit:
				return
			case <-time.After(time.Duration(slowdown-1) * time.Millisecond):
			}
			p.Signal(syscall.SIGCONT)
			select {
			case <-quit:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
