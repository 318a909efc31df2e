package tasks

import (
	"context"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// The tables of the tasks room in the shared store.
const (
	tasksTable    = "glimpse_tasks_tasks"
	attemptsTable = "glimpse_tasks_attempts"
	// keyIndex makes idempotency keys unique. It is partial: a task
	// without a key (NULL) has no entry, so its commit does not write
	// this index's pages. Stores made before it keep their column's
	// UNIQUE constraint as well.
	keyIndex = "glimpse_tasks_idem_key"
	// finishedIndex is how the retention duty finds the finished tasks
	// past their retention (it scanned every task, holding the store's
	// write lock meanwhile, once a minute). Partial: a task that has not
	// finished (finished_ms 0) has no entry, so an enqueue's commit does
	// not write this index's pages.
	finishedIndex = "glimpse_tasks_finished"
)

// schema returns the tables for db's dialect: times are BIGINT Unix
// milliseconds (0: none), bytes are BLOB or BYTEA. The idempotency key
// (NULL for none) has a unique index, so two clients enqueueing one key
// at once make one row.
func schema(db *store.DB) []string {
	blob := "BLOB"
	if db.Dialect == store.Postgres {
		blob = "BYTEA"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + tasksTable + ` (
	id            TEXT    PRIMARY KEY,
	func          TEXT    NOT NULL,
	queue         TEXT    NOT NULL,
	idem_key      TEXT,
	state         TEXT    NOT NULL,
	payload       ` + blob + ` NOT NULL,
	result        ` + blob + `,
	attempt       INTEGER NOT NULL DEFAULT 0,
	max_attempts  INTEGER NOT NULL,
	min_backoff   BIGINT  NOT NULL,
	max_backoff   BIGINT  NOT NULL,
	created_ms    BIGINT  NOT NULL,
	eta_ms        BIGINT  NOT NULL,
	dispatched_ms BIGINT  NOT NULL DEFAULT 0,
	started_ms    BIGINT  NOT NULL DEFAULT 0,
	finished_ms   BIGINT  NOT NULL DEFAULT 0,
	lease_ms      BIGINT  NOT NULL DEFAULT 0,
	worker        TEXT    NOT NULL DEFAULT '',
	error         TEXT    NOT NULL DEFAULT ''
)`,
		`CREATE INDEX IF NOT EXISTS glimpse_tasks_state_eta ON ` + tasksTable + ` (state, eta_ms)`,
		`CREATE UNIQUE INDEX IF NOT EXISTS ` + keyIndex + ` ON ` + tasksTable + ` (idem_key) WHERE idem_key IS NOT NULL`,
		`CREATE INDEX IF NOT EXISTS ` + finishedIndex + ` ON ` + tasksTable + ` (finished_ms) WHERE finished_ms > 0`,
		`CREATE TABLE IF NOT EXISTS ` + attemptsTable + ` (
	task_id    TEXT    NOT NULL,
	attempt    INTEGER NOT NULL,
	worker     TEXT    NOT NULL,
	started_ms BIGINT  NOT NULL,
	ended_ms   BIGINT  NOT NULL,
	error      TEXT    NOT NULL,
	PRIMARY KEY (task_id, attempt)
)`,
	}
}

// Migrate creates the tasks tables in db if they are missing.
func Migrate(ctx context.Context, db *store.DB) error {
	return db.Migrate(ctx, schema(db)...)
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// placeholders returns n comma-separated '?'.
func placeholders(n int) string {
	b := make([]byte, 0, 2*n)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '?')
	}
	return string(b)
}
