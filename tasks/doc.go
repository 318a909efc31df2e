// Package tasks runs registered pool functions as durable background
// tasks: Enqueue returns a task id at once, a worker runs the task later
// (at once, after a countdown, or at an ETA), failed attempts are retried
// with doubling backoff, and the task's state, attempts and result can be
// looked up by id from any process that has the cluster's config, until
// the retention period removes it.
//
// # Where state lives
//
// The store (internal/store: an SQLite file by default, PostgreSQL when
// processes on several hosts share it, the same database as the fanout's
// subscriber list) is the source of truth. Its tables are
// glimpse_tasks_tasks (one row per task: function, queue, idempotency key,
// state, the encoded item, the result, attempts, times, worker, lease) and
// glimpse_tasks_attempts (one row per finished attempt, with its error).
//
// gearmand only carries work that is due now: a task that is due is sent
// as a background Gearman job to the function "glimpse-task.<name>" whose
// data is the ids of up to batch_size tasks of that function, with a
// unique id made from the first one. gearmand's persistent queue (the
// local cluster runs gearmand with -q libsqlite3) keeps those jobs across
// its restarts. Jobs carry ids, never items: a worker reads the items
// from the store when it claims the tasks.
//
// # Who does what
//
//   - Enqueue (any process) checks the item, inserts the rows (concurrent
//     calls share one transaction: group commit) and sends the due ones
//     to gearmand, merging the tasks of a function that wait to be sent
//     into jobs of up to batch_size, so gearmand's persistent queue
//     writes once per job (one goroutine sends; under a stream of
//     enqueues it waits up to 1 ms for more tasks before the next send,
//     so that the jobs fill up). A task whose job could not be sent is
//     still enqueued: the sweeper sends it later.
//   - The Runner (in every worker process) serves the "glimpse-task.*"
//     functions. It claims a job's tasks with one conditional UPDATE
//     (queued becomes running, with this worker, the attempt counted and
//     a lease; a task in any other state is skipped), runs each task's
//     function in turn in the job's slot (or up to n at once for a
//     function RunConcurrently names: webhook calls), and records every
//     outcome in one transaction (succeeded with its result, retrying
//     with the next ETA, or failed) before it tells gearmand the job is
//     done. The claims and records of a worker's concurrent jobs share
//     their transactions (group commit: on SQLite every transaction
//     takes a turn of the file's write lock, which the workers and the
//     enqueuers of every process share). With a
//     Limiter, the tasks of a queue it limits are not claimed first: for
//     each, in turn (or up to RunConcurrently's n at once), the Runner
//     waits for the Limiter's grant, then claims the task alone, runs it
//     and records its outcome at once. So
//     a task waiting for its queue's rate or a free slot is still queued
//     (Lookup and the dashboard show it so), and the sweeper may hand it
//     to another worker meanwhile (whose claim then wins; this one skips
//     it and gives its grant back). While it waits it holds the worker
//     slot its job came in: a worker whose slots all wait for a slow
//     queue's grants runs no other task of that function meanwhile, so
//     give a slow queue's function enough slots, few tasks per job
//     (batch_size), or RunConcurrently (webhook calls have it). It renews the leases of its running
//     tasks every lease/3. A worker that is closed gives its unfinished
//     tasks back (queued, the attempt not counted). An error with a
//     Permanent() bool method that returns true (errors.As: webhook's
//     410 Gone, or any registered function's declared error) fails the
//     task at once, whatever attempts are left; its error is recorded
//     as any attempt's. The function's context carries the task's id,
//     queue and attempt (FromContext).
//   - The duties (small components with Start and Stop, run by every
//     worker process; any number may run at once) are: the dispatcher,
//     which every poll_interval moves due scheduled and retrying tasks to
//     queued and sends them (normal background jobs, never gearmand's
//     SUBMIT_JOB_EPOCH: an epoch job is not handed to a worker that sleeps
//     in PRE_SLEEP, so it could wait forever on an idle cluster); the
//     sweeper, which retries running tasks whose lease ran out (their
//     worker died) and sends again queued tasks whose job is gone from
//     gearmand (sent more than redispatch_after ago while gearmand holds
//     no waiting job of their function: a gearmand SIGKILLed before it
//     stored them, a client that died between its commit and its send);
//     and the retention sweeper, which removes finished tasks older than
//     retention. Every state change is a conditional UPDATE, so two
//     dispatchers never both take a row and a task is claimed by one
//     worker at a time.
//
// # Guarantees
//
// An enqueued task is committed before Enqueue returns; it survives any
// process of the cluster dying, gearmand included. Idempotency keys are a
// unique column: enqueueing with a key that a task still in the store has
// (any client, concurrently too) returns that task's id and writes
// nothing. A task runs to success at most once: its claim is a
// conditional UPDATE, and a duplicate job finds it running or finished.
// A task runs in a context of its own, not ended when its job's
// connection to gearmand is (gearmand killed or restarted): its state is
// in the store, and an interrupted task would run again elsewhere. Only a
// closing worker (Runner.Interrupt) ends it.
// The exception is a worker that dies (or loses the store for longer than
// its lease) while running a task: its lease runs out and the task runs
// again, so a task's function runs at least once, and may run twice for a
// worker that died after the function's side effects but before it
// recorded them. Write task functions to be idempotent.
//
// Task jobs carry only ids and are not sealed with the cluster key: what
// runs is what the store holds.
//
// # Hooks
//
// A Limiter (WithLimiter) is asked before each task of a queue runs; the
// cluster-wide rate and concurrency limits (package tasks/ratelimit) plug
// in there: cluster.WithTaskQueues makes one per worker process from the
// [queue NAME] sections. A worker that serves tasks also runs a
// periodic.Scheduler over the [periodic NAME] sections and the entries
// Periodic added in code (cluster.WithPeriodic); PeriodicEnqueue
// enqueues each period with EnqueueJSON and the period's idempotency key
// (periodic.Key), so each period runs once however many schedulers fire.
//
// EnqueueJSON enqueues a function known by name only, its item as JSON
// converted to the function's In type (the periodic scheduler and the
// HTTP gateway use it). Stats counts a process's tasks per queue, for
// metrics.
package tasks
