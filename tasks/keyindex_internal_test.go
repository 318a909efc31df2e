package tasks

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestTasksWithoutKeysStayOutOfTheKeyIndex: the idempotency key's unique
// index holds only the tasks that have a key. Before, the column's UNIQUE
// constraint indexed every task, NULL keys too, so each enqueue's commit
// wrote one more B-tree page to the WAL for an entry no lookup uses. The
// key still dedupes, and finding a key's holder still searches the index.
func TestTasksWithoutKeysStayOutOfTheKeyIndex(t *testing.T) {
	c := newStoreClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enqueueLater(t, c, 4, 25)
	var ids []ID
	for range 2 {
		r, err := c.newRow("test.record", []byte("x"), []EnqueueOption{Countdown(time.Hour), Key("k1")})
		if err != nil {
			t.Fatal(err)
		}
		id, err := c.add(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || storedTasks(t, c) != 101 {
		t.Fatalf("key k1 enqueued twice: ids %v, %d tasks stored; want one task (101 in all)", ids, storedTasks(t, c))
	}
	var indexed int
	q := `SELECT COUNT(*) FROM ` + tasksTable + ` INDEXED BY ` + keyIndex + ` WHERE idem_key IS NOT NULL`
	if err := c.db.QueryRowContext(ctx, q).Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	var partial bool
	if err := c.db.QueryRowContext(ctx, `SELECT partial FROM pragma_index_list('`+tasksTable+`') WHERE name = ?`, keyIndex).Scan(&partial); err != nil {
		t.Fatalf("no index %s: %v", keyIndex, err)
	}
	if !partial || indexed != 1 {
		t.Fatalf("index %s: partial %v, %d entries; want only the tasks with a key (1)", keyIndex, partial, indexed)
	}
	rows, err := c.db.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT idem_key, id FROM `+tasksTable+` WHERE idem_key IN (?, ?)`, "k1", "k2")
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
	if !strings.Contains(plan, keyIndex) {
		t.Fatalf("a key's holder is found with %q, want a search of %s", plan, keyIndex)
	}
}
