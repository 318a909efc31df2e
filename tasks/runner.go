package tasks

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
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
	group   group                // claims and records, in shared transactions
	stop    chan struct{}
	wg      sync.WaitGroup
	// stopMu orders Start and Stop (a Shutdown may come while Run starts):
	// a Start after Stop starts nothing.
	stopMu  sync.Mutex
	stopped bool
	// interrupted is closed by Interrupt: the worker is closing, and
	// its running tasks end (and are given back).
	interrupted   chan struct{}
	interruptOnce sync.Once
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
	r := &Runner{db: db, worker: workerID, lease: conf.Lease, stop: make(chan struct{}), stmts: map[string]*sql.Stmt{},
		interrupted: make(chan struct{})}
	r.group.r = r
	for _, o := range opts {
		o(r)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// taskContext is what a job's tasks run in: not ended by the loss of the
// job's connection (gearmand killed or restarted), since the tasks' state
// is in the store, not in gearmand, and a task interrupted there would
// run again elsewhere; ended by Interrupt, when the worker closes.
func (r *Runner) taskContext(job context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(job))
	go func() {
		select {
		case <-r.interrupted:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Interrupt ends the running tasks (a closing worker): each is given back
// unless its function had already returned. Later jobs end at once.
func (r *Runner) Interrupt() { r.interruptOnce.Do(func() { close(r.interrupted) }) }

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
	// permanent: the error says retrying is of no use; the task fails.
	permanent bool
}

// JobFunc serves the task jobs of f: it claims the job's tasks, runs them
// one after another (or as RunConcurrently allows), and records their
// outcomes before gearmand hears that the job is done. Tasks it could
// not claim (running elsewhere, finished, cancelled) are skipped. With a
// Limiter, a task of a limited queue is claimed only once the Limiter let
// it start (see runLimited): while it waits it stays queued.
func (r *Runner) JobFunc(f wire.Function) gearman.JobFunc {
	return func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		ids, err := parseJob(job.Data)
		if err != nil {
			r.log.Warn("task job refused", "function", f.Name(), "err", err)
			return nil, err
		}
		r.running.Add(1)
		defer r.running.Add(-1)
		ctx, cancel := r.taskContext(ctx)
		defer cancel()
		if r.limiter == nil {
			return nil, r.runBatch(ctx, f, ids)
		}
		return nil, r.runLimited(ctx, f, ids)
	}
}

// runBatch claims ids in one UPDATE, runs them (in turn, or up to
// RunConcurrently's n at once) and records the outcomes in one
// transaction. Tasks that did not run (the worker is stopping) are given
// back.
func (r *Runner) runBatch(ctx context.Context, f wire.Function, ids []ID) error {
	tasks, err := r.claim(ctx, f.Name(), ids)
	if err != nil {
		// Nothing claimed: the tasks stay queued and the sweeper
		// sends them again.
		return err
	}
	outs := make([]outcome, len(tasks))
	ran := make([]bool, len(tasks))
	forEach(ctx, concurrencyOf(f.Name()), len(tasks), func(i int) bool {
		outs[i], ran[i] = r.runOne(ctx, f, &tasks[i])
		return ran[i]
	})
	var done []outcome
	var unrun []claimed
	for i := range tasks {
		if ran[i] {
			done = append(done, outs[i])
		} else {
			unrun = append(unrun, tasks[i])
		}
	}
	r.giveBack(unrun)
	return r.finish(done)
}

// runLimited serves a job with a Limiter: the tasks of queues the Limiter
// does not limit run as a batch; each of the others (in turn, or up to
// RunConcurrently's n at once) is claimed only after Acquire returned,
// and its outcome recorded at once, so a task that waits for its queue's
// rate or a free slot stays queued (and the sweeper may hand it to
// another worker). A task claimed elsewhere meanwhile is skipped and its
// grant given back.
func (r *Runner) runLimited(ctx context.Context, f wire.Function, ids []ID) error {
	queues, err := r.queuesOf(ctx, f.Name(), ids)
	if err != nil {
		return err
	}
	var free, limited []ID
	for _, id := range ids {
		switch q, ok := queues[id]; {
		case !ok: // not queued any more
		case r.limits(q):
			limited = append(limited, id)
		default:
			free = append(free, id)
		}
	}
	if len(free) > 0 {
		if err := r.runBatch(ctx, f, free); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	var first error
	all := forEach(ctx, concurrencyOf(f.Name()), len(limited), func(i int) bool {
		err := r.runGranted(ctx, f, limited[i], queues[limited[i]])
		if err != nil {
			mu.Lock()
			first = cmp.Or(first, err)
			mu.Unlock()
		}
		return err == nil
	})
	if all {
		return nil
	}
	return cmp.Or(first, ctx.Err()) // ctx ended before the rest started
}

// runGranted waits for queue's grant, then claims, runs and records the
// task id. An error means the worker stops (ctx ended) or the store
// failed: the task stays queued.
func (r *Runner) runGranted(ctx context.Context, f wire.Function, id ID, queue string) error {
	release, err := r.limiter.Acquire(ctx, queue)
	if err != nil {
		return err
	}
	defer release()
	tasks, err := r.claim(ctx, f.Name(), []ID{id})
	if err != nil || len(tasks) == 0 {
		return err
	}
	o, ok := r.run(ctx, f, &tasks[0])
	if !ok {
		r.giveBack(tasks)
		return ctx.Err()
	}
	return r.finish([]outcome{o})
}

// limits says whether the Limiter limits queue; a Limiter that cannot
// tell limits every queue.
func (r *Runner) limits(queue string) bool {
	if l, ok := r.limiter.(interface{ Limits(queue string) bool }); ok {
		return l.Limits(queue)
	}
	return true
}

// queuesOf returns the queue of each of ids that is a queued task of fn.
func (r *Runner) queuesOf(ctx context.Context, fn string, ids []ID) (map[ID]string, error) {
	args := make([]any, 0, len(ids)+2)
	for _, id := range ids {
		args = append(args, string(id))
	}
	args = append(args, fn, string(Queued))
	rows, err := r.db.QueryContext(ctx, r.db.Q(`SELECT id, queue FROM `+tasksTable+`
		WHERE id IN (`+placeholders(len(ids))+`) AND func = ? AND (state || '') = ?`), args...)
	if err != nil {
		return nil, r.db.Wrap("read task queues", err)
	}
	defer rows.Close()
	out := make(map[ID]string, len(ids))
	for rows.Next() {
		var id, q string
		if err := rows.Scan(&id, &q); err != nil {
			return nil, r.db.Wrap("read task queues", err)
		}
		out[ID(id)] = q
	}
	return out, rows.Err()
}

// runOne runs one claimed task after the Limiter let it (the batch path,
// where the claim came first); ok is false if the worker is stopping (its
// context ended), and the attempt does not count.
func (r *Runner) runOne(ctx context.Context, f wire.Function, t *claimed) (outcome, bool) {
	if r.limiter != nil {
		release, err := r.limiter.Acquire(ctx, t.queue)
		if err != nil {
			return outcome{}, false
		}
		defer release()
	}
	return r.run(ctx, f, t)
}

// run calls the function of a claimed task, with the task's RunInfo in
// its context.
func (r *Runner) run(ctx context.Context, f wire.Function, t *claimed) (outcome, bool) {
	runCtx := context.WithValue(ctx, runInfoKey{}, RunInfo{ID: t.id, Queue: t.queue, Attempt: t.attempt})
	res, err := f.RunChunk(runCtx, t.payload, r.worker)
	if err != nil && ctx.Err() != nil {
		// Interrupted by the worker's stop or the loss of its job
		// server: the attempt does not count. A run that ended anyway
		// is recorded: given back, it would run twice.
		return outcome{}, false
	}
	o := outcome{t: t, ended: time.Now().UnixMilli(), result: res}
	if err != nil {
		o.err, o.result, o.permanent = err.Error(), nil, isPermanent(err)
	}
	return o, true
}

// isPermanent reports whether err, or an error it wraps, has a
// Permanent() bool method that returns true (webhook's 410 Gone, say):
// retrying is of no use.
func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// claim takes the tasks ids of fn that are queued for this worker, in
// one conditional UPDATE shared with the other jobs' claims and records
// (group). A worker that is closing (ctx ended) claims nothing.
func (r *Runner) claim(ctx context.Context, fn string, ids []ID) ([]claimed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	op := &storeOp{fn: fn, ids: ids}
	if err := r.group.do(op); err != nil {
		return nil, err
	}
	return op.claimed, nil
}

// finish records outcomes (see recordIn), in a transaction shared with
// the other jobs' claims and records (group).
func (r *Runner) finish(outs []outcome) error {
	if len(outs) == 0 {
		return nil
	}
	return r.group.do(&storeOp{outs: outs})
}

// stmt returns q prepared, once per Runner. It does not hold r.mu while
// it prepares: on SQLite the store has one connection, and finish, which
// holds it in its transaction, asks stmt for its statements. Holding r.mu
// across a prepare that waited for that connection deadlocked the two
// until the transaction's deadline: leases went unrenewed and the
// outcomes were lost (the tasks ran again after their lease).
func (r *Runner) stmt(q string, _ []any) (*sql.Stmt, error) {
	r.mu.Lock()
	st := r.stmts[q]
	r.mu.Unlock()
	if st != nil {
		return st, nil
	}
	// Not ctx: the statement outlives this call.
	st, err := r.db.PrepareContext(context.Background(), r.db.Q(q))
	if err != nil {
		return nil, r.db.Wrap("record task outcomes", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prepared := r.stmts[q]; prepared != nil {
		st.Close() // another goroutine prepared it meanwhile
		return prepared, nil
	}
	r.stmts[q] = st
	return st, nil
}

// outcomeUpdate is the UPDATE that records o.
func (r *Runner) outcomeUpdate(o outcome) (string, []any) {
	where := ` WHERE id = ? AND state = ? AND worker = ? AND attempt = ?`
	key := []any{string(o.t.id), string(Running), r.worker, o.t.attempt}
	switch o.state() {
	case Succeeded:
		return `UPDATE ` + tasksTable + ` SET state = ?, result = ?, finished_ms = ?, lease_ms = 0, error = ''` + where,
			append([]any{string(Succeeded), o.result, o.ended}, key...)
	case Failed:
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
