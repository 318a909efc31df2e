package ratelimit_test

import (
	"testing"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
)

// BenchmarkAcquire measures one grant's cost on an SQLite store when the
// limits never make it wait: the round trips, not the waiting.
//
//	go test -run '^$' -bench Acquire ./tasks/ratelimit/
func BenchmarkAcquire(b *testing.B) {
	for _, bc := range []struct {
		name string
		lim  ratelimit.Limits
	}{
		{"rate", ratelimit.Limits{Rate: 1e9, Burst: 2e9}},
		{"slots", ratelimit.Limits{MaxRunning: 1000}},
		{"rate+slots", ratelimit.Limits{Rate: 1e9, Burst: 2e9, MaxRunning: 1000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := openLimiterB(b, map[string]ratelimit.Limits{"q": bc.lim})
			ctx := testenv.Context(b)
			for b.Loop() {
				rel, err := l.Acquire(ctx, "q")
				if err != nil {
					b.Fatal(err)
				}
				rel()
			}
		})
	}
}
