package tasks

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// TestEnqueuesReachTheDatabaseFileInTheBackground: 100 enqueues, one at a
// time, leave a few hundred pages in the WAL. Before, only the commit
// that crossed SQLite's 1000 pages checkpointed them, so the database
// file itself stayed without the tasks; now a background checkpoint
// copies them there within a moment, without a commit paying for it.
func TestEnqueuesReachTheDatabaseFileInTheBackground(t *testing.T) {
	c := newStoreClient(t)
	const n = 100
	enqueueLater(t, c, 1, n)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := tasksInDatabaseFile(t, c)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d enqueued tasks in the database file after 10 s: the WAL is not checkpointed in the background", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWALStaysBoundedUnderAStreamOfEnqueues: 20 callers enqueue 8,000
// tasks without a pause (well past the WAL pages that trigger a
// checkpoint); with the checkpoints in the background the WAL file still
// never grows past the backstop.
func TestWALStaysBoundedUnderAStreamOfEnqueues(t *testing.T) {
	c := newStoreClient(t)
	enqueueLater(t, c, 20, 400)
	if got := storedTasks(t, c); got != 20*400 {
		t.Fatalf("%d tasks stored, want %d", got, 20*400)
	}
	var pageSize int64
	if err := c.db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(c.db.Name + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// A frame is a page and a 24-byte header; a commit may run past the
	// backstop by its own pages.
	limit := (store.CheckpointBackstop + 500) * (pageSize + 24)
	t.Logf("WAL file: %d bytes (limit %d)", fi.Size(), limit)
	if fi.Size() > limit {
		t.Fatalf("WAL file of %d bytes after %d enqueues: want at most %d", fi.Size(), 20*400, limit)
	}
}

// enqueueLater has callers each enqueue n tasks due in an hour, one after
// another.
func enqueueLater(t *testing.T, c *Client, callers, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range n {
				r, err := c.newRow("test.record", []byte("x"), []EnqueueOption{Countdown(time.Hour)})
				if err == nil {
					_, err = c.add(ctx, r)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// tasksInDatabaseFile counts the tasks in a copy of the database file
// alone, without its WAL: the tasks checkpointed so far.
func tasksInDatabaseFile(t *testing.T, c *Client) int {
	t.Helper()
	data, err := os.ReadFile(c.db.Name)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", cp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + tasksTable).Scan(&n); err != nil {
		return 0 // the table itself is not checkpointed yet
	}
	return n
}
