package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// section is one part of the report, written from its program's JSON.
type section struct {
	name  string // the step name: NAME.json, NAME.txt, NAME.png
	title string
	write func(b *strings.Builder, out, name string) error
}

func render(out string, meta Meta) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# glimpse-go benchmarks\n\n")
	if meta.Quick {
		fmt.Fprintf(&b, "> **Quick run (BENCH_QUICK): smaller sizes and fewer rounds, for checking the format. These are not the real figures.**\n\n")
	}
	fmt.Fprintf(&b, "All figures come from one run of `%s` on one machine. Every program starts its own gearmand (and broker,\n", meta.Command)
	fmt.Fprintf(&b, "fanout worker, worker processes) on loopback, so the figures include real processes and real sockets.\n\n")
	writeSetup(&b, meta)

	sections := []section{
		{"gearman", "Gearman: gearman.Client+Worker vs libgearman's C client+worker", writeGearman},
		{"pool", "pool.Map: items/s vs chunk size, and parallel efficiency", writePool},
		{"imap", "pool.Imap: peak memory vs input length", writeImap},
		{"ping", "Broadcast ping latency vs number of workers", writePing},
		{"recovery", "Recovery: a map hit by a fault, next to the same map without one", writeRecovery},
	}
	for i, s := range sections {
		writeSection(&b, out, meta, i+1, s)
	}
	// From the keyed figures of pool and ping: issue 11's bar in one place.
	fmt.Fprintf(&b, "## %d. Cluster key overhead\n\n", len(sections)+1)
	if err := writeKeyOverhead(&b, out); err != nil {
		fmt.Fprintf(&b, "**Not measured**: %v; see [pool.txt](pool.txt) and [ping.txt](ping.txt).\n\n", err)
	}
	peers := section{"peers", "Peers: the same workloads on the pools a user would pick instead", writePeers}
	writeSection(&b, out, meta, len(sections)+2, peers)
	hooks := section{"webhook", "Webhook deliveries: the built-in webhook function to a loopback receiver", writeWebhook}
	writeSection(&b, out, meta, len(sections)+3, hooks)
	shared := section{"shared", "Shared values: a 50 MB value shared by every item, next to the same map without it", writeShared}
	writeSection(&b, out, meta, len(sections)+4, shared)
	reduce := section{"reduce", "pool.Reduce: map/reduce on the workers", writeReduce}
	writeSection(&b, out, meta, len(sections)+5, reduce)
	bg := section{"tasks", "Background tasks: enqueues/s and end-to-end tasks/s, beside Celery", writeTasks}
	writeSection(&b, out, meta, len(sections)+6, bg)
	gw := section{"gateway", "HTTP gateway: registered functions over HTTP (/call, /map)", writeGateway}
	writeSection(&b, out, meta, len(sections)+7, gw)
	sections = append(sections, peers, hooks, shared, reduce, bg, gw) // for the raw figures below

	fmt.Fprintf(&b, "## Raw figures\n\n")
	fmt.Fprintf(&b, "Each program's JSON (`-json FILE`, types in `bench/internal/benchjson`) and console output are next to this\n")
	fmt.Fprintf(&b, "report; `meta.json` has the set-up above. `bin/benchreport -render-only` rewrites this report and the charts\n")
	fmt.Fprintf(&b, "from them.\n\n")
	for _, s := range sections {
		fmt.Fprintf(&b, "- %s: [%s.json](%s.json), [%s.txt](%s.txt)\n", s.name, s.name, s.name, s.name, s.name)
	}
	fmt.Fprintf(&b, "- [meta.json](meta.json)\n")
	return os.WriteFile(filepath.Join(out, "REPORT.md"), []byte(b.String()), 0o644)
}

// writeSection writes section s as number n, or why it has no figures.
func writeSection(b *strings.Builder, out string, meta Meta, n int, s section) {
	fmt.Fprintf(b, "## %d. %s\n\n", n, s.title)
	if st, ok := findStep(meta, s.name); ok {
		fmt.Fprintf(b, "`%s` (%.0f s)\n\n", shellJoin(st.Args), st.Seconds)
	}
	if err := s.write(b, out, s.name); err != nil {
		why := err.Error()
		if st, ok := findStep(meta, s.name); ok && st.Error != "" {
			why = "the program failed: " + st.Error
		}
		fmt.Fprintf(b, "**Not measured**: %s; its output is in [%s.txt](%s.txt).\n\n", why, s.name, s.name)
	}
}

func findStep(meta Meta, name string) (step, bool) {
	for _, s := range meta.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return step{}, false
}

func writeSetup(b *strings.Builder, meta Meta) {
	m := meta.Machine
	took := meta.Finished.Sub(meta.Started).Round(time.Second)
	fmt.Fprintf(b, "| | |\n| --- | --- |\n")
	fmt.Fprintf(b, "| date | %s (took %s) |\n", meta.Started.Format("2006-01-02 15:04 UTC"), took)
	fmt.Fprintf(b, "| machine | %d CPUs, %s, %.1f GiB RAM, %s |\n", m.CPUs, m.Model, float64(m.MemTotalMiB)/1024, m.Kernel)
	fmt.Fprintf(b, "| load average (1/5/15 min) | %s at the start, %s at the end |\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(b, "| Go | %s |\n", meta.GoVersion)
	fmt.Fprintf(b, "| gearmand | %s (libgearman %s) |\n", meta.GearmandVersion, meta.LibgearmanVersion)
	fmt.Fprintf(b, "| libzmq | %s |\n", meta.LibzmqVersion)
	fmt.Fprintf(b, "| commit | %s |\n", meta.Commit)
	fmt.Fprintf(b, "| command | `%s` |\n\n", meta.Command)
}

func writeGearman(b *strings.Builder, out, name string) error {
	var g benchjson.Gearman
	if err := benchjson.Read(filepath.Join(out, name+".json"), &g); err != nil {
		return err
	}
	if len(g.Rows) == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "Echo jobs of %d bytes, %s per measurement, %s in flight from one client; each worker is a process of its\n",
		g.PayloadBytes, num(float64(g.Jobs)), num(float64(g.Window)))
	fmt.Fprintf(b, "own. The Go pair (`gearman.Client` + `gearman.Worker`) and the C pair (`bench/cgearman`, libgearman) take turns\n")
	fmt.Fprintf(b, "against the same gearmand; median of %d rounds. CPU is microseconds per job spent by the client / all workers /\n", g.Rounds)
	fmt.Fprintf(b, "gearmand.\n\n")
	fmt.Fprintf(b, "| worker processes | Go jobs/s | C jobs/s | Go / C | Go CPU µs/job | C CPU µs/job |\n")
	fmt.Fprintf(b, "| ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, r := range g.Rows {
		fmt.Fprintf(b, "| %d | %s | %s | %.2f | %s | %s |\n", r.Workers, num(r.GoJobsPerS), num(r.CJobsPerS), r.Ratio, cpu(r.GoCPUus), cpu(r.CCPUus))
	}
	fmt.Fprintf(b, "\nGo workers run %d jobs at once each (the default, 4 x GOMAXPROCS).\n\n", g.Rows[0].GoConcurrency)
	if err := chartGearman(filepath.Join(out, name+".png"), g); err != nil {
		return err
	}
	fmt.Fprintf(b, "![gearman jobs/s, Go vs C](%s.png)\n\n", name)
	return nil
}

func cpu(c benchjson.CPU) string {
	return fmt.Sprintf("%.1f / %.1f / %.1f", c.Client, c.Workers, c.Gearmand)
}

func chunkLabel(asked, used int) string {
	if asked == 0 {
		if used > 0 {
			return fmt.Sprintf("auto (%s)", num(float64(used)))
		}
		return "auto"
	}
	return num(float64(asked))
}

func writePool(b *strings.Builder, out, name string) error {
	var p benchjson.Pool
	if err := benchjson.Read(filepath.Join(out, name+".json"), &p); err != nil {
		return err
	}
	if len(p.Chunks) == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "A local cluster (`cluster.StartLocal`: a managed gearmand and one in-process worker with %d slots), GOMAXPROCS %d;\n", p.Slots, p.GOMAXPROCS)
	fmt.Fprintf(b, "median of %d rounds.\n\n", p.Rounds)
	fmt.Fprintf(b, "**Trivial function** (`examples.square`, x*x on int64) over %s items:\n\n", num(float64(p.Items)))
	fmt.Fprintf(b, "| chunk size | items/s |\n| ---: | ---: |\n")
	for _, c := range p.Chunks {
		fmt.Fprintf(b, "| %s | %s |\n", chunkLabel(c.Chunksize, c.ChunkItems), num(c.ItemsPerS))
	}
	c := p.CPUBound
	fmt.Fprintf(b, "\n**CPU-bound items** (`examples.countprimes` over %s ranges calibrated to ~%v of CPU each): `pool.Map` with %d worker\n",
		num(float64(c.Items)), time.Duration(c.ItemCostNs), p.Slots)
	fmt.Fprintf(b, "slots against the same function run by %d goroutines in the calling process.\n\n", c.Goroutines)
	fmt.Fprintf(b, "| | items/s |\n| --- | ---: |\n")
	fmt.Fprintf(b, "| in-process, %d goroutines | %s |\n", c.Goroutines, num(c.InProcessItemsPerS))
	fmt.Fprintf(b, "| pool.Map, %d slots | %s |\n", p.Slots, num(c.MapItemsPerS))
	fmt.Fprintf(b, "| **parallel efficiency** | **%.1f%%** |\n\n", 100*c.Efficiency)
	writePoolSmall(b, p.Small)
	writePoolMetrics(b, p.Metrics)
	if err := chartPool(filepath.Join(out, name+".png"), p); err != nil {
		return err
	}
	fmt.Fprintf(b, "![pool.Map items/s vs chunk size; CPU-bound efficiency](%s.png)\n\n", name)
	writeLargeIn(b, out)
	return nil
}

// writePoolSmall writes the small-calls figures, if measured.
func writePoolSmall(b *strings.Builder, s *benchjson.PoolSmall) {
	if s == nil {
		return
	}
	fmt.Fprintf(b, "**Small calls** against a bare `gearman.Client.Call` to an echo `gearman.Worker` on the same gearmand:\n\n")
	fmt.Fprintf(b, "| | glimpse-go | bare call | ratio |\n| --- | ---: | ---: | ---: |\n")
	p50 := func(what string, ns int64) {
		fmt.Fprintf(b, "| %s p50, %s one after another | %v | %v | %.2f |\n", what, num(float64(s.Calls)),
			time.Duration(ns).Round(time.Microsecond), time.Duration(s.BareP50Ns).Round(time.Microsecond), float64(ns)/float64(s.BareP50Ns))
	}
	rate := func(what string, perS float64) {
		fmt.Fprintf(b, "| %s calls/s, %s at once | %s | %s | %.2f |\n", what, num(float64(s.Concurrency)), num(perS), num(s.BareCallsPerS), perS/s.BareCallsPerS)
	}
	p50("one-item pool.Map", s.MapP50Ns)
	if s.CallP50Ns > 0 {
		p50("pool.Call", s.CallP50Ns)
	}
	rate("one-item pool.Map", s.MapCallsPerS)
	if s.CallCallsPerS > 0 {
		rate("pool.Call", s.CallCallsPerS)
		rate("pool.Go (futures)", s.GoCallsPerS)
	}
	fmt.Fprintf(b, "\n`Chunksize(1)` map of %s items: %s items/s.\n\n", num(float64(s.Chunk1Items)), num(s.Chunk1ItemsPerS))
}

// writePoolMetrics writes what Prometheus metrics cost, if measured.
func writePoolMetrics(b *strings.Builder, m *benchjson.PoolMetrics) {
	if m == nil {
		return
	}
	every := time.Duration(m.ScrapeEveryMs) * time.Millisecond
	fmt.Fprintf(b, "**Prometheus metrics** (`poolbench -metrics`): the same local cluster with its metrics switched on and off between\n")
	fmt.Fprintf(b, "rounds. On: the worker counts (per chunk) and every collector of `metrics.NewLocalCollector` is served and scraped\n")
	fmt.Fprintf(b, "every %v (%s scrapes, %.2f/s, %d failed; Prometheus' default is every 15s); off: the worker's counting stopped\n",
		every, num(float64(m.Scrapes)), float64(m.Scrapes)/m.OnSeconds, m.ScrapeErrors)
	fmt.Fprintf(b, "(`Worker.StopMetrics`), no scrapes; the pool's own counters count in both. %d pairs of rounds, each of at least %v of\n",
		m.Rounds, time.Duration(m.RoundMs)*time.Millisecond)
	fmt.Fprintf(b, "trivial maps of %s items (automatic chunks), alternating which goes first; on/off is the median of the pairs'\n", num(float64(m.Items)))
	fmt.Fprintf(b, "ratios with its 95%% bootstrap interval. CPU is the whole process set's: this process (client, worker, broker,\n")
	fmt.Fprintf(b, "fanout worker, the scraper) and gearmand. The bar: the metrics cost less than 3%%, on/off items/s >= 0.97.\n\n")
	fmt.Fprintf(b, "| | off | on | on / off (median of pairs) | 95%% interval |\n| --- | ---: | ---: | ---: | --- |\n")
	fmt.Fprintf(b, "| items/s (median round) | %s | %s | %.3f | %.3f - %.3f |\n", num(m.OffItemsPerS), num(m.OnItemsPerS), m.Ratio, m.RatioLow, m.RatioHigh)
	fmt.Fprintf(b, "| CPU ns per item (all rounds) | %.1f | %.1f | %.3f | %.3f - %.3f |\n",
		m.OffCPUNsPerItem, m.OnCPUNsPerItem, m.CPURatio, m.CPURatioLow, m.CPURatioHigh)
	fmt.Fprintf(b, "| of which gearmand | %.1f | %.1f | | |\n\n", m.OffGearmandNsPerItem, m.OnGearmandNsPerItem)
	fmt.Fprintf(b, "One scrape, timed on the idle cluster after the rounds: %.2f ms of CPU (this process and gearmand); every %v at\n",
		m.ScrapeCPUMs, every)
	fmt.Fprintf(b, "the median items/s with the metrics off, %.3f ns per item, **%.2f%%** of the map's CPU per item (the worker's\n",
		m.ScrapeNsPerItem, 100*m.ScrapeShare)
	fmt.Fprintf(b, "counting adds about 35 ns per chunk of thousands of items, see `BenchmarkCountChunk`).\n\n")
}

func writeImap(b *strings.Builder, out, name string) error {
	var m benchjson.Imap
	if err := benchjson.Read(filepath.Join(out, name+".json"), &m); err != nil {
		return err
	}
	if len(m.Rows) == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "One `pool.Imap` of `examples.square` over 0..N-1 (the input generated lazily, every result checked) per process, so\n")
	fmt.Fprintf(b, "each peak is its own; %d `glimpse-cluster worker -n %d` processes serve it. **Peak RSS** is VmHWM of the process\n", m.Workers, m.Slots)
	fmt.Fprintf(b, "running the Imap; RSS before is its VmRSS once the pool is dialled; peak Go heap is the largest\n")
	fmt.Fprintf(b, "`/memory/classes/heap/objects` sampled every 10 ms; live after is that figure after the map and a forced GC,\n")
	fmt.Fprintf(b, "with the pool still open (what the map left behind); allocated is everything the map allocated.\n\n")
	fmt.Fprintf(b, "| chunk size | items | peak RSS MiB | RSS before MiB | peak Go heap MiB | live after MiB | allocated MiB | chunks | items/s |\n")
	fmt.Fprintf(b, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range m.Rows {
		fmt.Fprintf(b, "| %s | %s | %.1f | %.1f | %.1f | %.2f | %s | %s | %s |\n", chunkLabel(r.Chunksize, 0), num(float64(r.Items)),
			mib(r.PeakRSSKiB), mib(r.RSSBeforeKiB), mib(r.PeakHeapKiB), mib(r.LiveAfterKiB), num(r.TotalAllocMiB), num(float64(r.Chunks)), num(r.ItemsPerS))
	}
	fmt.Fprintf(b, "\n")
	for _, cs := range chunksizes(m) {
		var steps []string
		var prev *benchjson.ImapRow
		for _, r := range m.Rows {
			if r.Chunksize != cs {
				continue
			}
			if prev != nil {
				steps = append(steps, fmt.Sprintf("%s -> %s items: x%.2f", short(prev.Items), short(r.Items), float64(r.PeakRSSKiB)/float64(prev.PeakRSSKiB)))
			}
			prev = &r
		}
		if len(steps) > 0 {
			fmt.Fprintf(b, "- peak RSS, chunk size %s: %s\n", chunkLabel(cs, 0), strings.Join(steps, "; "))
		}
	}
	lo, hi := m.Rows[0].LiveAfterKiB, m.Rows[0].LiveAfterKiB
	for _, r := range m.Rows {
		lo, hi = min(lo, r.LiveAfterKiB), max(hi, r.LiveAfterKiB)
	}
	fmt.Fprintf(b, "- live Go heap after the map, every run: %.1f to %.1f MiB\n", mib(lo), mib(hi))
	fmt.Fprintf(b, "\nAutomatic chunks of an Imap start at one item and double while a chunk comes back in under 20 ms, up to\n")
	fmt.Fprintf(b, "16,384 items; at most Window chunks (2 x slots + 2) are held, so the bound is reached once the chunks have\n")
	fmt.Fprintf(b, "grown to full size, not at a fixed input length.\n\n")
	if err := chartImap(filepath.Join(out, name+".png"), m); err != nil {
		return err
	}
	fmt.Fprintf(b, "![Imap peak RSS vs items](%s.png)\n\n", name)
	return nil
}

// chunksizes lists the chunk size settings of m in order of appearance.
func chunksizes(m benchjson.Imap) []int {
	var out []int
	for _, r := range m.Rows {
		if !slices.Contains(out, r.Chunksize) {
			out = append(out, r.Chunksize)
		}
	}
	return out
}

func writePing(b *strings.Builder, out, name string) error {
	var p benchjson.Ping
	if err := benchjson.Read(filepath.Join(out, name+".json"), &p); err != nil {
		return err
	}
	if len(p.Rows) == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "A broadcast ping to N `glimpse-cluster worker -n 1` processes, timed until every worker has answered: through the\n")
	fmt.Fprintf(b, "fanout worker (one Gearman job copied to every subscriber) and through the broker's ZeroMQ command channel\n")
	fmt.Fprintf(b, "(replies on the log channel). %d pings per point; milliseconds.\n\n", p.Pings)
	fmt.Fprintf(b, "| workers | fanout median | fanout p90 | fanout max | zmq median | zmq p90 | zmq max |\n")
	fmt.Fprintf(b, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, n := range pingCounts(p) {
		f, _ := pingRow(p, n, "fanout")
		z, _ := pingRow(p, n, "zmq")
		fmt.Fprintf(b, "| %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", n, f.MedianMs, f.P90Ms, f.MaxMs, z.MedianMs, z.P90Ms, z.MaxMs)
	}
	fmt.Fprintf(b, "\n")
	writePingKeyed(b, p)
	if err := chartPing(filepath.Join(out, name+".png"), p); err != nil {
		return err
	}
	fmt.Fprintf(b, "![ping latency vs workers](%s.png)\n\n", name)
	return nil
}

// writePingKeyed writes the keyed medians next to the keyless ones, when
// pingbench ran with -key.
func writePingKeyed(b *strings.Builder, p benchjson.Ping) {
	if len(p.KeyRatios) == 0 {
		return
	}
	fmt.Fprintf(b, "With a cluster key (`pingbench -key`: the same counts again, CURVE on the channels, sealed commands and\n")
	fmt.Fprintf(b, "replies), medians in milliseconds:\n\n")
	fmt.Fprintf(b, "| workers | via | keyless median | keyed median | keyed p90 | keyed / keyless |\n")
	fmt.Fprintf(b, "| ---: | --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range p.KeyRatios {
		k, _ := pingRow(benchjson.Ping{Rows: p.Keyed}, r.Workers, r.Via)
		fmt.Fprintf(b, "| %d | %s | %.1f | %.1f | %.1f | %.2f |\n", r.Workers, r.Via, r.KeylessMedianMs, r.KeyedMedianMs, k.P90Ms, r.Ratio)
	}
	fmt.Fprintf(b, "\n")
}

func pingCounts(p benchjson.Ping) []int {
	var out []int
	for _, r := range p.Rows {
		if !slices.Contains(out, r.Workers) {
			out = append(out, r.Workers)
		}
	}
	return out
}

func pingRow(p benchjson.Ping, n int, via string) (benchjson.PingRow, bool) {
	for _, r := range p.Rows {
		if r.Workers == n && r.Via == via {
			return r, true
		}
	}
	return benchjson.PingRow{}, false
}

// autoChunks says whether recovery ran the case with the pool's automatic
// chunk size: the baseline "none, automatic chunks" and the stragglers.
func autoChunks(fault string) bool {
	return fault == "none, automatic chunks" || strings.HasPrefix(fault, "straggler")
}

func writeRecovery(b *strings.Builder, out, name string) error {
	var r benchjson.Recovery
	if err := benchjson.Read(filepath.Join(out, name+".json"), &r); err != nil {
		return err
	}
	if len(r.Rows) == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "A local cluster of real processes: a gearmand (`--job-retries=%d`, as `cluster.StartLocal` runs it) and %d\n", r.JobRetries, r.Workers)
	fmt.Fprintf(b, "`glimpse-cluster worker -n %d` processes. The map: `examples.countprimes` over %s ranges of ~%v CPU each, in\n",
		r.Slots, num(float64(r.Items)), time.Duration(r.ItemCostNs))
	fmt.Fprintf(b, "chunks of %d, with the pool's default options. The fault is injected when `pool.Progress` reports\n", r.Chunksize)
	fmt.Fprintf(b, "%.0f%% of the items done; \"fault to end\" is from then to the map's return (for \"none\", from the same point of\n", 100*r.FaultAt)
	fmt.Fprintf(b, "progress). Every map's results are checked against an untimed fault-free map run first. Median of %d rounds.\n\n", r.Rounds)
	fmt.Fprintf(b, "- worker SIGKILL: one worker process is killed; a new one is started at once, as a supervisor would.\n")
	fmt.Fprintf(b, "- worker SIGKILL, not replaced: the map ends on the worker(s) left.\n")
	fmt.Fprintf(b, "- gearmand restart: SIGTERM, then a new gearmand on the same port (its queue is lost); the client and the\n")
	fmt.Fprintf(b, "  workers reconnect and the map resubmits the chunks it was waiting for.\n")
	fmt.Fprintf(b, "- none, automatic chunks: the pool's own chunk size (items / (4 x slots)) instead of %d; the baseline of:\n", r.Chunksize)
	fmt.Fprintf(b, "- straggler (automatic chunks): one worker process runs 20 times slower from then on (stopped 19 ms of every\n")
	fmt.Fprintf(b, "  20 with SIGSTOP/SIGCONT, like an overloaded host); the map waits for the chunk it holds.\n")
	fmt.Fprintf(b, "- straggler, BackupTasks: the same with `pool.BackupTasks()`: an idle worker runs that chunk again and the first\n")
	fmt.Fprintf(b, "  copy to finish wins.\n\n")
	// Each row is compared with the fault-free map of the same chunking.
	base := map[bool]benchjson.RecoveryRow{}
	for _, row := range r.Rows {
		if strings.HasPrefix(row.Fault, "none") {
			base[autoChunks(row.Fault)] = row
		}
	}
	fmt.Fprintf(b, "| fault | total s | fault to end s | fault to end vs none | injecting it took s |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: |\n")
	for _, row := range r.Rows {
		vs, took := "", ""
		if !strings.HasPrefix(row.Fault, "none") {
			vs = fmt.Sprintf("%+.2f s", row.AfterFaultS-base[autoChunks(row.Fault)].AfterFaultS)
			took = fmt.Sprintf("%.3f", row.FaultTookS)
		}
		fmt.Fprintf(b, "| %s | %.2f | %.2f | %s | %s |\n", row.Fault, row.TotalS, row.AfterFaultS, vs, took)
	}
	fmt.Fprintf(b, "\n")
	if err := chartRecovery(filepath.Join(out, name+".png"), r); err != nil {
		return err
	}
	fmt.Fprintf(b, "![map time with faults](%s.png)\n\n", name)
	return nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// num formats v rounded to an integer with thousands separators.
func num(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// short formats a count as 100k, 1M, 10M.
func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return num(float64(n))
}

// si formats v with 3 significant digits and a k/M suffix, for chart
// labels.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return trimZeros(fmt.Sprintf("%.3g", v/1e6)) + "M"
	case v >= 1e3:
		return trimZeros(fmt.Sprintf("%.3g", v/1e3)) + "k"
	}
	return trimZeros(fmt.Sprintf("%.3g", v))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
