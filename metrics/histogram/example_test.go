package histogram_test

import (
	"fmt"

	"github.com/glimpse-go/glimpse/metrics/histogram"
)

// A chunk of 10 items that took 20ms is observed once, as 10 items of
// 2ms each.
func ExampleHistogram_ObserveN() {
	h := histogram.New([]float64{0.001, 0.01})
	h.ObserveN(0.002, 10)
	h.Observe(0.5)
	s := h.Snapshot()
	fmt.Println(s.Bounds, s.Cumulative, s.Count, s.Sum)
	// Output: [0.001 0.01] [0 10] 11 0.52
}
