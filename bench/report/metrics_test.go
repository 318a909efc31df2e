package main

import (
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// TestRenderPoolMetrics checks that the metrics section reports what the
// bar needs: the scrapes that happened and their rate, the median of the
// pairs' ratios with its interval, and the CPU per item of the whole
// process set, gearmand's part included.
func TestRenderPoolMetrics(t *testing.T) {
	var b strings.Builder
	writePoolMetrics(&b, &benchjson.PoolMetrics{Rounds: 20, RoundMs: 1000, Items: 1_000_000, ScrapeEveryMs: 1000,
		Scrapes: 21, OnSeconds: 21.5, OffItemsPerS: 30e6, OnItemsPerS: 29.7e6, Ratio: 0.991, RatioLow: 0.962, RatioHigh: 1.012,
		OffCPUNsPerItem: 50.25, OnCPUNsPerItem: 50.5, OffGearmandNsPerItem: 8.5, OnGearmandNsPerItem: 8.75,
		CPURatio: 1.004, CPURatioLow: 0.995, CPURatioHigh: 1.013, ScrapeCPUMs: 2.5, ScrapeNsPerItem: 0.083, ScrapeShare: 0.00166})
	got := b.String()
	for _, want := range []string{
		"switched on and off", "21 scrapes, 0.98/s, 0 failed", "20 pairs of rounds, each of at least 1s",
		"| items/s (median round) | 30,000,000 | 29,700,000 | 0.991 | 0.962 - 1.012 |",
		"| CPU ns per item (all rounds) | 50.2 | 50.5 | 1.004 | 0.995 - 1.013 |",
		"| of which gearmand | 8.5 | 8.8 | | |",
		"2.50 ms of CPU", "0.083 ns per item, **0.17%**",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics section lacks %q:\n%s", want, got)
		}
	}
}
