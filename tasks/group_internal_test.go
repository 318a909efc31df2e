package tasks

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

var groupSquare = pool.Register("taskstest.groupsquare", func(_ context.Context, x int) (int, error) { return x * x, nil })

// TestConcurrentRecordsShareATransaction: the outcomes of n jobs that end
// while the store is busy are written together, not in a transaction
// each. What it counts is what each transaction costs on SQLite: the
// pages it appends to the write-ahead log (and, with workers in other
// processes, a turn of the file's write lock). Recorded one by one, the
// n outcomes appended at least a page each (about 3); together, fewer
// than n in all.
func TestConcurrentRecordsShareATransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "tasks.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The log keeps every page appended (its one connection): no
	// checkpoint moves them to the database meanwhile.
	if _, err := db.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ctx, db, nil, config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := NewRunner(ctx, db, "w1", config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()

	const n = 16
	outs := runClaimed(t, ctx, c, r, n)
	before := walFrames(t, ctx, db, path)
	conn, err := db.Conn(ctx) // the store is busy: the n jobs' records wait
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- r.finish([]outcome{outs[i]}) })
	}
	for db.Stats().WaitCount == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the other jobs come to wait too
	conn.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	frames := walFrames(t, ctx, db, path) - before
	for _, o := range outs {
		in, err := c.Get(ctx, o.t.id)
		if err != nil || in.State != Succeeded || len(in.Attempts) != 1 {
			t.Fatalf("task %s: %+v, %v; want succeeded after 1 attempt", o.t.id, in, err)
		}
	}
	t.Logf("%d outcomes recorded with %d pages appended to the log", n, frames)
	if frames >= n {
		t.Errorf("%d outcomes recorded with %d pages appended to the log, want fewer than %d (one transaction each wrote at least one)", n, frames, n)
	}
}

// runClaimed enqueues n tasks of groupSquare, claims them for r and runs
// them: their outcomes, not yet recorded.
func runClaimed(t *testing.T, ctx context.Context, c *Client, r *Runner, n int) []outcome {
	t.Helper()
	var ids []ID
	for i := range n {
		id, err := Enqueue(ctx, c, groupSquare, i)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	tasks, err := r.claim(ctx, groupSquare.Name(), ids)
	if err != nil || len(tasks) != n {
		t.Fatalf("claimed %d of %d tasks: %v", len(tasks), n, err)
	}
	f, _ := wire.Lookup(groupSquare.Name())
	var outs []outcome
	for i := range tasks {
		o, ok := r.run(ctx, f, &tasks[i])
		if !ok || o.err != "" {
			t.Fatalf("task %s: %q", tasks[i].id, o.err)
		}
		outs = append(outs, o)
	}
	return outs
}

// walFrames is how many pages the SQLite store db at path has in its
// write-ahead log: after its 32-byte header, a 24-byte header and a page
// each.
func walFrames(t *testing.T, ctx context.Context, db *store.DB, path string) int64 {
	t.Helper()
	var page int64
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&page); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return max(st.Size()-32, 0) / (24 + page)
}
