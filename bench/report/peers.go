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
	fmt.Fprintf(b, "(`cluster.StartLocal`, %d slots; a single call is a one-item `pool.Map`), the Python pools a user would\n", p.Workers)
	fmt.Fprintf(b, "pick instead (Debian's packages, installed by `scripts/install-bench-deps.sh`; `bench/peers/*_peer.py`), and\n")
	fmt.Fprintf(b, "the **Gearman floor**: a bare `gearman.Client` + `gearman.Worker` (%d jobs at once) on a gearmand of its own,\n", p.Workers)
	fmt.Fprintf(b, "what any pool over Gearman pays at least. Everything on 127.0.0.1. Throughput figures are the median of up\n")
	fmt.Fprintf(b, "to %d rounds (fewer for a slow peer). **glimpse-go / pool** is glimpse-go's speed over the pool's, so above\n", p.Rounds)
	fmt.Fprintf(b, "1 glimpse-go is ahead and below 1 the pool is; for latency it is the pool's p50 over glimpse-go's. Parallel\n")
	fmt.Fprintf(b, "efficiency is the map's items/s over %d x those of the same items run serially in the same process just\n", p.Workers)
	fmt.Fprintf(b, "before; other load on the machine moves it by tens of points from run to run (see the load average above).\n\n")
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
	return append(ts,
		peerTable{title: fmt.Sprintf("CPU-bound items: %s of ~%v of CPU each (counting primes, calibrated in each pool's own language)",
			num(float64(s.CPUItems)), time.Duration(s.CPUCostNs)),
			short: "CPU-bound items, parallel efficiency",
			unit:  benchjson.PeerCPU, value: func(r benchjson.PeerResult) float64 { return r.Efficiency },
			header: "items/s | serial items/s, in-process | parallel efficiency",
			cells: func(r benchjson.PeerResult) string {
				return fmt.Sprintf("%s | %s | %.1f%%", num(r.Value), num(r.Serial), 100*r.Efficiency)
			}},
		peerTable{title: fmt.Sprintf("One-item latency: %s calls one after another", num(float64(s.LatencyCalls))),
			short: "one-item latency, p50",
			unit:  benchjson.PeerLatency, lowerWins: true, floor: true, value: items, header: "p50 ms | p90 ms",
			cells: func(r benchjson.PeerResult) string { return fmt.Sprintf("%.3f | %.3f", r.Value, r.P90) }},
		peerTable{title: fmt.Sprintf("Large items: %s items of %s bytes there and back (identity)", num(float64(s.LargeItems)), num(float64(s.LargeBytes))),
			short: "large items, MB/s",
			unit:  benchjson.PeerLarge, floor: true, value: items, header: "MB/s sent",
			cells: func(r benchjson.PeerResult) string { return fmt.Sprintf("%.1f", r.Value) }},
		peerTable{title: fmt.Sprintf("%s concurrent single calls", num(float64(s.Concurrent))),
			short: "concurrent single calls, calls/s",
			unit:  benchjson.PeerConcurrent, floor: true, value: items, header: "calls/s",
			cells: func(r benchjson.PeerResult) string { return num(r.Value) }},
	)
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
				behind = append(behind, fmt.Sprintf("%s: %s (glimpse-go / %s = %.2f)", t.short, r.Name, r.Name, ratio))
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
