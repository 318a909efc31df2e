package cluster

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// BenchmarkKeyedMap measures what the cluster key costs a map: two local
// clusters of two worker slots each, one with a key and one without, take
// turns running the same map, so that both see the same machine. Read
// keyed/keyless (throughput with the key over throughput without, the
// median over the pairs of maps; the bar is 0.9), and items/s (Square1M)
// or ns/map (OneItem) of each, over the whole run.
func BenchmarkKeyedMap(b *testing.B) {
	for _, bc := range []struct {
		name  string
		items int
	}{{"Square1M", 1_000_000}, {"OneItem", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			clusters := [2]*Local{startBenchLocal(b, false), startBenchLocal(b, true)}
			xs := make([]int64, bc.items)
			for i := range xs {
				xs[i] = int64(i)
			}
			var took [2]time.Duration
			var ratios []float64 // keyless time over keyed time, per pair of maps
			n := 0
			for b.Loop() {
				pair := took
				// Each goes first every other time: the second map pays
				// for the first one's garbage.
				for _, i := range [][2]int{{0, 1}, {1, 0}}[n%2] {
					t0 := time.Now()
					out, err := pool.Map(context.Background(), clusters[i].Pool(), funcs.Square, xs)
					took[i] += time.Since(t0)
					if err != nil || len(out) != len(xs) {
						b.Fatal(err)
					}
				}
				ratios = append(ratios, (took[0]-pair[0]).Seconds()/(took[1]-pair[1]).Seconds())
				n++
			}
			for i, name := range []string{"keyless", "keyed"} {
				if bc.items > 1 {
					b.ReportMetric(float64(bc.items*n)/took[i].Seconds(), name+"_items/s")
				} else {
					b.ReportMetric(float64(took[i].Nanoseconds())/float64(n), name+"_ns/map")
				}
			}
			// The median pair: one slow moment of a shared machine moves
			// a total, not the median.
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "keyed/keyless")
		})
	}
}

func startBenchLocal(b *testing.B, key bool) *Local {
	b.Helper()
	wc := config.DefaultWorker()
	wc.Slots, wc.LogLevel = 2, slog.LevelError
	l, err := StartLocalWith(context.Background(), LocalConfig{Worker: wc, Log: io.Discard, GenerateKey: key})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}
