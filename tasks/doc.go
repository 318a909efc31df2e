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
//     writes once per job. A task whose job could not be sent is still
//     enqueued: the sweeper sends it later.
//   - The Runner (in every worker process) serves the "glimpse-task.*"
//     functions. It claims a job's tasks with one conditional UPDATE
//     (queued becomes running, with this worker, the attempt counted and
//     a lease; a task in any other state is skipped), asks the queue's
//     Limiter, runs each task's function in turn in the job's slot, and
//     records every outcome in one transaction (succeeded with its
//     result, retrying with the next ETA, or failed) before it tells
//     gearmand the job is done. It renews the leases of its running tasks
//     every lease/3. A worker that is closed gives its unfinished tasks
//     back (queued, the attempt not counted).
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
// cluster-wide rate and concurrency limits plug in there. Periodic tasks
// call Enqueue with an idempotency key made of the schedule and the
// period, so each period runs once however many schedulers fire.
package tasks
