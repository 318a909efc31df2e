package tasks

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
)

// TestDispatchLooksUpDueTasksByID: the dispatcher's UPDATE (every
// poll_interval in every worker, holding the store's write lock) finds
// the due tasks by primary key, not by walking the state index over
// every scheduled task: with 60,000 tasks scheduled for later (the
// gateway benchmark's enqueue rounds), each poll read them all, and
// webhook deliveries fell to 300/s. It takes the due tasks and leaves
// the later ones scheduled.
func TestDispatchLooksUpDueTasksByID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := newTestStore(t)
	c, err := NewClient(ctx, db, nil, config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var due []ID
	for i := range 200 {
		delay := time.Hour
		if i%50 == 0 {
			delay = 10 * time.Millisecond
		}
		id, err := Enqueue(ctx, c, groupSquare, i, Countdown(delay))
		if err != nil {
			t.Fatal(err)
		}
		if delay < time.Hour {
			due = append(due, id)
		}
	}
	time.Sleep(20 * time.Millisecond)
	s, err := NewScheduler(ctx, db, config.Client{}, config.Tasks{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	now := time.Now().UnixMilli()
	args := []any{string(Queued), now, string(Scheduled), string(Retrying), now, string(Scheduled), string(Retrying)}
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+dispatchUpdate, args...)
	if err != nil {
		t.Fatal(err)
	}
	var outer []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		if parent == 0 && !strings.Contains(detail, "SUBQUERY") {
			outer = append(outer, detail)
		}
	}
	rows.Close()
	if len(outer) != 1 || strings.Contains(outer[0], "state") || !strings.Contains(outer[0], "(id=?)") {
		t.Errorf("the dispatcher's UPDATE finds its rows with %q, want a search by primary key (id=?)", outer)
	}

	byFunc, n, err := s.takeIDs(ctx, dispatchUpdate, args...)
	if err != nil {
		t.Fatal(err)
	}
	got := byFunc[groupSquare.Name()]
	slices.Sort(got)
	slices.Sort(due)
	if n != len(due) || !slices.Equal(got, due) {
		t.Errorf("dispatched %v, want the due tasks %v", got, due)
	}
	counts, err := c.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[Scheduled] != 200-len(due) || counts[Queued] != len(due) {
		t.Errorf("counts %v, want %d scheduled and %d queued", counts, 200-len(due), len(due))
	}
}
