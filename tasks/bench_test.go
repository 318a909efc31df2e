package tasks_test

import (
	"path/filepath"
	"testing"

	"github.com/glimpse-go/glimpse/tasks"
)

// BenchmarkEnqueue enqueues from 64 goroutines of one client into an
// SQLite store, with gearmand's persistent queue: the tasks/s of the bar.
func BenchmarkEnqueue(b *testing.B) {
	e := newBenchEnv(b)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tasks.Enqueue(e.ctx, e.client, recordFn, Job{Key: "b"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

func newBenchEnv(b *testing.B) *env {
	return newEnvTB(b, filepath.Join(b.TempDir(), "tasks.db"), testConf())
}
