package tasks

import (
	"context"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
)

// TestStmtWhileATransactionHoldsTheConnection: on SQLite the store has one
// connection. While finish holds it in a transaction and asks for a
// statement it prepared before, another slot preparing a new statement
// must not block it: that deadlocked the two until the transaction's
// deadline (seen in a loaded make test: leases unrenewed for a minute,
// outcomes lost, tasks run again).
func TestStmtWhileATransactionHoldsTheConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db := newTestStore(t)
	r, err := NewRunner(ctx, db, "w1", config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	if _, err := r.stmt("SELECT 1", nil); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil) // holds the only connection, as finish does
	if err != nil {
		t.Fatal(err)
	}
	other := make(chan error, 1)
	go func() { // another slot, preparing a statement it has not used yet
		_, err := r.stmt("SELECT 2", nil)
		other <- err
	}()
	for db.Stats().WaitCount == 0 { // it waits for the connection now
		time.Sleep(time.Millisecond)
	}
	got := make(chan error, 1)
	go func() {
		st, err := r.stmt("SELECT 1", nil)
		if err == nil {
			var n int
			err = tx.StmtContext(ctx, st).QueryRowContext(ctx).Scan(&n)
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the transaction's statement waited on the other slot's prepare, which waited on the transaction")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-other; err != nil {
		t.Fatal(err)
	}
}
