package tasks

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
)

// BenchmarkInsertBatch10 is one group commit of 10 rows, what 10 HTTP
// clients' enqueues make, into an SQLite store: the part of an enqueue
// that its callers wait for one after another.
func BenchmarkInsertBatch10(b *testing.B) {
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "tasks.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c, err := NewClient(context.Background(), db, nil, config.Tasks{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 270)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		batch := make([]*pending, 10)
		for i := range batch {
			r, err := c.newRow("test.record", payload, []EnqueueOption{Countdown(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			batch[i] = &pending{r: r}
		}
		if _, err := c.insert(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
