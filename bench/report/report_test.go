package main

import (
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRender writes a report from figures of every program and checks
// that each section has its table and a PNG that decodes, and that a
// program without figures is reported as not measured.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) {
		t.Helper()
		if err := benchjson.Write(filepath.Join(dir, name+".json"), v); err != nil {
			t.Fatal(err)
		}
	}
	write("gearman", benchjson.Gearman{Jobs: 1000, PayloadBytes: 16, Window: 100, Rounds: 1, Rows: []benchjson.GearmanRow{
		{Workers: 1, GoConcurrency: 8, GoJobsPerS: 50000, CJobsPerS: 20000, Ratio: 2.5},
		{Workers: 2, GoConcurrency: 8, GoJobsPerS: 60000, CJobsPerS: 25000, Ratio: 2.4},
	}})
	write("pool", benchjson.Pool{Slots: 2, GOMAXPROCS: 2, Rounds: 1, Items: 1000, Chunks: []benchjson.PoolChunk{
		{Chunksize: 0, ChunkItems: 125, ItemsPerS: 4e6}, {Chunksize: 1000, ItemsPerS: 3e6},
	}, CPUBound: benchjson.PoolCPU{Items: 100, ItemCostNs: 1e6, Goroutines: 2, InProcessItemsPerS: 1900, MapItemsPerS: 1800, Efficiency: 1800.0 / 1900},
		Keyed: &benchjson.PoolKeyed{Rounds: 3, Items: 1000, KeylessItemsPerS: 4e6, KeyedItemsPerS: 3.8e6, Ratio: 0.95,
			OneItemCalls: 2000, KeylessOneItemMs: 0.4, KeyedOneItemMs: 0.5, OneItemRatio: 1.25}})
	write("imap", benchjson.Imap{Workers: 2, Slots: 1, Rows: []benchjson.ImapRow{
		{Items: 1_000_000, PeakRSSKiB: 20 << 10, LiveAfterKiB: 1 << 10},
		{Items: 10_000_000, PeakRSSKiB: 22 << 10, LiveAfterKiB: 1 << 10},
	}})
	write("ping", benchjson.Ping{Pings: 3, Rows: []benchjson.PingRow{
		{Workers: 10, Via: "fanout", MedianMs: 2, P90Ms: 3, MaxMs: 4}, {Workers: 10, Via: "zmq", MedianMs: 1, P90Ms: 2, MaxMs: 3},
		{Workers: 50, Via: "fanout", MedianMs: 10, P90Ms: 13, MaxMs: 14}, {Workers: 50, Via: "zmq", MedianMs: 9, P90Ms: 11, MaxMs: 12},
	}, Keyed: []benchjson.PingRow{
		{Workers: 50, Via: "fanout", MedianMs: 12, P90Ms: 15}, {Workers: 50, Via: "zmq", MedianMs: 18, P90Ms: 20},
	}, KeyRatios: []benchjson.PingKeyRatio{
		{Workers: 50, Via: "fanout", KeylessMedianMs: 10, KeyedMedianMs: 12, Ratio: 1.2},
		{Workers: 50, Via: "zmq", KeylessMedianMs: 9, KeyedMedianMs: 18, Ratio: 2},
	}})
	write("webhook", benchjson.Webhook{Calls: 20000, Rounds: 3, Concurrency: 64, Workers: 2, Slots: 64,
		InProcess: 6000, Chunk1: 2500, AutoChunks: 8000, ChunkItems: 40, Received: 180000, Want: 180000})
	write("gateway", benchjson.Gateway{Clients: 10, Rounds: 3, Workers: 2, Slots: 4, Calls: 10000, Maps: 1000, MapItems: 100, BigItems: 100000,
		CallsPerS: 5000, MapsPerS: 600, MapItemsPerS: 60000, BigItemsPerS: 300000, NDJSONItemsPerS: 150000,
		Enqueues: 20000, EnqueuesPerS: 9000, EnqueueServerCPUus: 80, EnqueueClientCPUus: 45, CeilingPerS: 16000,
		CeilingServerCPUus: 27, CeilingClientCPUus: 37, PostgresEnqueuesPerS: 7000, PostgresEnqueueServerCPU: 90,
		ABEnqueuesPerS: 16000, ABEnqueueServerCPUus: 55, ABEnqueueClientCPUus: 10, ABCeilingPerS: 40000,
		ABCeilingServerCPUus: 17, ABCeilingClientCPUus: 9, Deliveries: 5000, DeliveriesPerS: 2000})
	// No recovery.json: that program "failed".
	meta := Meta{Command: "make bench", Started: time.Now(), Finished: time.Now().Add(time.Minute), Commit: "abc1234",
		Steps: []step{{Name: "recovery", Args: []string{"bin/recovery"}, Error: "exit status 1"}}}
	if err := render(dir, meta); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(data)
	for _, want := range []string{
		"| commit | abc1234 |",
		"| 1 | 50,000 | 20,000 | 2.50 |",
		"| auto (125) | 4,000,000 |",
		"**94.7%**",
		"1M -> 10M items: x1.10",
		"| 50 | 10.0 | 13.0 | 14.0 | 9.0 | 11.0 | 12.0 |",
		"**Not measured**: the program failed: exit status 1",
		// The keyed pings next to the keyless ones, and issue 11's bars.
		"| 50 | zmq | 9.0 | 18.0 | 20.0 | 2.00 |",
		"## 6. Cluster key overhead",
		"items/s, median of 3 | 4,000,000 | 3,800,000 | 0.950 | >= 0.90 | yes |",
		"| one-item map, p50 of 2,000 sequential calls | 0.400 ms | 0.500 ms | 1.250 | none (for reference) | no bar |",
		"| ping to 50 workers via fanout, median | 10.0 ms | 12.0 ms | 1.200 | <= 1.5 | yes |",
		"| ping to 50 workers via zmq, median | 9.0 ms | 18.0 ms | 2.000 | <= 1.5 | **no** |",
		"## 8. Webhook deliveries",
		"| `pool.Map` `Chunksize(1)` (one Gearman job per delivery, as a task), 2 workers x 64 slots | 2,500 | **no** |",
		"| `pool.Map` automatic chunks (up to 40 deliveries per job) | 8,000 | yes |",
		"## 12. HTTP gateway",
		"| `POST .../map`, 100 items each, 10 clients | 600 | 60,000 |",
		"| `POST /queue`, 20,000 tasks due in an hour | `ab -k -c 10` (Miyamoto's) | 16,000 enqueues/s | ~600-740 | >= 15,000 |",
		"| `POST /queue`, 20,000 tasks due in an hour | Go net/http, 10 goroutines | 9,000 enqueues/s | | |",
		"| the same into a PostgreSQL task store | Go net/http, 10 goroutines | 7,000 enqueues/s | | |",
		"| the same requests to a no-op HTTP server: the ceiling | `ab -k -c 10` (Miyamoto's) | 40,000 requests/s | | |",
		"| the same requests to a no-op HTTP server: the ceiling | Go net/http, 10 goroutines | 16,000 requests/s | | |",
		"from ab, 55 / 10 µs through the gateway, 17 / 9 µs to the no-op server;\nfrom the Go client, 80 / 45 µs through the gateway, 27 / 37 µs",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, report)
		}
	}
	for _, name := range []string{"gearman", "pool", "imap", "ping"} {
		f, err := os.Open(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
			t.Errorf("%s.png is only %dx%d", name, b.Dx(), b.Dy())
		}
		if !strings.Contains(report, "]("+name+".png)") {
			t.Errorf("REPORT.md does not show %s.png", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "recovery.png")); err == nil {
		t.Error("recovery.png was drawn without figures")
	}
}

// TestRenderGatewayWithoutAB: when ab is missing, the enqueue bar's row
// says so and why, instead of leaving the row out.
func TestRenderGatewayWithoutAB(t *testing.T) {
	dir := t.TempDir()
	g := benchjson.Gateway{Clients: 10, Rounds: 1, Workers: 2, Slots: 4, Calls: 100, Maps: 10, MapItems: 100, BigItems: 1000,
		CallsPerS: 5000, Enqueues: 20000, EnqueuesPerS: 9000, CeilingPerS: 16000, Deliveries: 5000, DeliveriesPerS: 2000,
		ABError: "ab (ApacheBench) not found in PATH"}
	if err := benchjson.Write(filepath.Join(dir, "gateway.json"), g); err != nil {
		t.Fatal(err)
	}
	report := renderReport(t, dir, Meta{Command: "make bench", Started: time.Now(), Finished: time.Now()})
	want := "| `POST /queue`, 20,000 tasks due in an hour | `ab -k -c 10` (Miyamoto's) | **not measured**: ab (ApacheBench) not found in PATH | ~600-740 | >= 15,000 |"
	if !strings.Contains(report, want) {
		t.Errorf("REPORT.md lacks %q:\n%s", want, report)
	}
}

// TestRenderWithoutKeyed renders -render-only style from JSON written
// before the programs kept keyed figures: the other sections are as
// before and the cluster key section says it was not measured; with only
// the pool's keyed figures, the ping lines say so one by one.
func TestRenderWithoutKeyed(t *testing.T) {
	dir := t.TempDir()
	// pool.json and ping.json as written before -key (no keyed fields).
	oldPool := `{"slots": 2, "gomaxprocs": 2, "rounds": 1, "items": 1000,
		"chunks": [{"chunksize": 0, "chunk_items": 125, "items_per_s": 4000000, "rounds_per_s": [4000000]}],
		"cpu_bound": {"items": 100, "item_cost_ns": 1000000, "goroutines": 2, "in_process_items_per_s": 1900, "map_items_per_s": 1800, "efficiency": 0.947}}`
	oldPing := `{"pings": 3, "rows": [{"workers": 50, "via": "fanout", "median_ms": 10, "p90_ms": 13, "max_ms": 14, "all_ms": [10]},
		{"workers": 50, "via": "zmq", "median_ms": 9, "p90_ms": 11, "max_ms": 12, "all_ms": [9]}]}`
	for name, text := range map[string]string{"pool": oldPool, "ping": oldPing} {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta := Meta{Command: "make bench", Started: time.Now(), Finished: time.Now().Add(time.Minute)}
	report := renderReport(t, dir, meta)
	for _, want := range []string{
		"| auto (125) | 4,000,000 |",
		"| 50 | 10.0 | 13.0 | 14.0 | 9.0 | 11.0 | 12.0 |",
		"## 6. Cluster key overhead\n\n**Not measured**: no keyed figures",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "keyed median") {
		t.Errorf("REPORT.md has a keyed ping table without keyed figures:\n%s", report)
	}

	// The pool's keyed figures alone: a table whose ping lines are not measured.
	var p benchjson.Pool
	if err := benchjson.Read(filepath.Join(dir, "pool.json"), &p); err != nil {
		t.Fatal(err)
	}
	p.Keyed = &benchjson.PoolKeyed{Rounds: 9, Items: 1000, KeylessItemsPerS: 4e6, KeyedItemsPerS: 3e6, Ratio: 0.75,
		OneItemCalls: 10, KeylessOneItemMs: 0.4, KeyedOneItemMs: 0.5, OneItemRatio: 1.25}
	if err := benchjson.Write(filepath.Join(dir, "pool.json"), p); err != nil {
		t.Fatal(err)
	}
	report = renderReport(t, dir, meta)
	for _, want := range []string{
		"| 4,000,000 | 3,000,000 | 0.750 | >= 0.90 | **no** |",
		"| ping to 50 workers via fanout, median | | | | <= 1.5 | not measured |",
		"| ping to 50 workers via zmq, median | | | | <= 1.5 | not measured |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, report)
		}
	}
}

// renderReport renders the JSON in dir and returns REPORT.md.
func renderReport(t *testing.T, dir string, meta Meta) string {
	t.Helper()
	if err := render(dir, meta); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -12345: "-12,345"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"bin/x", "-items", "1,2", "it's", ""})
	want := `bin/x -items 1,2 'it'\''s' ''`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
}

// TestPlanKeyed checks that both a full and a quick run measure the
// cluster key's cost: poolbench and pingbench get -key.
func TestPlanKeyed(t *testing.T) {
	for _, quick := range []bool{false, true} {
		for _, s := range plan("bin", "out", quick) {
			if (s.Name == "pool" || s.Name == "ping") && !slices.Contains(s.Args, "-key") {
				t.Errorf("quick=%v: %s runs without -key: %s", quick, s.Name, shellJoin(s.Args))
			}
		}
	}
}

// TestRenderPeers renders the Peers section from peerbench's figures: a
// table per workload with each pool's figure and glimpse-go's ratio to
// it, the floor in the single-call tables only, a peer ahead called out
// as such (on single calls with the reason beside it: the Gearman floor
// it beats, or glimpse-go's distance over the floor), the CPU-bound
// table's bare references and Go's no-pool row, and a peer that was not
// installed or failed a workload reported in its row. Without peers.json the section says it was not
// measured.
func TestRenderPeers(t *testing.T) {
	dir := t.TempDir()
	meta := Meta{Command: "make bench", Started: time.Now(), Finished: time.Now().Add(time.Minute),
		Steps: []step{{Name: "peers", Args: []string{"bin/peerbench", "-workers", "2"}, Error: "exit status 1"}}}
	report := renderReport(t, dir, meta)
	if want := "## 7. Peers: the same workloads on the pools a user would pick instead\n\n`bin/peerbench -workers 2` (0 s)\n\n**Not measured**: the program failed: exit status 1"; !strings.Contains(report, want) {
		t.Errorf("REPORT.md lacks %q:\n%s", want, report)
	}
	if strings.Contains(report, "glimpse-go / pool") {
		t.Errorf("REPORT.md has a peers table without figures:\n%s", report)
	}

	if err := benchjson.Write(filepath.Join(dir, "peers.json"), peersFixture()); err != nil {
		t.Fatal(err)
	}
	meta.Steps[0].Error = ""
	report = renderReport(t, dir, meta)
	for _, want := range []string{
		"| Celery | - | **not measured**: not installed (import celery failed) |",
		"**Trivial map (x*x) over 10,000 integers**",
		"| **glimpse-go** | pool.Map | 2,000,000 | | |",
		"| multiprocessing | Pool.map | 4,000,000 | 0.50 | **multiprocessing** |",
		"| Dask | client.map over batches | 50,000 | 40.00 | glimpse-go |",
		"| Celery | not measured: not installed (import celery failed) | | | |",
		"**Trivial map (x*x) over 1,000,000 integers**",
		"| Dask | client.map over batches: **failed**: did not finish within 40 s | | | |",
		"| **glimpse-go** | pool.Map | 1,000 | 1.00 | 1,000 | 2,000 | 50.0% | 50.0% | | |",
		"| Go, no pool (the reference) | 2 bare workers | 2,000 | 1.00 | 1,000 | 2,000 | 100% | 100.0% | | |",
		"| multiprocessing | Pool.map | 1,800 | 1.00 | 1,000 | 2,000 | 90.0% | 90.0% | 0.56 | **multiprocessing** |",
		"| Gearman floor | Client.Call | 0.100 | 0.200 | 0.50 | (the floor) |",
		"| multiprocessing | Pool.apply | 0.210 | 0.300 | 1.05 | even |",
		"| multiprocessing | Pool.apply_async | 50,000 | 0.20 | **multiprocessing** (above the Gearman floor, 30,000 calls/s in this run, which no pool over a job server can pass; glimpse-go does 33% of it) |",
		"- concurrent single calls, calls/s: multiprocessing (glimpse-go / multiprocessing = 0.20): above the Gearman floor, 30,000 calls/s",
		"- one-item latency, p50: Dask (glimpse-go / Dask = 0.25): under the Gearman floor, 0.100 ms",
		"| Dask | client.submit | 0.050 | 0.080 | 0.25 | **Dask** (under the Gearman floor, 0.100 ms in this run, which no pool over a job server can beat; glimpse-go is +0.100 ms (2.00x) over it) |",
		"| ipyparallel | LoadBalancedView.apply_sync | 0.150 | 0.200 | 0.75 | **ipyparallel** (not under the Gearman floor, 0.100 ms in this run: glimpse-go is +0.100 ms (2.00x) over it, and that puts it behind) |",
		"| ipyparallel | apply_async | 20,000 | 0.50 | **ipyparallel** (not above the Gearman floor, 30,000 calls/s in this run: glimpse-go does 33% of it, and that puts it behind) |",
		"| Gearman floor | Client.Call, all in flight | 300.0 | 0.67 | (the floor) |",
		"| Gearman floor | Client.Call | 30,000 | 0.33 | (the floor) |",
		"- trivial map, 10k items: multiprocessing (glimpse-go / multiprocessing = 0.50)",
		"- CPU-bound items, parallel efficiency: multiprocessing (glimpse-go / multiprocessing = 0.56)",
		"**Trivial map (x*x) over 2,000 integers, one item per task (chunks of one)**",
		"| Gearman floor | Client.Dispatch per item | 40,000 | 0.75 | (the floor) |",
		"| multiprocessing | Pool.map, chunksize=1 | 60,000 | 0.50 | **multiprocessing** (above the Gearman floor, 40,000 jobs/s in this run (a bare client's job per item, all in flight), which no pool sending a job per item through a job server can pass; glimpse-go does 75% of it) |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, report)
		}
	}
	_, peers, _ := strings.Cut(report, "**Trivial map")
	trivial, _, _ := strings.Cut(peers, "**Trivial map (x*x) over 2,000 integers, one item per task")
	if strings.Contains(trivial, peersFloor) {
		t.Errorf("the floor has a row in a map table:\n%s", trivial)
	}
	if !strings.Contains(report, "- peers: [peers.json](peers.json)") {
		t.Errorf("REPORT.md does not list peers.json:\n%s", report)
	}
}

// peersFixture is peerbench's output with a peer ahead, a tie, a
// workload that failed and a peer that was not installed.
func peersFixture() benchjson.Peers {
	res := func(w, how string, v float64) benchjson.PeerResult {
		return benchjson.PeerResult{Workload: w, How: how, Value: v}
	}
	cpu := func(how string, v, serial, bare float64) benchjson.PeerResult {
		return benchjson.PeerResult{Workload: benchjson.PeerCPU, How: how, Value: v, Serial: serial, SerialCPUMs: 1000 / serial,
			Bare: bare, BareHow: "2 bare workers", Efficiency: v / bare}
	}
	lat := func(how string, p50, p90 float64) benchjson.PeerResult {
		return benchjson.PeerResult{Workload: benchjson.PeerLatency, How: how, Value: p50, P90: p90}
	}
	return benchjson.Peers{Workers: 2, Rounds: 3, Sizes: benchjson.PeerSizes{Trivial: []int{10000, 1000000}, CPUItems: 2000,
		CPUCostNs: 1e6, LatencyCalls: 500, LargeItems: 100, LargeBytes: 1 << 20, Concurrent: 1000, OneByOne: 2000},
		Runs: []benchjson.PeerRun{
			{Name: peersGlimpse, Version: "this tree", Results: []benchjson.PeerResult{
				res("trivial_10000", "pool.Map", 2e6), res("trivial_1000000", "pool.Map", 8e6), cpu("pool.Map", 1000, 1000, 2000),
				lat("one-item pool.Map", 0.2, 0.4), res(benchjson.PeerLarge, "pool.Map", 200), res(benchjson.PeerConcurrent, "pool.Map", 10000),
				res(benchjson.PeerOneByOne, "pool.Map, Chunksize(1)", 30000)}},
			{Name: peersFloor, Version: "gearmand 1.1.20", Results: []benchjson.PeerResult{
				lat("Client.Call", 0.1, 0.2), res(benchjson.PeerLarge, "Client.Call, all in flight", 300), res(benchjson.PeerConcurrent, "Client.Call", 30000),
				res(benchjson.PeerOneByOne, "Client.Dispatch per item", 40000)}},
			{Name: "multiprocessing", Version: "Python 3.11.2", Results: []benchjson.PeerResult{
				res("trivial_10000", "Pool.map", 4e6), res("trivial_1000000", "Pool.map", 2e6), cpu("Pool.map", 1800, 1000, 2000),
				lat("Pool.apply", 0.21, 0.3), res(benchjson.PeerLarge, "Pool.map", 100), res(benchjson.PeerConcurrent, "Pool.apply_async", 50000),
				res(benchjson.PeerOneByOne, "Pool.map, chunksize=1", 60000)}},
			{Name: "Dask", Version: "distributed 2022.12.1", SetupS: 0.5, Results: []benchjson.PeerResult{
				res("trivial_10000", "client.map over batches", 5e4),
				{Workload: "trivial_1000000", How: "client.map over batches", Error: "did not finish within 40 s"},
				lat("client.submit", 0.05, 0.08)}},
			{Name: "ipyparallel", Version: "ipyparallel 7.1.0", Results: []benchjson.PeerResult{
				lat("LoadBalancedView.apply_sync", 0.15, 0.2), res(benchjson.PeerConcurrent, "apply_async", 20000)}},
			{Name: "Celery", Error: "not installed (import celery failed)"},
		}}
}

// TestPlanPeers checks that both a full and a quick run measure the
// peers, each peer under a time limit.
func TestPlanPeers(t *testing.T) {
	for _, quick := range []bool{false, true} {
		var found bool
		for _, s := range plan("bin", "out", quick) {
			if s.Name == "peers" {
				found = slices.Contains(s.Args, "-peer-timeout") && s.Args[0] == filepath.Join("bin", "peerbench")
			}
		}
		if !found {
			t.Errorf("quick=%v: no peers step running bin/peerbench with -peer-timeout", quick)
		}
	}
}
