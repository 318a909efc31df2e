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

// TestChunkSizes: a batch's rows are cut into chunks that add up to it,
// none over maxInsertChunk; up to exactChunks rows make one statement,
// and the sizes stay few (each is a statement prepared once).
func TestChunkSizes(t *testing.T) {
	sizes := map[int]bool{}
	for n := 1; n <= maxInsertBatch; n++ {
		chunks := chunkSizes(n)
		sum := 0
		for _, c := range chunks {
			if c < 1 || c > maxInsertChunk {
				t.Fatalf("chunkSizes(%d) = %v: a chunk of %d", n, chunks, c)
			}
			sum += c
			sizes[c] = true
		}
		if sum != n || n <= exactChunks && len(chunks) != 1 {
			t.Fatalf("chunkSizes(%d) = %v", n, chunks)
		}
	}
	if len(sizes) > exactChunks+3 {
		t.Fatalf("%d chunk sizes, want at most %d", len(sizes), exactChunks+3)
	}
}
