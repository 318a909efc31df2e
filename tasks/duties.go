package tasks

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/store"
)

// Duty is one background duty of the scheduler: a function run every
// interval between Start and Stop. Any number of processes may run the
// same duties at once: each works through conditional UPDATEs.
type Duty struct {
	Name     string
	interval time.Duration
	tick     func(ctx context.Context) error
	log      *slog.Logger
	stop     chan struct{}
	wg       sync.WaitGroup
	// mu orders Start and Stop, which a worker's Run and a SIGTERM's
	// Shutdown may call at once: a Start after Stop starts nothing.
	mu      sync.Mutex
	stopped bool
}

func newDuty(name string, every time.Duration, log *slog.Logger, tick func(context.Context) error) *Duty {
	return &Duty{Name: name, interval: every, tick: tick, log: log, stop: make(chan struct{})}
}

// Start runs the duty every interval until Stop.
func (d *Duty) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(d.interval)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			if err := d.tick(ctx); err != nil {
				d.log.Warn("tasks duty failed; it tries again", "duty", d.Name, "err", err)
			}
			cancel()
		}
	}()
}

// Stop ends the duty, waiting for a run in progress; a later Start does
// nothing.
func (d *Duty) Stop() {
	d.mu.Lock()
	if !d.stopped {
		d.stopped = true
		close(d.stop)
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// Scheduler is the background duties of tasks: the dispatcher, the
// sweeper and the retention sweeper.
type Scheduler struct {
	Dispatcher, Sweeper, Retention *Duty
	db                             *store.DB
	client                         config.Client
	mu                             sync.Mutex
	gc                             *gearman.Client // dialled when first needed: the job servers may start later
	servers                        []string
	tls                            *tls.Config
	conf                           config.Tasks
	log                            *slog.Logger
}

// NewScheduler returns the duties over db, sending jobs to the job servers
// of client (whose admin ports the sweeper asks what they hold). It
// connects to them when it first sends, so it may start before them.
func NewScheduler(ctx context.Context, db *store.DB, client config.Client, conf config.Tasks, log *slog.Logger) (*Scheduler, error) {
	conf = withDefaults(conf)
	if err := Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	tlsConf, err := client.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{db: db, client: client, servers: client.JobServers, tls: tlsConf, conf: conf, log: log}
	s.Dispatcher = newDuty("dispatcher", conf.PollInterval, log, s.dispatchDue)
	s.Sweeper = newDuty("sweeper", max(min(conf.Lease, conf.RedispatchAfter)/2, 10*time.Millisecond), log, s.sweep)
	s.Retention = newDuty("retention", max(min(conf.Retention/10, time.Minute), 10*time.Millisecond), log, s.removeOld)
	return s, nil
}

// Start starts every duty.
func (s *Scheduler) Start() {
	s.Dispatcher.Start()
	s.Sweeper.Start()
	s.Retention.Start()
}

// Stop stops every duty and closes its job server connections.
func (s *Scheduler) Stop() {
	s.Dispatcher.Stop()
	s.Sweeper.Stop()
	s.Retention.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gc != nil {
		s.gc.Close()
		s.gc = nil
	}
}

// gearman returns the scheduler's Gearman client, dialling it first.
func (s *Scheduler) gearman(ctx context.Context) (*gearman.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gc != nil {
		return s.gc, nil
	}
	gc, err := gearman.NewClient(ctx, s.servers, gearman.WithTLS(s.tls))
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	s.gc = gc
	return gc, nil
}

// dispatchBatch bounds the due tasks one UPDATE takes.
const dispatchBatch = 1000

// dispatchUpdate moves up to dispatchBatch due scheduled and retrying
// tasks to queued. Its outer state test is on an expression of state (an
// empty string appended), as the claim's: on a plain state IN, SQLite's
// planner walked the state index over every scheduled task (all those
// due later too), reading each row, instead of looking up the due ids by
// primary key: with 60,000 tasks scheduled for later, each poll of each
// worker held the store's write lock for tens of milliseconds, and
// enqueues, claims and records waited.
var dispatchUpdate = `UPDATE ` + tasksTable + ` SET state = ?, dispatched_ms = ?
	WHERE id IN (SELECT id FROM ` + tasksTable + ` WHERE state IN (?, ?) AND eta_ms <= ? ORDER BY eta_ms LIMIT ` + fmt.Sprint(dispatchBatch) + `)
	AND (state || '') IN (?, ?) RETURNING id, func`

// dispatchDue moves due scheduled and retrying tasks to queued and sends
// them. A task another dispatcher took first is not in the RETURNING.
func (s *Scheduler) dispatchDue(ctx context.Context) error {
	for {
		now := time.Now().UnixMilli()
		byFunc, n, err := s.takeIDs(ctx, dispatchUpdate, string(Queued), now, string(Scheduled), string(Retrying), now, string(Scheduled), string(Retrying))
		if err != nil {
			return err
		}
		if err := s.sendGroups(ctx, byFunc); err != nil {
			return err
		}
		if n < dispatchBatch {
			return nil
		}
	}
}

// takeIDs runs an UPDATE ... RETURNING id, func and groups the ids by
// function.
func (s *Scheduler) takeIDs(ctx context.Context, q string, args ...any) (map[string][]ID, int, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Q(q), args...)
	if err != nil {
		return nil, 0, s.db.Wrap("take due tasks", err)
	}
	defer rows.Close()
	out := map[string][]ID{}
	n := 0
	for rows.Next() {
		var id, fn string
		if err := rows.Scan(&id, &fn); err != nil {
			return nil, 0, s.db.Wrap("take due tasks", err)
		}
		out[fn] = append(out[fn], ID(id))
		n++
	}
	return out, n, rows.Err()
}

func (s *Scheduler) sendGroups(ctx context.Context, byFunc map[string][]ID) error {
	if len(byFunc) == 0 {
		return nil
	}
	gc, err := s.gearman(ctx)
	if err != nil {
		return fmt.Errorf("%w (the sweeper sends the tasks again)", err)
	}
	for fn, ids := range byFunc {
		if err := sendAll(ctx, gc, fn, ids, s.conf.BatchSize); err != nil {
			return fmt.Errorf("%w (the sweeper sends them again)", err)
		}
	}
	return nil
}

// sweep retries tasks whose worker stopped renewing their lease, and
// sends again queued tasks whose job is gone from gearmand.
func (s *Scheduler) sweep(ctx context.Context) error {
	if err := s.expireLeases(ctx); err != nil {
		return err
	}
	return s.redispatchLost(ctx)
}

// leaseExpired is the error of an attempt whose worker stopped renewing
// its lease.
const leaseExpired = "the worker stopped renewing its lease (it died, hung, or lost the store)"

func (s *Scheduler) expireLeases(ctx context.Context) error {
	now := time.Now().UnixMilli()
	q := `UPDATE ` + tasksTable + ` SET
		state = CASE WHEN attempt >= max_attempts THEN ? ELSE ? END,
		finished_ms = CASE WHEN attempt >= max_attempts THEN CAST(? AS BIGINT) ELSE 0 END,
		eta_ms = ?, lease_ms = 0, error = ?
		WHERE state = ? AND lease_ms < ? RETURNING id, attempt, worker, started_ms`
	rows, err := s.db.QueryContext(ctx, s.db.Q(q), string(Failed), string(Retrying), now, now, leaseExpired, string(Running), now)
	if err != nil {
		return s.db.Wrap("expire leases", err)
	}
	var lost []Attempt
	var lostIDs []ID
	for rows.Next() {
		var a Attempt
		var id string
		var started int64
		if err := rows.Scan(&id, &a.N, &a.Worker, &started); err != nil {
			rows.Close()
			return s.db.Wrap("expire leases", err)
		}
		a.Started = fromMS(started)
		lost, lostIDs = append(lost, a), append(lostIDs, ID(id))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.db.Wrap("expire leases", err)
	}
	for i, a := range lost {
		s.log.Warn("task lease expired; retrying", "task", lostIDs[i], "attempt", a.N, "worker", a.Worker)
		if _, err := s.db.ExecContext(ctx, s.db.Q(`INSERT INTO `+attemptsTable+` (task_id, attempt, worker, started_ms, ended_ms, error)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), string(lostIDs[i]), a.N, a.Worker, ms(a.Started), now, leaseExpired); err != nil {
			return s.db.Wrap("expire leases", err)
		}
	}
	return nil
}

// redispatchLost sends again the queued tasks sent more than
// redispatch_after ago, for each function of which gearmand holds no
// waiting job: their job was lost (or never sent).
func (s *Scheduler) redispatchLost(ctx context.Context) error {
	old := time.Now().Add(-s.conf.RedispatchAfter).UnixMilli()
	rows, err := s.db.QueryContext(ctx, s.db.Q(`SELECT DISTINCT func FROM `+tasksTable+` WHERE state = ? AND dispatched_ms < ?`), string(Queued), old)
	if err != nil {
		return s.db.Wrap("find lost tasks", err)
	}
	var funcs []string
	for rows.Next() {
		var fn string
		if err := rows.Scan(&fn); err != nil {
			rows.Close()
			return s.db.Wrap("find lost tasks", err)
		}
		funcs = append(funcs, fn)
	}
	rows.Close()
	if len(funcs) == 0 {
		return rows.Err()
	}
	waiting, err := s.waitingJobs(ctx)
	if err != nil {
		return err
	}
	for _, fn := range funcs {
		if waiting[GearmanName(fn)] > 0 {
			continue // its jobs are still in gearmand: the tasks are in them
		}
		now := time.Now().UnixMilli()
		byFunc, _, err := s.takeIDs(ctx, `UPDATE `+tasksTable+` SET dispatched_ms = ? WHERE func = ? AND state = ? AND dispatched_ms < ? RETURNING id, func`,
			now, fn, string(Queued), old)
		if err != nil {
			return err
		}
		if len(byFunc[fn]) > 0 {
			s.log.Info("sending lost tasks again", "function", fn, "tasks", len(byFunc[fn]))
		}
		if err := s.sendGroups(ctx, byFunc); err != nil {
			return err
		}
	}
	return nil
}

// waitingJobs asks every job server how many jobs of each function wait
// for a worker (queued, not running).
func (s *Scheduler) waitingJobs(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, addr := range s.servers {
		a, err := gearman.DialAdmin(ctx, addr, gearman.WithTLS(s.tls))
		if err != nil {
			return nil, fmt.Errorf("tasks: ask %s for its jobs: %w", addr, err)
		}
		st, err := a.Status(ctx)
		a.Close()
		if err != nil {
			return nil, fmt.Errorf("tasks: ask %s for its jobs: %w", addr, err)
		}
		for _, f := range st {
			out[f.Name] += f.Queued - f.Running
		}
	}
	return out, nil
}

// oldTasks is the tasks that finished before a time: the condition
// finished_ms > 0 is finishedIndex's own, so that the index serves it;
// concatenating an empty string to state keeps SQLite's planner off the
// state index, through which it visited every finished task, old or not.
const oldTasks = ` FROM ` + tasksTable + ` WHERE finished_ms > 0 AND finished_ms < ? AND (state || '') IN (?, ?, ?)`

// removeOld removes finished tasks (and their attempts and keys) older
// than the retention.
func (s *Scheduler) removeOld(ctx context.Context) error {
	cut := time.Now().Add(-s.conf.Retention).UnixMilli()
	old := oldTasks
	args := []any{cut, string(Succeeded), string(Failed), string(Cancelled)}
	if _, err := s.db.ExecContext(ctx, s.db.Q(`DELETE FROM `+attemptsTable+` WHERE task_id IN (SELECT id`+old+`)`), args...); err != nil {
		return s.db.Wrap("remove old tasks", err)
	}
	if _, err := s.db.ExecContext(ctx, s.db.Q(`DELETE`+old), args...); err != nil {
		return s.db.Wrap("remove old tasks", err)
	}
	return nil
}
