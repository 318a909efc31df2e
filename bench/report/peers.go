package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// The names peerbench gives glimpse-go's run and the bare Gearman pair's.
const (
	peersGlimpse = "glimpse-go"
	peersFloor   = "Gearman floor"
)

// peerTable is how one workload's table reads its figures.
type peerTable struct {
	title, unit string
	short       string // the workload in the list of where a peer is ahead
	lowerWins   bool   // latency: the smaller figure is ahead
	floor       bool   // the Gearman floor has this workload
	value       func(benchjson.PeerResult) float64
	cells       func(benchjson.PeerResult) string // the figure columns
	header      string                            // their headers
	// reference, if set, is a row under glimpse-go's made from its
	// result: what the same work does with no pool at all.
	reference func(benchjson.PeerResult) string
	// why, if set, explains a peer ahead of glimpse-go next to its
	// figure, from glimpse-go's, the peer's and the floor's results.
	why func(mine, peer, floor benchjson.PeerResult) string
}

// writePeers writes the Peers section from peers.json: one table per
// workload, each pool's figure next to glimpse-go's from the same run,
// and glimpse-go's ratio to it (> 1: glimpse-go ahead).
func writePeers(b *strings.Builder, out, name string) error {
	var p benchjson.Peers
	if err := benchjson.Read(filepath.Join(out, name+".json"), &p); err != nil {
		return err
	}
	g, ok := findRun(p, peersGlimpse)
	if !ok || len(p.Runs) < 2 {
		return errMissing
	}
	fmt.Fprintf(b, "The same workloads, %d workers each, in one run of `peerbench`: glimpse-go on a local cluster\n", p.Workers)
	fmt.Fprintf(b, "(`cluster.StartLocal`, %d slots; a single call is a `pool.Call`), the Python pools a user would\n", p.Workers)
	fmt.Fprintf(b, "pick instead (Debian's packages, installed by `scripts/install-bench-deps.sh`; `bench/peers/*_peer.py`), and\n")
	fmt.Fprintf(b, "the **Gearman floor**: a bare `gearman.Client` + `gearman.Worker` (%d jobs at once) on a gearmand of its own,\n", p.Workers)
	fmt.Fprintf(b, "what any pool over Gearman pays at least. Everything on 127.0.0.1. Throughput figures are the median of up\n")
	fmt.Fprintf(b, "to %d rounds (fewer for a slow peer), each repeating the workload for at least 0.1 s. **glimpse-go / pool** is glimpse-go's speed over the pool's, so above\n", p.Rounds)
	fmt.Fprintf(b, "1 glimpse-go is ahead and below 1 the pool is; for latency it is the pool's p50 over glimpse-go's. Parallel\n")
	fmt.Fprintf(b, "efficiency is measured the same way for every pool, in the pool's own language: the same items run on %d bare\n", p.Workers)
	fmt.Fprintf(b, "threads (Go) or forked processes (Python) of the driver with no pool before the pool's first round and after\n")
	fmt.Fprintf(b, "each (at least 3 rounds); a round's efficiency is the pool's items/s over the bare ones' around it, and the\n")
	fmt.Fprintf(b, "figure is the median of the rounds'. Pairing keeps other load on the machine (see the load average above)\n")
	fmt.Fprintf(b, "out of the ratio as far as it can, as it slows both alike; against one serial thread measured once before,\n")
	fmt.Fprintf(b, "it had moved the figure by tens of points from run to run, and under a heavy load it still moves a round's.\n")
	fmt.Fprintf(b, "The single calls of glimpse-go and of the floor cross a job server (client → gearmand → worker and back, two\n")
	fmt.Fprintf(b, "TCP connections and a process in between) where multiprocessing writes to a pipe: no pool over Gearman\n")
	fmt.Fprintf(b, "can be faster than the floor, and the tables say how far glimpse-go is above it.\n\n")
	writePeerRuns(b, p)
	var behind []string
	for _, t := range peerTables(p) {
		behind = append(behind, writePeerTable(b, p, g, t)...)
	}
	if len(behind) == 0 {
		fmt.Fprintf(b, "glimpse-go is ahead of, or even with, every peer measured on every workload.\n\n")
		return nil
	}
	fmt.Fprintf(b, "**Where a peer is ahead of glimpse-go** (by more than 5%%):\n\n")
	for _, line := range behind {
		fmt.Fprintf(b, "- %s\n", line)
	}
	fmt.Fprintf(b, "\n")
	return nil
}

func findRun(p benchjson.Peers, name string) (benchjson.PeerRun, bool) {
	for _, r := range p.Runs {
		if r.Name == name {
			return r, true
		}
	}
	return benchjson.PeerRun{}, false
}

// writePeerRuns lists the pools, their versions and set-up times, and
// any that could not be measured.
func writePeerRuns(b *strings.Builder, p benchjson.Peers) {
	fmt.Fprintf(b, "| pool | version | set-up s |\n| --- | --- | ---: |\n")
	for _, r := range p.Runs {
		if r.Version == "" {
			r.Version = "-"
		}
		if r.Error != "" && len(r.Results) == 0 {
			fmt.Fprintf(b, "| %s | %s | **not measured**: %s |\n", r.Name, r.Version, cell(r.Error))
			continue
		}
		note := ""
		if r.Error != "" {
			note = " (then: " + cell(r.Error) + ")"
		}
		fmt.Fprintf(b, "| %s | %s | %.1f%s |\n", r.Name, r.Version, r.SetupS, note)
	}
	fmt.Fprintf(b, "\n")
}

func peerTables(p benchjson.Peers) []peerTable {
	items := func(r benchjson.PeerResult) float64 { return r.Value }
	var ts []peerTable
	for _, n := range p.Sizes.Trivial {
		ts = append(ts, peerTable{title: fmt.Sprintf("Trivial map (x*x) over %s integers", num(float64(n))),
			short: fmt.Sprintf("trivial map, %s items", short(n)),
			unit:  fmt.Sprintf("trivial_%d", n), value: items, header: "items/s",
			cells: func(r benchjson.PeerResult) string { return num(r.Value) }})
	}
	s := p.Sizes
	if s.OneByOne > 0 {
		ts = append(ts, peerTable{title: fmt.Sprintf("Trivial map (x*x) over %s integers, one item per task (chunks of one)", num(float64(s.OneByOne))),
			short: "trivial map, one item per task",
			unit:  benchjson.PeerOneByOne, floor: true, value: items, header: "items/s",
			cells: func(r benchjson.PeerResult) string { return num(r.Value) },
			why:   oneByOneWhy})
	}
	return append(ts,
		cpuTable(p),
		peerTable{title: fmt.Sprintf("One-item latency: %s calls one after another", num(float64(s.LatencyCalls))),
			short: "one-item latency, p50",
			unit:  benchjson.PeerLatency, lowerWins: true, floor: true, value: items, header: "p50 ms | p90 ms",
			cells: func(r benchjson.PeerResult) string { return fmt.Sprintf("%.3f | %.3f", r.Value, r.P90) },
			why:   latencyWhy},
		peerTable{title: fmt.Sprintf("Large items: %s items of %s bytes there and back (identity)", num(float64(s.LargeItems)), num(float64(s.LargeBytes))),
			short: "large items, MB/s",
			unit:  benchjson.PeerLarge, floor: true, value: items, header: "MB/s sent",
			cells: func(r benchjson.PeerResult) string { return fmt.Sprintf("%.1f", r.Value) }},
		peerTable{title: fmt.Sprintf("%s concurrent single calls", num(float64(s.Concurrent))),
			short: "concurrent single calls, calls/s",
			unit:  benchjson.PeerConcurrent, floor: true, value: items, header: "calls/s",
			cells: func(r benchjson.PeerResult) string { return num(r.Value) },
			why:   concurrentWhy},
	)
}

// latencyWhy says why a peer's single call is faster than glimpse-go's:
// under the floor, no pool over a job server can match it; above it,
// glimpse-go's cost over the floor is what puts it behind.
func latencyWhy(mine, peer, floor benchjson.PeerResult) string {
	if floor.Value <= 0 {
		return ""
	}
	over := fmt.Sprintf("glimpse-go is %+.3f ms (%.2fx) over it", mine.Value-floor.Value, mine.Value/floor.Value)
	if peer.Value < floor.Value {
		return fmt.Sprintf("under the Gearman floor, %.3f ms in this run, which no pool over a job server can beat; %s", floor.Value, over)
	}
	return fmt.Sprintf("not under the Gearman floor, %.3f ms in this run: %s, and that puts it behind", floor.Value, over)
}

// concurrentWhy is latencyWhy for calls/s of concurrent single calls.
var concurrentWhy = rateWhy("calls/s", "", "over a job server")

// oneByOneWhy says why a peer's map of one item per task is faster than
// glimpse-go's: each of glimpse-go's items is a Gearman job, and the
// floor is a bare client's jobs, all in flight, through gearmand.
var oneByOneWhy = rateWhy("jobs/s", " (a bare client's job per item, all in flight)", "sending a job per item through a job server")

// rateWhy is the reason beside a peer ahead on a rate, in unit: above the
// floor's rate (what the floor is, in floorIs), no pool (who) can pass it;
// otherwise glimpse-go's share of the floor is what puts it behind.
func rateWhy(unit, floorIs, who string) func(mine, peer, floor benchjson.PeerResult) string {
	return func(mine, peer, floor benchjson.PeerResult) string {
		if floor.Value <= 0 {
			return ""
		}
		of := fmt.Sprintf("glimpse-go does %.0f%% of it", 100*mine.Value/floor.Value)
		if peer.Value > floor.Value {
			return fmt.Sprintf("above the Gearman floor, %s %s in this run%s, which no pool %s can pass; %s", num(floor.Value), unit, floorIs, who, of)
		}
		return fmt.Sprintf("not above the Gearman floor, %s %s in this run: %s, and that puts it behind", num(floor.Value), unit, of)
	}
}

// cpuTable is the CPU-bound workload's table: each pool's items/s, its
// references (one thread serially, and the same items on as many bare
// threads or processes as the pool has workers) and the parallel
// efficiency against the bare one; Go's bare figure gets a row of its own.
func cpuTable(p benchjson.Peers) peerTable {
	s := p.Sizes
	return peerTable{title: fmt.Sprintf("CPU-bound items: %s of ~%v of CPU each (counting primes, calibrated in each pool's own language)",
		num(float64(s.CPUItems)), time.Duration(s.CPUCostNs)),
		short: "CPU-bound items, parallel efficiency",
		unit:  benchjson.PeerCPU, value: func(r benchjson.PeerResult) float64 { return r.Efficiency },
		header: fmt.Sprintf("items/s | serial CPU ms / item | serial items/s | %d bare items/s | parallel efficiency (pool / bare) | pool / (%d x serial)", p.Workers, p.Workers),
		cells: func(r benchjson.PeerResult) string {
			return fmt.Sprintf("%s | %s | %s | %s | %.1f%% | %s", num(r.Value), msCell(r.SerialCPUMs), num(r.Serial), num(r.Bare),
				100*r.Efficiency, pctCell(r.Value, float64(p.Workers)*r.Serial))
		},
		reference: func(r benchjson.PeerResult) string {
			if r.Bare <= 0 {
				return ""
			}
			return fmt.Sprintf("| Go, no pool (the reference) | %s | %s | %s | %s | %s | 100%% | %s | | |", cell(r.BareHow), num(r.Bare),
				msCell(r.SerialCPUMs), num(r.Serial), num(r.Bare), pctCell(r.Bare, float64(p.Workers)*r.Serial))
		}}
}

// msCell is a CPU time per item, or "-" for a figure not measured (an
// older peers.json).
func msCell(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", ms)
}

// pctCell is v / of as a percentage, or "-" without a reference.
func pctCell(v, of float64) string {
	if of <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v/of)
}

// writePeerTable writes one workload: glimpse-go's row, then the floor's
// (where it has one), then each peer's with glimpse-go's ratio to it. It
// returns a line per peer ahead of glimpse-go.
func writePeerTable(b *strings.Builder, p benchjson.Peers, g benchjson.PeerRun, t peerTable) (behind []string) {
	ncells := strings.Count(t.header, "|") + 1
	blank := strings.Repeat(" |", ncells)
	fmt.Fprintf(b, "**%s**\n\n", t.title)
	fmt.Fprintf(b, "| pool | how | %s | glimpse-go / pool | ahead |\n", t.header)
	fmt.Fprintf(b, "| --- | --- |%s ---: | --- |\n", strings.Repeat(" ---: |", ncells))
	mine, mineOK := g.Result(t.unit)
	mineOK = mineOK && mine.Error == ""
	floorRun, _ := findRun(p, peersFloor)
	floor, _ := floorRun.Result(t.unit)
	for _, r := range p.Runs {
		if r.Name == peersFloor && !t.floor {
			continue
		}
		res, ok := r.Result(t.unit)
		switch {
		case !ok && r.Error != "":
			fmt.Fprintf(b, "| %s | not measured: %s |%s | |\n", r.Name, cell(r.Error), blank)
		case !ok:
			fmt.Fprintf(b, "| %s | not measured |%s | |\n", r.Name, blank)
		case res.Error != "":
			fmt.Fprintf(b, "| %s | %s: **failed**: %s |%s | |\n", r.Name, cell(res.How), cell(res.Error), blank)
		case r.Name == peersGlimpse:
			fmt.Fprintf(b, "| **%s** | %s | %s | | |\n", r.Name, cell(res.How), t.cells(res))
			if t.reference != nil {
				if row := t.reference(res); row != "" {
					fmt.Fprintf(b, "%s\n", row)
				}
			}
		case !mineOK || t.value(mine) <= 0 || t.value(res) <= 0:
			fmt.Fprintf(b, "| %s | %s | %s | | |\n", r.Name, cell(res.How), t.cells(res))
		default:
			ratio := t.value(mine) / t.value(res)
			if t.lowerWins {
				ratio = 1 / ratio
			}
			ahead := leader(ratio, r.Name)
			if r.Name == peersFloor {
				ahead = "(the floor)"
			} else if ratio < 1/tie {
				line := fmt.Sprintf("%s: %s (glimpse-go / %s = %.2f)", t.short, r.Name, r.Name, ratio)
				if t.why != nil && floor.Error == "" {
					if why := t.why(mine, res, floor); why != "" {
						ahead += " (" + why + ")"
						line += ": " + why
					}
				}
				behind = append(behind, line)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %.2f | %s |\n", r.Name, cell(res.How), t.cells(res), ratio, ahead)
		}
	}
	fmt.Fprintf(b, "\n")
	return behind
}

// tie is the ratio within which neither is said to be ahead.
const tie = 1.05

// leader says who is ahead at this ratio.
func leader(ratio float64, name string) string {
	switch {
	case ratio > tie:
		return "glimpse-go"
	case ratio < 1/tie:
		return "**" + name + "**"
	}
	return "even"
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
