package histogram_test

import (
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/metrics/histogram"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConcurrentObserveN: observations from many goroutines all land, in
// their buckets ("le": a value on a bound counts in it).
func TestConcurrentObserveN(t *testing.T) {
	h := histogram.New([]float64{1, 2})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				h.ObserveN(1, 3)
				h.Observe(3)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Cumulative[0] != 12000 || s.Cumulative[1] != 12000 || s.Count != 16000 || s.Sum != 24000 {
		t.Errorf("snapshot %+v, want 12000 at le=1 and le=2, 16000 in all, sum 24000", s)
	}
}
