package tasks

import (
	"reflect"
	"testing"
	"time"
)

// TestInsertArgsAreEachRowsOwn: the arguments of a batch, whose rows
// reuse the boxed values they share with the row before, are each row's
// own values, of the types the INSERT always had.
func TestInsertArgsAreEachRowsOwn(t *testing.T) {
	base := row{id: "a", fn: "f", queue: "q", state: Scheduled, payload: []byte("p"), created: 1000, eta: 5000,
		retry: RetryConfig{MaxAttempts: 3, MinBackoff: time.Second, MaxBackoff: time.Minute}}
	rows := []row{base, base, base, base, base, base}
	rows[1].id, rows[1].key = "b", "k"
	rows[2].id, rows[2].fn, rows[2].queue, rows[2].state, rows[2].dispatch = "c", "g", "r", Queued, 7000
	rows[3].id, rows[3].retry = "d", RetryConfig{MaxAttempts: 300, MinBackoff: 2 * time.Second, MaxBackoff: time.Hour}
	rows[4].id, rows[4].created, rows[4].eta = "e", 1001, 5001
	rows[5].id = "f"
	var chunk []*pending
	var want []any
	for i := range rows {
		r := &rows[i]
		chunk = append(chunk, &pending{r: r})
		var key any
		if r.key != "" {
			key = r.key
		}
		want = append(want, string(r.id), r.fn, r.queue, key, string(r.state), r.payload, r.retry.MaxAttempts,
			r.retry.MinBackoff.Milliseconds(), r.retry.MaxBackoff.Milliseconds(), r.created, r.eta, r.dispatch, "")
	}
	got := insertArgs(chunk)
	if len(got) != len(want) {
		t.Fatalf("%d arguments, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) || reflect.TypeOf(got[i]) != reflect.TypeOf(want[i]) {
			t.Errorf("row %d column %d: %#v (%T), want %#v (%T)", i/13, i%13, got[i], got[i], want[i], want[i])
		}
	}
}
