package tasks

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"
)

// Bounds of one group transaction.
const (
	maxGroupOps = 64
	maxGroupIDs = 4096 // placeholders of the claims (SQLite allows 32766)
)

// storeOp is a claim or a record of outcomes that one of a Runner's jobs
// waits for.
type storeOp struct {
	fn   string // claim: the function whose tasks ids are
	ids  []ID
	outs []outcome // record: the outcomes
	// claimed is the claim's answer: the tasks this worker took.
	claimed []claimed
	err     error
	wake    chan bool // true: lead the next group; false: done
}

// group does the store work of a Runner's concurrent jobs in shared
// transactions (group commit, as the Client's inserter does for
// enqueues): a job that finds no transaction under way leads: it takes
// every op waiting, its own first, and does them in one transaction;
// the others wait, and the first that came meanwhile leads the next one.
// Per task, a worker made a claim and a record of its own before; on
// SQLite, whose writers take turns on one file lock across processes
// (waiting 1, 2, 5, 10 ms... when it is taken), every transaction fewer
// is a turn fewer. It has no goroutine of its own.
type group struct {
	r       *Runner
	mu      sync.Mutex
	waiting []*storeOp
	leading bool
}

// do waits until op is done, in a transaction this job leads or another
// one's, and returns its error.
func (g *group) do(op *storeOp) error {
	op.wake = make(chan bool, 1)
	g.mu.Lock()
	g.waiting = append(g.waiting, op)
	lead := !g.leading // when none leads, none waits: op is first
	g.leading = true
	g.mu.Unlock()
	if lead || <-op.wake {
		g.lead()
	}
	return op.err
}

// lead does the waiting ops (the leader's first) in one transaction, then
// wakes them and hands the lead to the first op that came meanwhile.
func (g *group) lead() {
	g.mu.Lock()
	n, ids := 0, 0
	for n < len(g.waiting) && n < maxGroupOps && (n == 0 || ids+len(g.waiting[n].ids) <= maxGroupIDs) {
		ids += len(g.waiting[n].ids)
		n++
	}
	batch := g.waiting[:n:n]
	g.waiting = append([]*storeOp(nil), g.waiting[n:]...)
	g.mu.Unlock()

	err := g.r.inTx(batch)
	for _, op := range batch {
		if op.err = err; err != nil {
			op.claimed = nil
		}
	}

	g.mu.Lock()
	var next *storeOp
	if len(g.waiting) > 0 {
		next = g.waiting[0]
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, op := range batch[1:] { // batch[0] is the leader's own
		op.wake <- false
	}
	if next != nil {
		next.wake <- true
	}
}

// inTx does batch's records and claims in one transaction.
func (r *Runner) inTx(batch []*storeOp) error {
	var outs []outcome
	for _, op := range batch {
		outs = append(outs, op.outs...)
	}
	// Prepared before the transaction: on SQLite it holds the only
	// connection.
	for _, o := range outs {
		if _, err := r.stmt(r.outcomeUpdate(o)); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return r.db.Wrap("record task outcomes", err)
	}
	defer tx.Rollback()
	if err := r.recordIn(ctx, tx, outs); err != nil {
		return err
	}
	if err := r.claimIn(ctx, tx, batch); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return r.db.Wrap("record task outcomes", err)
	}
	for _, o := range outs {
		o.count()
	}
	return nil
}

// recordIn writes outs in tx: each task succeeded (with its result),
// retrying (with its next ETA) or failed, and its attempt. Only a task
// this worker still holds in this attempt changes: one whose lease ran
// out and that runs elsewhere keeps its new state.
func (r *Runner) recordIn(ctx context.Context, tx *sql.Tx, outs []outcome) error {
	if len(outs) == 0 {
		return nil
	}
	attempts := make([]any, 0, 6*len(outs))
	for _, o := range outs {
		q, args := r.outcomeUpdate(o)
		st, err := r.stmt(q, nil)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return r.db.Wrap("record task outcomes", err)
		}
		attempts = append(attempts, string(o.t.id), o.t.attempt, r.worker, o.t.started, o.ended, o.err)
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?),", len(outs)), ",")
	if _, err := tx.ExecContext(ctx, r.db.Q(`INSERT INTO `+attemptsTable+` (task_id, attempt, worker, started_ms, ended_ms, error)
		VALUES `+values+` ON CONFLICT DO NOTHING`), attempts...); err != nil {
		return r.db.Wrap("record task outcomes", err)
	}
	return nil
}

// claimIn makes the claims of batch in tx, one UPDATE per function. A
// task two jobs both carry goes to the first.
func (r *Runner) claimIn(ctx context.Context, tx *sql.Tx, batch []*storeOp) error {
	byFunc := map[string][]*storeOp{}
	var order []string
	for _, op := range batch {
		if len(op.ids) == 0 {
			continue
		}
		if byFunc[op.fn] == nil {
			order = append(order, op.fn)
		}
		byFunc[op.fn] = append(byFunc[op.fn], op)
	}
	for _, fn := range order {
		if err := r.claimFunc(ctx, tx, fn, byFunc[fn]); err != nil {
			return err
		}
	}
	return nil
}

// claimFunc takes the queued tasks of fn that ops ask for, in one
// conditional UPDATE, and hands each op its own. (state || ”) keeps
// SQLite's planner on the primary key: on the state index it scanned
// every queued task, for each claim.
func (r *Runner) claimFunc(ctx context.Context, tx *sql.Tx, fn string, ops []*storeOp) error {
	now := time.Now().UnixMilli()
	owner := map[ID]*storeOp{}
	args := []any{string(Running), r.worker, now, now + r.lease.Milliseconds()}
	for _, op := range ops {
		for _, id := range op.ids {
			if owner[id] == nil {
				owner[id] = op
				args = append(args, string(id))
			}
		}
	}
	args = append(args, fn, string(Queued))
	q := `UPDATE ` + tasksTable + ` SET state = ?, attempt = attempt + 1, worker = ?, started_ms = ?, lease_ms = ?
		WHERE id IN (` + placeholders(len(owner)) + `) AND func = ? AND (state || '') = ?
		RETURNING id, queue, payload, attempt, max_attempts, min_backoff, max_backoff`
	rows, err := tx.QueryContext(ctx, r.db.Q(q), args...)
	if err != nil {
		return r.db.Wrap("claim tasks", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t claimed
		var id string
		var minB, maxB int64
		if err := rows.Scan(&id, &t.queue, &t.payload, &t.attempt, &t.retry.MaxAttempts, &minB, &maxB); err != nil {
			return r.db.Wrap("claim tasks", err)
		}
		t.id, t.started = ID(id), now
		t.retry.MinBackoff, t.retry.MaxBackoff = time.Duration(minB)*time.Millisecond, time.Duration(maxB)*time.Millisecond
		if op := owner[t.id]; op != nil {
			op.claimed = append(op.claimed, t)
		}
	}
	if err := rows.Err(); err != nil {
		return r.db.Wrap("claim tasks", err)
	}
	return nil
}
