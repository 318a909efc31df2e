package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// The bars of issue 11: with a cluster key, the trivial map keeps at
// least keyMapBar of its keyless throughput, and a ping to keyPingWorkers
// workers takes at most keyPingBar times as long.
const (
	keyMapBar      = 0.90
	keyPingBar     = 1.5
	keyPingWorkers = 50
)

// errNoKeyed marks a report whose programs ran without -key (or JSON
// written before they kept the keyed figures).
var errNoKeyed = errors.New("no keyed figures (poolbench -key, pingbench -key)")

// keyLine is one line of the cluster key table; a nil ratio is a
// measurement missing from the JSON.
type keyLine struct {
	what             string
	keyless, keyed   float64
	ratio            *float64
	bar              string
	meets            func(float64) bool // nil: no bar
	keylessF, keyedF func(float64) string
}

// writeKeyOverhead writes the "Cluster key overhead" section from the
// keyed figures in pool.json and ping.json, each line saying whether it
// meets issue 11's bar.
func writeKeyOverhead(b *strings.Builder, out string) error {
	var p benchjson.Pool
	var g benchjson.Ping
	poolErr := benchjson.Read(filepath.Join(out, "pool.json"), &p)
	pingErr := benchjson.Read(filepath.Join(out, "ping.json"), &g)
	lines := append(poolKeyLines(p, poolErr == nil), pingKeyLines(g, pingErr == nil)...)
	measured := false
	for _, l := range lines {
		measured = measured || l.ratio != nil
	}
	if !measured {
		return errNoKeyed
	}
	fmt.Fprintf(b, "The same work with and without a cluster key, in the same run: HMAC-sealed commands, replies, chunks and\n")
	fmt.Fprintf(b, "results, and CURVE on the ZeroMQ channels. The maps run on two local clusters of the same slots taking turns\n")
	fmt.Fprintf(b, "(each first every other time); the trivial map's ratio is the median over the rounds of keyed/keyless items/s.\n")
	fmt.Fprintf(b, "The pings run the keyless cluster first, then the same worker counts again with a key; the ratio is of the\n")
	fmt.Fprintf(b, "medians. The bars are issue 11's.\n\n")
	fmt.Fprintf(b, "| measure | keyless | keyed | keyed / keyless | bar | meets it |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | --- | --- |\n")
	for _, l := range lines {
		if l.ratio == nil {
			fmt.Fprintf(b, "| %s | | | | %s | not measured |\n", l.what, l.bar)
			continue
		}
		verdict := "no bar"
		if l.meets != nil {
			verdict = "**no**"
			if l.meets(*l.ratio) {
				verdict = "yes"
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.3f | %s | %s |\n", l.what, l.keylessF(l.keyless), l.keyedF(l.keyed), *l.ratio, l.bar, verdict)
	}
	fmt.Fprintf(b, "\n")
	return nil
}

// poolKeyLines are the trivial and one-item map lines; ok says pool.json
// was read.
func poolKeyLines(p benchjson.Pool, ok bool) []keyLine {
	ms := func(v float64) string { return fmt.Sprintf("%.3f ms", v) }
	items := "trivial map (`examples.square`, automatic chunks), items/s"
	trivial := keyLine{what: items, bar: fmt.Sprintf(">= %.2f", keyMapBar),
		meets: func(r float64) bool { return r >= keyMapBar }, keylessF: num, keyedF: num}
	one := keyLine{what: "one-item map, p50", bar: "none (for reference)", keylessF: ms, keyedF: ms}
	if !ok || p.Keyed == nil {
		return []keyLine{trivial, one}
	}
	k := p.Keyed
	trivial.what = fmt.Sprintf("trivial map (`examples.square` over %s items, automatic chunks), items/s, median of %d", num(float64(k.Items)), k.Rounds)
	trivial.keyless, trivial.keyed, trivial.ratio = k.KeylessItemsPerS, k.KeyedItemsPerS, &k.Ratio
	one.what = fmt.Sprintf("one-item map, p50 of %s sequential calls", num(float64(k.OneItemCalls)))
	one.keyless, one.keyed, one.ratio = k.KeylessOneItemMs, k.KeyedOneItemMs, &k.OneItemRatio
	return []keyLine{trivial, one}
}

// pingKeyLines are the lines of a ping to keyPingWorkers workers, one per
// channel; ok says ping.json was read.
func pingKeyLines(g benchjson.Ping, ok bool) []keyLine {
	ms := func(v float64) string { return fmt.Sprintf("%.1f ms", v) }
	var lines []keyLine
	for _, via := range []string{"fanout", "zmq"} {
		l := keyLine{what: fmt.Sprintf("ping to %d workers via %s, median", keyPingWorkers, via),
			bar: fmt.Sprintf("<= %.1f", keyPingBar), meets: func(r float64) bool { return r <= keyPingBar }, keylessF: ms, keyedF: ms}
		for _, r := range g.KeyRatios {
			if ok && r.Workers == keyPingWorkers && r.Via == via {
				l.keyless, l.keyed, l.ratio = r.KeylessMedianMs, r.KeyedMedianMs, &r.Ratio
			}
		}
		lines = append(lines, l)
	}
	return lines
}
