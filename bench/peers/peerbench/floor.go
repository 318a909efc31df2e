package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// floorFunc squares an 8-byte little-endian int64 and echoes anything
// else: the floor's worker function.
const floorFunc = "peerbench.floor"

func floorJob(_ context.Context, j *gearman.Job) ([]byte, error) {
	if len(j.Data) != 8 {
		return j.Data, nil
	}
	x := int64(binary.LittleEndian.Uint64(j.Data))
	return binary.LittleEndian.AppendUint64(nil, uint64(x*x)), nil
}

// runFloor runs the one-item-per-task, single-call and large-item workloads on a bare
// gearman.Client and a gearman.Worker of s.workers jobs at once, on a
// gearmand of its own: what any Gearman pool pays at least. It has no
// maps, so no trivial or CPU-bound figures.
func runFloor(ctx context.Context, s settings) benchjson.PeerRun {
	run := benchjson.PeerRun{Name: "Gearman floor", Version: "gearman.Client + gearman.Worker, gearmand " + gearmandVersion()}
	fmt.Printf("\n%s (%s)\n", run.Name, run.Version)
	start := time.Now()
	c, stop, err := startFloor(ctx, s.workers)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer stop()
	run.SetupS = time.Since(start).Seconds()
	call := func(ctx context.Context) func(int64) (int64, error) {
		return func(x int64) (int64, error) {
			out, err := c.Call(ctx, floorFunc, binary.LittleEndian.AppendUint64(nil, uint64(x)))
			if err != nil || len(out) != 8 {
				return 0, errors.Join(err, errWrong)
			}
			return int64(binary.LittleEndian.Uint64(out)), nil
		}
	}
	for _, w := range []string{benchjson.PeerOneByOne, benchjson.PeerLatency, benchjson.PeerConcurrent, benchjson.PeerLarge} {
		r := bounded(ctx, s.glimpseTimeout, w, func(ctx context.Context, w string) (benchjson.PeerResult, error) {
			switch w {
			case benchjson.PeerLatency:
				return latency(ctx, s, "Client.Call", call(ctx))
			case benchjson.PeerLarge:
				return floorLarge(ctx, s, c)
			case benchjson.PeerOneByOne:
				return floorOneByOne(ctx, s, c)
			}
			return concurrent(ctx, s, "Client.Call per call, each in its own goroutine", call(ctx))
		})
		printResult(r)
		run.Results = append(run.Results, r)
	}
	return run
}

// startFloor starts a gearmand, a worker serving floorFunc and a client.
func startFloor(ctx context.Context, jobsAtOnce int) (*gearman.Client, func(), error) {
	gd, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		return nil, nil, err
	}
	addrs := []string{gd.Addr()}
	// The worker asks ahead as glimpse-go's worker does (cluster's
	// WithPrefetch(4 x slots)): without it the floor lay under glimpse-go.
	w, err := gearman.NewWorker(addrs, gearman.WithConcurrency(jobsAtOnce), gearman.WithPrefetch(4*jobsAtOnce))
	if err == nil {
		err = w.Register(floorFunc, floorJob)
	}
	if err != nil {
		gd.Stop()
		return nil, nil, err
	}
	ran := make(chan struct{})
	go func() { defer close(ran); w.Run() }()
	c, err := gearman.NewClient(ctx, addrs)
	stop := func() {
		if c != nil {
			c.Close()
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Shutdown(sctx)
		<-ran
		gd.Stop()
	}
	if err != nil {
		c = nil
		stop()
		return nil, nil, err
	}
	return c, stop, nil
}

// floorLarge sends the large items as echo jobs, all in flight at once.
func floorLarge(ctx context.Context, s settings, c *gearman.Client) (benchjson.PeerResult, error) {
	blobs := largeItems(s)
	r := benchjson.PeerResult{How: "Client.Call per item, all in flight", Items: len(blobs)}
	var err error
	r.Value, r.Rounds, err = medianRate(s, float64(len(blobs)*s.LargeBytes)/1e6, func() error {
		errs := make([]error, len(blobs))
		var wg sync.WaitGroup
		for i, b := range blobs {
			wg.Go(func() {
				out, err := c.Call(ctx, floorFunc, b)
				if err == nil && !bytes.Equal(out, b) {
					err = errWrong
				}
				errs[i] = err
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	return r, err
}

// floorOneByOne is the trivial map of s.OneByOne items as bare jobs: every
// item dispatched (pipelined on the client's connection), then every
// result awaited.
func floorOneByOne(ctx context.Context, s settings, c *gearman.Client) (benchjson.PeerResult, error) {
	r := benchjson.PeerResult{How: "Client.Dispatch per item, all in flight, then Wait each", Items: s.OneByOne}
	var err error
	r.Value, r.Rounds, err = medianRate(s, float64(s.OneByOne), func() error {
		tasks := make([]*gearman.Task, s.OneByOne)
		for i := range tasks {
			t, err := c.Dispatch(ctx, floorFunc, binary.LittleEndian.AppendUint64(nil, uint64(i)))
			if err != nil {
				return err
			}
			tasks[i] = t
		}
		for i, t := range tasks {
			out, err := t.Wait(ctx)
			if err != nil || len(out) != 8 || int64(binary.LittleEndian.Uint64(out)) != int64(i)*int64(i) {
				return errors.Join(err, errWrong)
			}
		}
		return nil
	})
	return r, err
}
