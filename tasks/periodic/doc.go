// Package periodic enqueues tasks on cron-like schedules, once per period
// for the whole cluster however many schedulers run.
//
// Entries come from [periodic NAME] config sections (FromConfig) or code.
// A Scheduler (Start, Stop) wakes at each period of each entry and claims
// (entry name, period start) in the shared store (internal/store) with
// INSERT ... ON CONFLICT DO NOTHING into glimpse_tasks_periodic_claims;
// only the scheduler whose insert went in calls Enqueue, then marks the
// claim done.
//
// # Exactly once
//
// A scheduler that dies between its claim and the end of Enqueue (or
// whose Enqueue fails) leaves the claim not done; once its lease runs
// out (ClaimLease, 30s) any scheduler takes it over and calls Enqueue for
// the same period again, with the same idempotency key, Key(name,
// period). The claim alone makes the period fire at most once per
// scheduler that holds it; the key makes the tasks core keep one task
// when two schedulers (the dead-looking one was only slow) both enqueue:
// pass it as the task's idempotency key. A claim is retried only while
// its period is the entry's latest: a newer period supersedes it.
//
// # Missed periods
//
// Periods that passed while no scheduler ran are not replayed one by one:
// a scheduler that starts fires the entry's latest period once, at once,
// if it has not fired (and the entry has fired before; a new entry waits
// for its first period). So a nightly job whose cluster was down for three
// nights runs once when it comes back, not three times.
//
// # Time
//
// Schedules are read by config.ParseSchedule: cron expressions (with an
// optional seconds field) in UTC unless they start with CRON_TZ=, and
// @every D periods counted from the Unix epoch, so every host agrees on
// the periods; hosts' clocks should be NTP-synchronised. Claims older
// than Keep (7 days) are pruned, except each entry's latest.
package periodic
