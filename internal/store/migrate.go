package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	msqlite "modernc.org/sqlite"
)

// Migrate runs the statements that create a room's tables (CREATE TABLE IF
// NOT EXISTS ...), safely when several processes open a new database at
// once: on PostgreSQL in one transaction under an advisory lock, on SQLite
// retrying SQLITE_BUSY.
func (db *DB) Migrate(ctx context.Context, stmts ...string) error {
	var err error
	if db.Dialect == Postgres {
		err = db.migratePostgres(ctx, stmts)
	} else {
		err = db.migrateSQLite(ctx, stmts)
	}
	if err != nil {
		return db.Wrap("create tables", err)
	}
	return nil
}

// migratePostgres holds an advisory lock for the transaction: without it,
// two processes starting at once can both try to create a table and one
// fails on a unique index of the system catalog.
func (db *DB) migratePostgres(ctx context.Context, stmts []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const lockKey = 0x676c696d70736501 // "glimpse" + 1: any constant shared by all processes
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+strconv.FormatInt(lockKey, 10)+`)`); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// migrateSQLite retries SQLITE_BUSY: when several processes open a new
// database at once, the switch to WAL and a read transaction's upgrade to
// a write fail at once instead of waiting for busy_timeout (SQLite's
// deadlock avoidance). A retry gets through.
func (db *DB) migrateSQLite(ctx context.Context, stmts []string) error {
	for _, s := range stmts {
		if err := retryBusy(ctx, func() error {
			_, err := db.ExecContext(ctx, s)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a locked database.
const sqliteBusy = 5

func retryBusy(ctx context.Context, op func() error) error {
	const tries = 50
	for attempt := 1; ; attempt++ {
		err := op()
		var se *msqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || attempt == tries {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(time.Duration(attempt)*10*time.Millisecond, 200*time.Millisecond)):
		}
	}
}
