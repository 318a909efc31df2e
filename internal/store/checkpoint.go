package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// CheckpointBackstop is the WAL size, in pages, at which a commit on a
// connection whose checkpoints run in the background checkpoints all the
// same: it bounds the WAL should the background checkpoints fall behind.
// SQLite's default, on every commit path, is 1000.
const CheckpointBackstop = 4000

// StartCheckpointer moves the WAL checkpoints of an SQLite file off the
// commit path: SQLite's automatic checkpoint runs inside the COMMIT that
// crosses 1000 WAL pages, copying pages into the database file and
// syncing it while that writer (and every caller waiting on it) waits.
// Instead a goroutine with its own connection runs a PASSIVE checkpoint
// every interval (it never blocks writers, and the next writer restarts
// a WAL that it copied entirely), and db's connection checkpoints itself
// only past CheckpointBackstop pages. stop ends the goroutine; call it
// before Close. On PostgreSQL and ":memory:" it does nothing.
func (db *DB) StartCheckpointer(ctx context.Context, interval time.Duration) (stop func(), err error) {
	if db.sqliteURI == "" {
		return func() {}, nil
	}
	ckpt, err := sql.Open("sqlite", db.sqliteURI)
	if err != nil {
		return nil, db.Wrap("open checkpointer", err)
	}
	ckpt.SetMaxOpenConns(1)
	// db has one connection: the pragma applies to every commit it makes.
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", CheckpointBackstop)); err != nil {
		ckpt.Close()
		return nil, db.Wrap("set wal_autocheckpoint", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { checkpointEvery(ckpt, interval, done) })
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			ckpt.Close()
		})
	}, nil
}

// checkpointEvery runs a PASSIVE checkpoint every interval until done.
// A failure (SQLITE_BUSY: another process checkpoints) is left to the
// next round and to the backstop.
func checkpointEvery(ckpt *sql.DB, interval time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*interval+time.Second)
		ckpt.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		cancel()
	}
}
