package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/pool"
)

// scrapeEvery is how often the "on" cluster is scraped during its maps:
// far more often than Prometheus' default 15s, so that the scrapes'
// cost shows if there is any.
const scrapeEvery = time.Second

// compareMetrics measures the trivial map over xs on off (a cluster whose
// metrics nobody asked for) against a second local cluster of the same
// slots whose metrics are on: metrics.NewLocalCollector (worker, pool, broker,
// fanout, job servers) registered, served on loopback and scraped every
// scrapeEvery. The two alternate, each going first every other round.
func compareMetrics(ctx context.Context, off *pool.Pool, slots int, xs []int64, rounds int) (benchjson.PoolMetrics, error) {
	out := benchjson.PoolMetrics{Rounds: rounds, Items: len(xs), ScrapeEveryMs: scrapeEvery.Milliseconds()}
	wc := config.DefaultWorker()
	wc.LogLevel = slog.LevelWarn
	wc.Slots = slots
	on, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc, Log: io.Discard})
	if err != nil {
		return out, err
	}
	defer on.Close()
	srv, err := metrics.Listen("127.0.0.1:0", metrics.NewRegistry(metrics.NewLocalCollector(on)))
	if err != nil {
		return out, err
	}
	defer srv.Close()
	pools := [2]*pool.Pool{off, on.Pool()}
	for _, q := range pools { // untimed: the new cluster has just started
		if _, err := trivialMap(ctx, q, xs); err != nil {
			return out, err
		}
	}
	scrapes, stop := scrapeWhile(srv.URL())
	defer stop()
	var ratios []float64
	var cpu [2]time.Duration
	for i := range rounds {
		var rate [2]float64
		for _, j := range alternate(i) {
			before := processCPU()
			if rate[j], err = trivialMap(ctx, pools[j], xs); err != nil {
				return out, err
			}
			cpu[j] += processCPU() - before
		}
		out.OffRoundsPerS = append(out.OffRoundsPerS, rate[0])
		out.OnRoundsPerS = append(out.OnRoundsPerS, rate[1])
		ratios = append(ratios, rate[1]/rate[0])
	}
	stop()
	out.Scrapes = int(scrapes.Load())
	out.OffItemsPerS, out.OnItemsPerS = medianOf(out.OffRoundsPerS), medianOf(out.OnRoundsPerS)
	out.Ratio = medianOf(ratios)
	items := float64(rounds * len(xs))
	out.OffCPUNsPerItem, out.OnCPUNsPerItem = float64(cpu[0].Nanoseconds())/items, float64(cpu[1].Nanoseconds())/items
	out.CPURatio = out.OnCPUNsPerItem / out.OffCPUNsPerItem
	return out, nil
}

// processCPU is the user and system CPU time this process has used: the
// client, the worker, the broker and the fanout worker of both local
// clusters (not gearmand, a process of its own, the same for both).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scrapeWhile scrapes url every scrapeEvery until stop, counting the
// scrapes that answered.
func scrapeWhile(url string) (*atomic.Int64, func()) {
	var n atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: 10 * time.Second}
		tick := time.NewTicker(scrapeEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if resp, err := client.Get(url); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		}
	})
	var once sync.Once
	return &n, func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// printMetrics prints the comparison as poolbench's console output.
func printMetrics(m benchjson.PoolMetrics) {
	fmt.Printf("\nPrometheus metrics: a local cluster with every collector served and scraped every %v (%d scrapes),\n",
		time.Duration(m.ScrapeEveryMs)*time.Millisecond, m.Scrapes)
	fmt.Printf("alternating with one whose metrics are off; median of %d rounds\n", m.Rounds)
	fmt.Printf("%-28s %14s %14s %8s\n", "", "off", "on", "on/off")
	fmt.Printf("%-28s %14.0f %14.0f %8.3f\n", fmt.Sprintf("trivial map %d, items/s", m.Items), m.OffItemsPerS, m.OnItemsPerS, m.Ratio)
	fmt.Printf("%-28s %14.1f %14.1f %8.3f\n", "CPU ns per item (process)", m.OffCPUNsPerItem, m.OnCPUNsPerItem, m.CPURatio)
}
