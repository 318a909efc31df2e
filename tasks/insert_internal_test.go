package tasks

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
)

// newTestStore opens a fresh SQLite store, closed when the test ends.
func newTestStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newStoreClient returns a client on a fresh SQLite store, without job
// servers (tasks due later need none).
func newStoreClient(t *testing.T) *Client {
	t.Helper()
	return storeClientAt(t, filepath.Join(t.TempDir(), "tasks.db"))
}

// storeClientAt is newStoreClient on the SQLite file at path.
func storeClientAt(t *testing.T, path string) *Client {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := NewClient(context.Background(), db, nil, config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// holdWriteLock takes the write lock of the SQLite file at path on a
// connection of its own, until release.
func holdWriteLock(ctx context.Context, t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	}
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return func() {
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			t.Error(err)
		}
		conn.Close()
		db.Close()
	}
}

// waitUpTo polls cond until it holds, for at most d.
func waitUpTo(d time.Duration, cond func() bool) {
	for deadline := time.Now().Add(d); !cond() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// TestCallersEnqueueingTogetherShareATransaction: 8 callers each enqueue
// 8 tasks, pausing up to 20 ms after each answer (as HTTP clients between
// requests). Before, each row that came alone had a transaction of its
// own (35 to 52 for the 64 enqueues here); the inserter now waits for the
// callers of the last batch (here up to 500 ms), so they share one.
//
// The inserter learns how many callers come together from the rows that
// arrive while it commits. So that it learns all 8 whatever the machine's
// load (goroutines that the scheduler runs one by one can each find the
// last commit over), the first commit waits for a write lock another
// connection holds until the other 7 rows wait.
func TestCallersEnqueueingTogetherShareATransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	c := storeClientAt(t, path)
	c.ins.window = 500 * time.Millisecond
	const callers, rounds = 8, 8
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	release := holdWriteLock(ctx, t, path)
	var wg sync.WaitGroup
	ids := make(chan ID, callers*rounds)
	for range callers {
		wg.Go(func() {
			for range rounds {
				r, err := c.newRow("test.record", []byte("x"), []EnqueueOption{Countdown(time.Hour)})
				if err == nil {
					var id ID
					id, err = c.add(ctx, r)
					ids <- id
				}
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			}
		})
	}
	// The first row is in the blocked commit; the others wait (or, if
	// the inserter took some with the first, wait with it: the company
	// is the same).
	waitUpTo(2*time.Second, func() bool { return len(c.ins.in) == callers-1 })
	release()
	wg.Wait()
	close(ids)
	seen := map[ID]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != callers*rounds || storedTasks(t, c) != callers*rounds {
		t.Fatalf("%d distinct ids, %d tasks stored; want %d", len(seen), storedTasks(t, c), callers*rounds)
	}
	t.Logf("%d transactions for %d enqueues", c.ins.commits.Load(), callers*rounds)
	if n := c.ins.commits.Load(); n > callers*rounds/4 {
		t.Fatalf("%d transactions for %d enqueues: want at most %d", n, callers*rounds, callers*rounds/4)
	}
}

// TestALoneCallerWaitsForNoOne: one caller enqueueing after another never
// waits for company (the window here is 10 s: waiting would show).
func TestALoneCallerWaitsForNoOne(t *testing.T) {
	c := newStoreClient(t)
	c.ins.window = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 20 {
		r, err := c.newRow("test.record", []byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.add(ctx, r); err != nil {
			t.Fatalf("an enqueue alone: %v", err)
		}
	}
}

// TestIDsSortByCreation: ids made one after another sort in that order
// (they begin with the time), so the store's index of ids gets a batch's
// rows side by side; they stay 32 hex digits.
func TestIDsSortByCreation(t *testing.T) {
	c := newStoreClient(t)
	var got []ID
	for range 10 {
		r, err := c.newRow("test.record", []byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !validID(r.id) {
			t.Fatalf("id %q: want 32 lower-case hex digits", r.id)
		}
		got = append(got, r.id)
		time.Sleep(2 * time.Millisecond)
	}
	if !slices.IsSorted(got) {
		t.Fatalf("ids made in turn do not sort in that order: %v", got)
	}
}

func storedTasks(t *testing.T, c *Client) int {
	t.Helper()
	var n int
	if err := c.db.QueryRow(`SELECT COUNT(*) FROM ` + tasksTable).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
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
