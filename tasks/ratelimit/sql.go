package ratelimit

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// The tables: a token bucket per rate-limited queue, and a row per slot
// of a queue with a concurrency limit. Times are Unix milliseconds of the
// database's clock.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS glimpse_tasks_rate_buckets (
		queue      TEXT NOT NULL PRIMARY KEY,
		tokens     DOUBLE PRECISION NOT NULL,
		updated_ms BIGINT NOT NULL,
		granted    BIGINT NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE IF NOT EXISTS glimpse_tasks_rate_slots (
		queue      TEXT NOT NULL,
		slot       BIGINT NOT NULL,
		owner      TEXT NOT NULL DEFAULT '',
		lease_id   BIGINT NOT NULL DEFAULT 0,
		expires_ms BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (queue, slot)
	)`,
	`CREATE INDEX IF NOT EXISTS glimpse_tasks_rate_slots_owner ON glimpse_tasks_rate_slots (owner)`,
}

// dialect fills in the few spellings SQLite and PostgreSQL do not share.
type dialect struct {
	*store.DB
	repl *strings.Replacer
}

func newDialect(db *store.DB) dialect {
	if db.Dialect == store.Postgres {
		return dialect{db, strings.NewReplacer(
			"{now}", "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000 AS BIGINT)",
			"{least}", "LEAST", "{greatest}", "GREATEST",
			"{skip_locked}", "FOR UPDATE SKIP LOCKED")}
	}
	// julianday('now') is the same for the whole statement.
	return dialect{db, strings.NewReplacer(
		"{now}", "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
		"{least}", "MIN", "{greatest}", "MAX", "{skip_locked}", "")}
}

// sql expands the dialect's words and the '?' placeholders.
func (d dialect) sql(query string) string { return d.Q(d.repl.Replace(query)) }

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// ensureRows creates the bucket and slot rows of a queue; a new bucket
// holds one token.
func (d dialect) ensureRows(ctx context.Context, queue string, lim Limits) error {
	if lim.Rate > 0 {
		if _, err := d.ExecContext(ctx, d.sql(`INSERT INTO glimpse_tasks_rate_buckets (queue, tokens, updated_ms)
			VALUES (?, 1, {now}) ON CONFLICT DO NOTHING`), queue); err != nil {
			return d.Wrap("create bucket", err)
		}
	}
	if lim.MaxRunning > 0 {
		values := strings.Repeat("(?, ?),", lim.MaxRunning)
		args := make([]any, 0, 2*lim.MaxRunning)
		for i := range lim.MaxRunning {
			args = append(args, queue, i)
		}
		if _, err := d.ExecContext(ctx, d.sql(`INSERT INTO glimpse_tasks_rate_slots (queue, slot) VALUES `+
			values[:len(values)-1]+` ON CONFLICT DO NOTHING`), args...); err != nil {
			return d.Wrap("create slots", err)
		}
	}
	return nil
}

// takeTokens refills the queue's bucket and takes up to n whole tokens in
// one statement; it returns how many it took and what is left.
func (d dialect) takeTokens(ctx context.Context, q querier, queue string, lim Limits, n int) (int, float64, error) {
	avail := fmt.Sprintf("{least}(%s, tokens + {greatest}(0, {now} - updated_ms) * %s)",
		num(lim.capacity()), num(lim.Rate/1000))
	take := fmt.Sprintf("CAST(LEAST(%d, FLOOR(%s)) AS BIGINT)", n, avail)
	if d.Dialect == store.SQLite {
		take = fmt.Sprintf("MIN(%d, CAST(%s AS INTEGER))", n, avail) // CAST truncates: the floor of a positive number
	}
	var granted int
	var left float64
	err := q.QueryRowContext(ctx, d.sql(`UPDATE glimpse_tasks_rate_buckets
		SET tokens = `+avail+` - `+take+`, granted = `+take+`, updated_ms = {greatest}(updated_ms, {now})
		WHERE queue = ? RETURNING granted, tokens`), queue).Scan(&granted, &left)
	if err != nil {
		return 0, 0, d.Wrap("take tokens", err)
	}
	return granted, left, nil
}

// takeSlots leases up to n free (or expired) slots of the queue to owner
// under leaseID; it returns their numbers.
func (d dialect) takeSlots(ctx context.Context, q querier, queue string, lim Limits, n int, owner string, leaseID int64, lease time.Duration) ([]int64, error) {
	// The CTE picks the slots once: PostgreSQL may run a subquery in the
	// WHERE clause again for each row, and its LIMIT would then not hold.
	rows, err := q.QueryContext(ctx, d.sql(`WITH picked AS (
			SELECT slot FROM glimpse_tasks_rate_slots
			WHERE queue = ? AND slot < ? AND expires_ms <= {now}
			ORDER BY slot LIMIT ? {skip_locked})
		UPDATE glimpse_tasks_rate_slots
		SET owner = ?, lease_id = ?, expires_ms = {now} + ?
		WHERE queue = ? AND slot IN (SELECT slot FROM picked)
		RETURNING slot`), queue, lim.MaxRunning, n, owner, leaseID, lease.Milliseconds(), queue)
	if err != nil {
		return nil, d.Wrap("take slots", err)
	}
	defer rows.Close()
	var slots []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, d.Wrap("take slots", err)
		}
		slots = append(slots, s)
	}
	if err := rows.Err(); err != nil {
		return nil, d.Wrap("take slots", err)
	}
	return slots, nil
}

// freeSlot gives a slot back, unless its lease ran out and another
// holder has it now.
func (d dialect) freeSlot(ctx context.Context, q querier, queue string, slot, leaseID int64, owner string) error {
	_, err := q.ExecContext(ctx, d.sql(`UPDATE glimpse_tasks_rate_slots SET owner = '', lease_id = 0, expires_ms = 0
		WHERE queue = ? AND slot = ? AND owner = ? AND lease_id = ?`), queue, slot, owner, leaseID)
	if err != nil {
		return d.Wrap("free slot", err)
	}
	return nil
}

// renew extends every lease owner holds; freeAll gives them all back.
func (d dialect) renew(ctx context.Context, owner string, lease time.Duration) error {
	_, err := d.ExecContext(ctx, d.sql(`UPDATE glimpse_tasks_rate_slots SET expires_ms = {now} + ?
		WHERE owner = ? AND expires_ms > 0`), lease.Milliseconds(), owner)
	if err != nil {
		return d.Wrap("renew leases", err)
	}
	return nil
}

func (d dialect) freeAll(ctx context.Context, owner string) error {
	_, err := d.ExecContext(ctx, d.sql(`UPDATE glimpse_tasks_rate_slots SET owner = '', lease_id = 0, expires_ms = 0
		WHERE owner = ?`), owner)
	if err != nil {
		return d.Wrap("free slots", err)
	}
	return nil
}
