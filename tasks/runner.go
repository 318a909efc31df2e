package tasks

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Runner is the worker side of tasks: it serves the task jobs of a
// worker's functions (register JobFunc(f) as GearmanName(f.Name()) on the
// worker's gearman.Worker) and renews the leases of the tasks it runs
// between Start and Stop.
type Runner struct {
	db      *store.DB
	worker  string
	lease   time.Duration
	limiter Limiter
	log     *slog.Logger
	running atomic.Int64
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt // prepared outcome UPDATEs
	stop    chan struct{}
	wg      sync.WaitGroup
	// stopMu orders Start and Stop (a Shutdown may come while Run starts):
	// a Start after Stop starts nothing.
	stopMu  sync.Mutex
	stopped bool
}

// RunnerOption configures a Runner.
type RunnerOption func(*Runner)

// WithLimiter makes the Runner ask l before each task of a queue runs.
func WithLimiter(l Limiter) RunnerOption { return func(r *Runner) { r.limiter = l } }

// WithRunnerLogger sets the Runner's log (default: none).
func WithRunnerLogger(l *slog.Logger) RunnerOption { return func(r *Runner) { r.log = l } }

// NewRunner returns a Runner for the worker named workerID over db (whose
// tables it creates if missing).
func NewRunner(ctx context.Context, db *store.DB, workerID string, conf config.Tasks, opts ...RunnerOption) (*Runner, error) {
	conf = withDefaults(conf)
	if err := Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	r := &Runner{db: db, worker: workerID, lease: conf.Lease, stop: make(chan struct{}), stmts: map[string]*sql.Stmt{}}
	for _, o := range opts {
		o(r)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// claimed is a task a worker took.
type claimed struct {
	id      ID
	queue   string
	payload []byte
	attempt int
	retry   RetryConfig
	started int64
}

// outcome is how an attempt ended.
type outcome struct {
	t      *claimed
	ended  int64
	result []byte
	err    string // "" on success
}

// JobFunc serves the task jobs of f: it claims the job's tasks, runs them
// one after another (each after the queue's Limiter lets it), and records
// their outcomes before gearmand hears that the job is done. Tasks it
// could not claim (running elsewhere, finished, cancelled) are skipped.
func (r *Runner) JobFunc(f wire.Function) gearman.JobFunc {
	return func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		ids, err := parseJob(job.Data)
		if err != nil {
			r.log.Warn("task job refused", "function", f.Name(), "err", err)
			return nil, err
		}
		r.running.Add(1)
		defer r.running.Add(-1)
		tasks, err := r.claim(ctx, f.Name(), ids)
		if err != nil {
			// Nothing claimed: the tasks stay queued and the sweeper
			// sends them again.
			return nil, err
		}
		outs := make([]outcome, 0, len(tasks))
		for i := range tasks {
			o, ok := r.runOne(ctx, f, &tasks[i])
			if !ok {
				r.giveBack(tasks[i:])
				break
			}
			outs = append(outs, o)
		}
		return nil, r.finish(outs)
	}
}

// runOne runs one claimed task; ok is false if the worker is stopping
// (its context ended), and the attempt does not count.
func (r *Runner) runOne(ctx context.Context, f wire.Function, t *claimed) (outcome, bool) {
	if r.limiter != nil {
		release, err := r.limiter.Acquire(ctx, t.queue)
		if err != nil {
			return outcome{}, false
		}
		defer release()
	}
	res, err := f.RunChunk(ctx, t.payload, r.worker)
	if ctx.Err() != nil {
		return outcome{}, false
	}
	o := outcome{t: t, ended: time.Now().UnixMilli(), result: res}
	if err != nil {
		o.err, o.result = err.Error(), nil
	}
	return o, true
}

// claim takes the tasks ids of fn that are queued for this worker, in one
// conditional UPDATE. (state || ”) keeps SQLite's planner on the primary
// key: on the state index it scanned every queued task, for each claim.
func (r *Runner) claim(ctx context.Context, fn string, ids []ID) ([]claimed, error) {
	now := time.Now().UnixMilli()
	args := []any{string(Running), r.worker, now, now + r.lease.Milliseconds()}
	for _, id := range ids {
		args = append(args, string(id))
	}
	args = append(args, fn, string(Queued))
	q := `UPDATE ` + tasksTable + ` SET state = ?, attempt = attempt + 1, worker = ?, started_ms = ?, lease_ms = ?
		WHERE id IN (` + placeholders(len(ids)) + `) AND func = ? AND (state || '') = ?
		RETURNING id, queue, payload, attempt, max_attempts, min_backoff, max_backoff`
	rows, err := r.db.QueryContext(ctx, r.db.Q(q), args...)
	if err != nil {
		return nil, r.db.Wrap("claim tasks", err)
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var t claimed
		var id string
		var minB, maxB int64
		if err := rows.Scan(&id, &t.queue, &t.payload, &t.attempt, &t.retry.MaxAttempts, &minB, &maxB); err != nil {
			return nil, r.db.Wrap("claim tasks", err)
		}
		t.id, t.started = ID(id), now
		t.retry.MinBackoff, t.retry.MaxBackoff = time.Duration(minB)*time.Millisecond, time.Duration(maxB)*time.Millisecond
		out = append(out, t)
	}
	return out, rows.Err()
}

// finish records outcomes in one transaction: each task succeeded (with
// its result), retrying (with its next ETA) or failed, and its attempt.
// Only a task this worker still holds in this attempt changes: one whose
// lease ran out and that runs elsewhere keeps its new state.
func (r *Runner) finish(outs []outcome) error {
	if len(outs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	// Prepared before the transaction: on SQLite it holds the only
	// connection.
	for _, o := range outs {
		if _, err := r.stmt(r.outcomeUpdate(o)); err != nil {
			return err
		}
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return r.db.Wrap("record task outcomes", err)
	}
	defer tx.Rollback()
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
	if err := tx.Commit(); err != nil {
		return r.db.Wrap("record task outcomes", err)
	}
	return nil
}

// stmt returns q prepared, once per Runner.
func (r *Runner) stmt(q string, _ []any) (*sql.Stmt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.stmts[q]; st != nil {
		return st, nil
	}
	// Not ctx: the statement outlives this call.
	st, err := r.db.PrepareContext(context.Background(), r.db.Q(q))
	if err != nil {
		return nil, r.db.Wrap("record task outcomes", err)
	}
	r.stmts[q] = st
	return st, nil
}

// outcomeUpdate is the UPDATE that records o.
func (r *Runner) outcomeUpdate(o outcome) (string, []any) {
	where := ` WHERE id = ? AND state = ? AND worker = ? AND attempt = ?`
	key := []any{string(o.t.id), string(Running), r.worker, o.t.attempt}
	if o.err == "" {
		return `UPDATE ` + tasksTable + ` SET state = ?, result = ?, finished_ms = ?, lease_ms = 0, error = ''` + where,
			append([]any{string(Succeeded), o.result, o.ended}, key...)
	}
	if o.t.attempt >= o.t.retry.MaxAttempts {
		return `UPDATE ` + tasksTable + ` SET state = ?, finished_ms = ?, lease_ms = 0, error = ?` + where,
			append([]any{string(Failed), o.ended, o.err}, key...)
	}
	eta := o.ended + o.t.retry.Backoff(o.t.attempt).Milliseconds()
	return `UPDATE ` + tasksTable + ` SET state = ?, eta_ms = ?, lease_ms = 0, error = ?` + where,
		append([]any{string(Retrying), eta, o.err}, key...)
}

// giveBack returns tasks this stopping worker claimed but did not finish
// to queued, uncounted, with an old dispatch time: the sweeper sends them
// again once gearmand holds none of their function's jobs.
func (r *Runner) giveBack(ts []claimed) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, t := range ts {
		if _, err := r.db.ExecContext(ctx, r.db.Q(`UPDATE `+tasksTable+` SET state = ?, attempt = attempt - 1, dispatched_ms = 0, lease_ms = 0
			WHERE id = ? AND state = ? AND worker = ? AND attempt = ?`),
			string(Queued), string(t.id), string(Running), r.worker, t.attempt); err != nil {
			r.log.Warn("task not given back; its lease runs out instead", "task", t.id, "err", err)
			return
		}
	}
}

// Start renews, every lease/3, the leases of the tasks this worker runs.
func (r *Runner) Start() {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	if r.stopped {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tick := time.NewTicker(r.lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
				if r.running.Load() > 0 {
					r.renew()
				}
			}
		}
	}()
}

func (r *Runner) renew() {
	ctx, cancel := context.WithTimeout(context.Background(), r.lease/3)
	defer cancel()
	now := time.Now().UnixMilli()
	if _, err := r.db.ExecContext(ctx, r.db.Q(`UPDATE `+tasksTable+` SET lease_ms = ? WHERE state = ? AND worker = ?`),
		now+r.lease.Milliseconds(), string(Running), r.worker); err != nil {
		r.log.Warn("task leases not renewed", "err", err)
	}
}

// Stop ends the lease renewal and closes the prepared statements; call it
// once no job runs.
func (r *Runner) Stop() {
	r.stopMu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.stop)
	}
	r.stopMu.Unlock()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for q, st := range r.stmts {
		st.Close()
		delete(r.stmts, q)
	}
}
