package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCompareMetricsScrapes runs the metrics comparison on a real local
// cluster with maps much shorter than the scrape period: every round
// with the metrics on must still be scraped (at about one scrape a
// second of it, none failed), gearmand's CPU must be counted, and one
// scrape's CPU measured.
func TestCompareMetricsScrapes(t *testing.T) {
	ctx := testenv.Context(t)
	wc := config.DefaultWorker()
	wc.LogLevel = slog.LevelWarn
	wc.Slots = 2
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc, Log: io.Discard, NoTasks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	xs := make([]int64, 20_000)
	for i := range xs {
		xs[i] = int64(i)
	}
	const rounds = 2
	m, err := compareMetrics(ctx, local, xs, metricsCfg{rounds: rounds, round: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if m.Scrapes < rounds || m.ScrapeErrors != 0 {
		t.Errorf("%d scrapes, %d failed, over %d rounds with the metrics on; want at least one a round, none failed", m.Scrapes, m.ScrapeErrors, rounds)
	}
	if rate := float64(m.Scrapes) / m.OnSeconds; rate < 0.5 || rate > 1.5 {
		t.Errorf("%d scrapes in %.2fs with the metrics on: %.2f/s, want about 1/s", m.Scrapes, m.OnSeconds, rate)
	}
	if len(m.OnRoundsPerS) != rounds || len(m.OffCPURoundsNs) != rounds {
		t.Errorf("rounds: %d on, %d off CPU figures; want %d each", len(m.OnRoundsPerS), len(m.OffCPURoundsNs), rounds)
	}
	if m.OffGearmandNsPerItem <= 0 || m.OnGearmandNsPerItem <= 0 || m.OffCPUNsPerItem <= m.OffGearmandNsPerItem {
		t.Errorf("CPU per item: off %.1f (gearmand %.1f), on gearmand %.1f; want gearmand's counted, and less than the whole",
			m.OffCPUNsPerItem, m.OffGearmandNsPerItem, m.OnGearmandNsPerItem)
	}
	if m.ScrapeCPUMs <= 0 || m.ScrapeShare <= 0 {
		t.Errorf("one scrape's CPU %.3f ms, share %.4f; want both measured", m.ScrapeCPUMs, m.ScrapeShare)
	}
	for _, r := range [][3]float64{{m.Ratio, m.RatioLow, m.RatioHigh}, {m.CPURatio, m.CPURatioLow, m.CPURatioHigh}} {
		if !(r[1] <= r[0] && r[0] <= r[2]) {
			t.Errorf("median %.3f outside its interval [%.3f, %.3f]", r[0], r[1], r[2])
		}
	}
}

// TestMedianInterval checks the median and its bootstrap interval on
// known figures: an even count's median is the mean of the middle two,
// the interval holds the median and stays within the figures, and it is
// a point for equal figures.
func TestMedianInterval(t *testing.T) {
	med, lo, hi := medianInterval([]float64{4, 1, 3, 2})
	if med != 2.5 || lo < 1 || hi > 4 || lo > med || hi < med {
		t.Errorf("medianInterval(4 1 3 2) = %v [%v, %v]; want 2.5 within [1, 4]", med, lo, hi)
	}
	if med, lo, hi := medianInterval([]float64{0.99, 0.99, 0.99}); med != 0.99 || lo != 0.99 || hi != 0.99 {
		t.Errorf("medianInterval of equal figures = %v [%v, %v]; want 0.99 [0.99, 0.99]", med, lo, hi)
	}
	wide := make([]float64, 41)
	for i := range wide {
		wide[i] = float64(i)
	}
	if _, lo, hi := medianInterval(wide); lo < 10 || hi > 30 {
		t.Errorf("interval of the median of 0..40 = [%v, %v]; want well inside the figures", lo, hi)
	}
}
