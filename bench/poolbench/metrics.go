package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/pool"
)

// scrapeEvery is how often the metrics are scraped during an "on" round:
// far more often than Prometheus' default 15s, so that the scrapes'
// cost shows if there is any.
const scrapeEvery = time.Second

// metricsCfg is what -metrics measures: rounds rounds of each setting,
// each running the trivial map until at least round has passed.
type metricsCfg struct {
	rounds int
	round  time.Duration
}

// metricsBench switches one local cluster's metrics on and off between
// rounds, so that nothing but the metrics differs between the settings.
type metricsBench struct {
	local       *cluster.Local
	xs          []int64
	round       time.Duration
	url         string // the metrics endpoint
	gearmandPid int    // gearmand's pid, for its CPU time
}

// roundResult is one round: its items/s, the CPU time the process set
// used over it, and the scrapes it saw.
type roundResult struct {
	items         int
	itemsPerS     float64
	took          time.Duration
	cpu           cpuSample
	scrapes, errs int
}

// compareMetrics measures the trivial map over xs on local with its
// metrics on (the worker counts, metrics.NewLocalCollector's collectors
// are served and scraped every scrapeEvery) and off (Worker.StopMetrics,
// no scrapes), cfg.rounds pairs of rounds, alternating which goes first.
// The pool's own counters (Pool.Stats) count in both: they cannot be
// switched off.
func compareMetrics(ctx context.Context, local *cluster.Local, xs []int64, cfg metricsCfg) (benchjson.PoolMetrics, error) {
	out := benchjson.PoolMetrics{Rounds: cfg.rounds, RoundMs: cfg.round.Milliseconds(), Items: len(xs), ScrapeEveryMs: scrapeEvery.Milliseconds()}
	gd, err := findGearmand(local.Config().JobServers[0])
	if err != nil {
		return out, err
	}
	srv, err := metrics.Listen("127.0.0.1:0", metrics.NewRegistry(metrics.NewLocalCollector(local)))
	if err != nil {
		return out, err
	}
	defer srv.Close()
	b := &metricsBench{local: local, xs: xs, round: cfg.round, url: srv.URL(), gearmandPid: gd}
	for _, on := range []bool{true, false} { // untimed: the first scrape sets up what later ones reuse
		if _, err := b.run(ctx, on); err != nil {
			return out, err
		}
	}
	var pairs [][2]roundResult // off, on
	for i := range cfg.rounds {
		var pair [2]roundResult
		for _, j := range alternate(i) {
			if pair[j], err = b.run(ctx, j == 1); err != nil {
				return out, err
			}
		}
		pairs = append(pairs, pair)
	}
	summarize(&out, pairs)
	if out.ScrapeCPUMs, err = b.scrapeCPU(); err != nil {
		return out, err
	}
	// At scrapeEvery, the scrapes' CPU per item of a map at the median
	// throughput with the metrics off, and its share of that map's CPU.
	out.ScrapeNsPerItem = out.ScrapeCPUMs * 1e6 / scrapeEvery.Seconds() / out.OffItemsPerS
	out.ScrapeShare = out.ScrapeNsPerItem / out.OffCPUNsPerItem
	return out, nil
}

// idleScrapes is how many scrapes scrapeCPU times.
const idleScrapes = 50

// scrapeCPU is the CPU time one scrape costs the process set, in ms:
// idleScrapes scrapes one after another on the idle cluster, less what
// the idle cluster uses over as long without them. Unlike the rounds'
// ratios, it hardly moves with the machine's load.
func (b *metricsBench) scrapeCPU() (float64, error) {
	b.local.Worker().Metrics()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	before, err := sampleCPU(b.gearmandPid)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for range idleScrapes {
		if err := scrape(client, b.url); err != nil {
			return 0, err
		}
	}
	took := time.Since(start)
	during, err := sampleCPU(b.gearmandPid)
	if err != nil {
		return 0, err
	}
	time.Sleep(took)
	after, err := sampleCPU(b.gearmandPid)
	if err != nil {
		return 0, err
	}
	busy := during.minus(before).nsPerItem(1) - after.minus(during).nsPerItem(1)
	return busy / 1e6 / idleScrapes, nil
}

// run runs one round with the metrics on or off.
func (b *metricsBench) run(ctx context.Context, on bool) (roundResult, error) {
	w := b.local.Worker()
	if on {
		w.Metrics() // counts from here on
	} else {
		w.StopMetrics()
	}
	var res roundResult
	before, err := sampleCPU(b.gearmandPid)
	if err != nil {
		return res, err
	}
	var sc *scraper
	if on {
		sc = startScraper(b.url, scrapeEvery)
	}
	res.items, res.took, err = mapsFor(ctx, b.local.Pool(), b.xs, b.round)
	if sc != nil {
		res.scrapes, res.errs = sc.stop()
	}
	if err != nil {
		return res, err
	}
	after, err := sampleCPU(b.gearmandPid)
	res.cpu = after.minus(before)
	res.itemsPerS = float64(res.items) / res.took.Seconds()
	return res, err
}

// mapsFor runs the trivial map over xs until at least d has passed, and
// returns the items mapped and the time that took.
func mapsFor(ctx context.Context, p *pool.Pool, xs []int64, d time.Duration) (int, time.Duration, error) {
	start := time.Now()
	items := 0
	for items == 0 || time.Since(start) < d {
		if _, err := trivialMap(ctx, p, xs); err != nil {
			return items, time.Since(start), err
		}
		items += len(xs)
	}
	return items, time.Since(start), nil
}

// summarize fills in out from the pairs of rounds (off, on).
func summarize(out *benchjson.PoolMetrics, pairs [][2]roundResult) {
	var rateRatios, cpuRatios []float64
	var items [2]int
	var cpu [2]cpuSample
	for _, p := range pairs {
		out.OffRoundsPerS = append(out.OffRoundsPerS, p[0].itemsPerS)
		out.OnRoundsPerS = append(out.OnRoundsPerS, p[1].itemsPerS)
		out.OffCPURoundsNs = append(out.OffCPURoundsNs, p[0].cpu.nsPerItem(p[0].items))
		out.OnCPURoundsNs = append(out.OnCPURoundsNs, p[1].cpu.nsPerItem(p[1].items))
		rateRatios = append(rateRatios, p[1].itemsPerS/p[0].itemsPerS)
		cpuRatios = append(cpuRatios, p[1].cpu.nsPerItem(p[1].items)/p[0].cpu.nsPerItem(p[0].items))
		for j, r := range p {
			items[j] += r.items
			cpu[j] = cpu[j].plus(r.cpu)
		}
		out.Scrapes += p[1].scrapes
		out.ScrapeErrors += p[1].errs
		out.OnSeconds += p[1].took.Seconds()
	}
	out.OffItemsPerS, out.OnItemsPerS = medianOf(out.OffRoundsPerS), medianOf(out.OnRoundsPerS)
	out.Ratio, out.RatioLow, out.RatioHigh = medianInterval(rateRatios)
	out.CPURatio, out.CPURatioLow, out.CPURatioHigh = medianInterval(cpuRatios)
	out.OffCPUNsPerItem, out.OnCPUNsPerItem = cpu[0].nsPerItem(items[0]), cpu[1].nsPerItem(items[1])
	out.OffGearmandNsPerItem = float64(cpu[0].gearmand.Nanoseconds()) / float64(items[0])
	out.OnGearmandNsPerItem = float64(cpu[1].gearmand.Nanoseconds()) / float64(items[1])
}

// printMetrics prints the comparison as poolbench's console output.
func printMetrics(m benchjson.PoolMetrics) {
	fmt.Printf("\nPrometheus metrics: the same local cluster, metrics switched on and off between rounds of >= %v\n",
		time.Duration(m.RoundMs)*time.Millisecond)
	fmt.Printf("(on: worker counting, every collector served and scraped every %v: %d scrapes, %.2f/s, %d failed);\n",
		time.Duration(m.ScrapeEveryMs)*time.Millisecond, m.Scrapes, float64(m.Scrapes)/m.OnSeconds, m.ScrapeErrors)
	fmt.Printf("%d pairs of rounds; on/off is the median of the pairs' ratios [95%% bootstrap interval]\n", m.Rounds)
	fmt.Printf("%-34s %14s %14s %8s %18s\n", "", "off", "on", "on/off", "interval")
	fmt.Printf("%-34s %14.0f %14.0f %8.3f %18s\n", fmt.Sprintf("trivial map %d, items/s", m.Items),
		m.OffItemsPerS, m.OnItemsPerS, m.Ratio, fmt.Sprintf("[%.3f, %.3f]", m.RatioLow, m.RatioHigh))
	fmt.Printf("%-34s %14.1f %14.1f %8.3f %18s\n", "CPU ns per item (+gearmand)",
		m.OffCPUNsPerItem, m.OnCPUNsPerItem, m.CPURatio, fmt.Sprintf("[%.3f, %.3f]", m.CPURatioLow, m.CPURatioHigh))
	fmt.Printf("%-34s %14.1f %14.1f\n", "  of which gearmand", m.OffGearmandNsPerItem, m.OnGearmandNsPerItem)
	fmt.Printf("one scrape on the idle cluster: %.2f ms of CPU (this process and gearmand); every %v, at %.0f items/s:\n",
		m.ScrapeCPUMs, time.Duration(m.ScrapeEveryMs)*time.Millisecond, m.OffItemsPerS)
	fmt.Printf("%.3f ns per item, %.2f%% of the map's CPU with the metrics off\n", m.ScrapeNsPerItem, 100*m.ScrapeShare)
}
