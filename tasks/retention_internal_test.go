package tasks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
)

// TestRetentionFindsOldTasksByIndex: the retention duty removes the tasks
// that finished before the retention and no other, and finds them
// through a partial index of finish times. Before, it went through the
// state index's every finished task (a week of them by default), each
// looked up in the table, holding the store's write lock (every enqueue
// waited) meanwhile, once a minute; a task that has not finished has no
// entry, so enqueues do not pay for the index.
func TestRetentionFindsOldTasksByIndex(t *testing.T) {
	c := newStoreClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enqueueLater(t, c, 2, 10)
	now := time.Now()
	for i, st := range []struct {
		state    State
		finished time.Time
	}{{Succeeded, now.Add(-3 * time.Hour)}, {Failed, now.Add(-2 * time.Hour)}, {Cancelled, now.Add(-5 * time.Hour)}, {Succeeded, now.Add(-time.Minute)}} {
		if _, err := c.db.ExecContext(ctx, `UPDATE `+tasksTable+` SET state = ?, finished_ms = ? WHERE id = (SELECT id FROM `+tasksTable+` WHERE finished_ms = 0 ORDER BY id LIMIT 1)`,
			string(st.state), st.finished.UnixMilli()); err != nil {
			t.Fatalf("finish task %d: %v", i, err)
		}
	}
	var indexed int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tasksTable+` INDEXED BY `+finishedIndex+` WHERE finished_ms > 0`).Scan(&indexed); err != nil {
		t.Fatalf("no index %s: %v", finishedIndex, err)
	}
	if indexed != 4 {
		t.Fatalf("index %s holds %d tasks, want the 4 finished ones", finishedIndex, indexed)
	}
	s, err := NewScheduler(ctx, c.db, config.Client{}, config.Tasks{Retention: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.removeOld(ctx); err != nil {
		t.Fatal(err)
	}
	if n := storedTasks(t, c); n != 20-3 {
		t.Fatalf("%d tasks left, want 17 (the 3 finished over an hour ago removed)", n)
	}
	plan := queryPlan(t, c, `SELECT id`+oldTasks, now.UnixMilli(), string(Succeeded), string(Failed), string(Cancelled))
	if !strings.Contains(plan, finishedIndex) || strings.Contains(plan, "SCAN "+tasksTable) {
		t.Fatalf("the old tasks are found with %q, want a search of %s", plan, finishedIndex)
	}
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN of q, its steps joined by "; ".
func queryPlan(t *testing.T, c *Client, q string, args ...any) string {
	t.Helper()
	rows, err := c.db.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "; "
	}
	return plan
}
