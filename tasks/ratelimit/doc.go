// Package ratelimit limits the dispatches of task queues cluster-wide:
// dispatches per second, burst, and tasks running at once, holding across
// every process on every host that shares the cluster's store
// (internal/store: an SQLite file on one host, PostgreSQL when shared).
//
// # Limits
//
// Limits{Rate, Burst, MaxRunning} per queue name, from [queue NAME]
// config sections (FromConfig) or in code (New, SetLimits); zero means
// unlimited. Rate is the sustained number of dispatches per second. Burst
// is the most dispatches in any one-second window (default ceil(Rate)), so
// it is at least Rate; it is not a token bucket's size as in
// golang.org/x/time/rate, whose size b lets b + r dispatches through in a
// second after an idle spell.
//
// # How it holds cluster-wide
//
// The rate is a token bucket in the row of glimpse_tasks_rate_buckets for
// the queue, with room for c = max(1, Burst-1.05*Rate) tokens, refilled
// at Rate per second. One conditional UPDATE ... RETURNING refills it
// from the database's clock (not the hosts'), takes up to n whole tokens
// if there are any and says how many it took: one round trip, atomic on
// both databases (SQLite serialises writers; PostgreSQL locks the row).
// In any window of w seconds a bucket of room c refilled at Rate hands
// out fewer than c + Rate*w tokens: fewer than Burst in 1.05s. The 50ms
// are a margin for the time between a grant and its task's start, which
// varies with round trips and scheduling, so that the starts too keep
// within Burst in any second. The margin needs Burst >= 1.05*Rate + 1;
// with a smaller Burst (the default, ceil(Rate), say) c is 1: the grants
// still keep within Burst in any second, the starts only nearly. After an
// idle spell c tasks may start at once, the rest of that second following
// at the rate.
//
// MaxRunning is MaxRunning slot rows in glimpse_tasks_rate_slots; taking
// one is an UPDATE of a free row (on PostgreSQL with FOR UPDATE SKIP
// LOCKED) that writes the holder and an expiry, its lease. Each Limiter
// renews its leases every Lease/3 with one UPDATE, so a task may run
// longer than the lease; a process that dies without releasing (SIGKILL,
// a lost host) stops renewing, and its slots come back when their leases
// run out (Lease, 30s by default). A process that cannot reach the store
// for longer than Lease loses its slots while its tasks may still run.
// When a queue has both limits, the slot and the token are taken in one
// transaction: a slot without a token (or the reverse) is never kept.
//
// # Round trips
//
// Acquire lets one goroutine per queue and process talk to the store at a
// time (the others wait in the process, not in the database) and sleeps
// exactly until the next token is due; slots are asked for again every
// SlotPoll (100ms) or at once when a slot of this process is released.
// TryAcquireN takes up to n grants in one round trip, for a dispatcher
// that has n tasks ready: use them at once, as a token counts as a
// dispatch when it is taken.
package ratelimit
