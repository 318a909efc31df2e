package periodic

import (
	"context"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// One row per (entry, period) that some scheduler claimed; done once its
// Enqueue returned nil. Times are Unix milliseconds.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS glimpse_tasks_periodic_claims (
		name           TEXT NOT NULL,
		period_ms      BIGINT NOT NULL,
		owner          TEXT NOT NULL,
		lease_until_ms BIGINT NOT NULL,
		done           BIGINT NOT NULL DEFAULT 0,
		claimed_ms     BIGINT NOT NULL,
		PRIMARY KEY (name, period_ms)
	)`,
}

type claims struct{ db *store.DB }

// claim inserts the (name, period) row; only one scheduler's insert goes
// in, and it alone may enqueue.
func (c claims) claim(ctx context.Context, name string, period time.Time, owner string, lease time.Duration) (bool, error) {
	now := time.Now()
	res, err := c.db.ExecContext(ctx, c.db.Q(`INSERT INTO glimpse_tasks_periodic_claims
		(name, period_ms, owner, lease_until_ms, claimed_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		name, period.UnixMilli(), owner, now.Add(lease).UnixMilli(), now.UnixMilli())
	return affected(c.db, "claim", res, err)
}

// takeOver claims a period whose claim is not done and whose lease ran
// out: its holder died or its Enqueue failed.
func (c claims) takeOver(ctx context.Context, name string, period time.Time, owner string, lease time.Duration) (bool, error) {
	now := time.Now()
	res, err := c.db.ExecContext(ctx, c.db.Q(`UPDATE glimpse_tasks_periodic_claims SET owner = ?, lease_until_ms = ?
		WHERE name = ? AND period_ms = ? AND done = 0 AND lease_until_ms < ?`),
		owner, now.Add(lease).UnixMilli(), name, period.UnixMilli(), now.UnixMilli())
	return affected(c.db, "take over claim", res, err)
}

// finish marks the claim done, or, after a failed Enqueue, ends its
// lease so that the next look at stale claims retries it.
func (c claims) finish(ctx context.Context, name string, period time.Time, owner string, ok bool) error {
	q := `UPDATE glimpse_tasks_periodic_claims SET done = 1 WHERE name = ? AND period_ms = ? AND owner = ?`
	if !ok {
		q = `UPDATE glimpse_tasks_periodic_claims SET lease_until_ms = 0 WHERE name = ? AND period_ms = ? AND owner = ? AND done = 0`
	}
	if _, err := c.db.ExecContext(ctx, c.db.Q(q), name, period.UnixMilli(), owner); err != nil {
		return c.db.Wrap("finish claim", err)
	}
	return nil
}

// lastPeriods returns each entry's latest claimed period.
func (c claims) lastPeriods(ctx context.Context) (map[string]time.Time, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, MAX(period_ms) FROM glimpse_tasks_periodic_claims GROUP BY name`)
	if err != nil {
		return nil, c.db.Wrap("read claims", err)
	}
	defer rows.Close()
	out := make(map[string]time.Time)
	for rows.Next() {
		var name string
		var ms int64
		if err := rows.Scan(&name, &ms); err != nil {
			return nil, c.db.Wrap("read claims", err)
		}
		out[name] = time.UnixMilli(ms).UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, c.db.Wrap("read claims", err)
	}
	return out, nil
}

// stale returns the claims not done whose lease ran out.
func (c claims) stale(ctx context.Context) (map[string][]time.Time, error) {
	rows, err := c.db.QueryContext(ctx, c.db.Q(`SELECT name, period_ms FROM glimpse_tasks_periodic_claims
		WHERE done = 0 AND lease_until_ms < ?`), time.Now().UnixMilli())
	if err != nil {
		return nil, c.db.Wrap("read stale claims", err)
	}
	defer rows.Close()
	out := make(map[string][]time.Time)
	for rows.Next() {
		var name string
		var ms int64
		if err := rows.Scan(&name, &ms); err != nil {
			return nil, c.db.Wrap("read stale claims", err)
		}
		out[name] = append(out[name], time.UnixMilli(ms).UTC())
	}
	if err := rows.Err(); err != nil {
		return nil, c.db.Wrap("read stale claims", err)
	}
	return out, nil
}

// prune deletes claims claimed before keep ago, except each entry's
// latest, which tells a starting scheduler that the entry ran before.
func (c claims) prune(ctx context.Context, keep time.Duration) error {
	_, err := c.db.ExecContext(ctx, c.db.Q(`DELETE FROM glimpse_tasks_periodic_claims WHERE claimed_ms < ?
		AND period_ms < (SELECT MAX(l.period_ms) FROM glimpse_tasks_periodic_claims l
			WHERE l.name = glimpse_tasks_periodic_claims.name)`), time.Now().Add(-keep).UnixMilli())
	if err != nil {
		return c.db.Wrap("prune claims", err)
	}
	return nil
}

func affected(db *store.DB, op string, res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, db.Wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, db.Wrap(op, err)
	}
	return n == 1, nil
}
