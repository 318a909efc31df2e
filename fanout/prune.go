package fanout

import (
	"context"
	"time"
)

// resyncInterval is how often the cache is re-read from the store even
// without an announcement, in case one was lost (a job server restarted
// with the reload message in its queue).
const resyncInterval = 5 * time.Minute

// housekeep announces this worker to the others, prunes subscribers whose
// queue has lost its workers, and resyncs the cache now and then, until
// the worker begins stopping.
func (w *Worker) housekeep() {
	ctx := w.life.Context()
	tick := time.NewTicker(pruneInterval(w.cfg.PruneAfter))
	defer tick.Stop()
	announced := false
	lastSync := time.Now()
	for {
		if !announced {
			// The others learn of our matchmaking subscription this way.
			// Retried each tick while no job server is reachable.
			announced = w.announce(ctx) == nil
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(lastSync) >= resyncInterval {
			if err := w.cache.reload(ctx); err != nil {
				w.log.Warn("cannot resync the subscriber list", "err", err)
			} else {
				lastSync = time.Now()
			}
		}
		w.prune(ctx)
	}
}

// pruneInterval is how often queues are checked: often enough that a dead
// subscriber goes within 1.25 x PruneAfter, rarely enough to cost nothing.
func pruneInterval(after time.Duration) time.Duration {
	return min(max(after/4, 50*time.Millisecond), 15*time.Second)
}

// prune removes the subscriptions whose queue has had no worker on any job
// server for PruneAfter, as this worker observed it. The clock is in
// memory: a restarted fanout worker starts counting again, which only
// delays pruning. While a job server does not answer, nobody is pruned,
// since the missing workers may be connected to it.
func (w *Worker) prune(ctx context.Context) {
	snap, err := w.served.get(ctx, time.Now())
	if err != nil {
		return
	}
	doomed := w.unservedTooLong(snap, time.Now())
	w.reportPruneBlocked(snap)
	if len(doomed) == 0 {
		return
	}
	if err := w.store.Remove(ctx, doomed...); err != nil {
		w.log.Warn("cannot prune subscribers", "err", err)
		return
	}
	for _, s := range doomed {
		delete(w.unserved, s)
		w.log.Info("pruned subscriber: no worker for its queue", "topic", s.Topic, "client_id", s.ClientID,
			"queue", s.Queue(), "for", w.cfg.PruneAfter)
	}
	w.changed(ctx)
}

// unservedTooLong updates since when each subscriber's queue has had no
// worker and returns those past PruneAfter. Only a complete snapshot
// starts or advances a clock; any sighting of a worker stops it.
func (w *Worker) unservedTooLong(snap *servedSnapshot, now time.Time) []Subscription {
	current := map[Subscription]bool{}
	var doomed []Subscription
	for _, s := range w.cache.all() {
		current[s] = true
		if s == w.self {
			continue // we are alive; only the others can prune us
		}
		if snap.served[s.Queue()] {
			delete(w.unserved, s)
			continue
		}
		if !snap.complete {
			continue
		}
		since, seen := w.unserved[s]
		if !seen {
			w.unserved[s] = now
			continue
		}
		if now.Sub(since) >= w.cfg.PruneAfter {
			doomed = append(doomed, s)
		}
	}
	for s := range w.unserved {
		if !current[s] {
			delete(w.unserved, s) // unsubscribed meanwhile
		}
	}
	return doomed
}

// reportPruneBlocked logs when pruning stops because a job server does
// not answer, and when it resumes: once each, not every tick.
func (w *Worker) reportPruneBlocked(snap *servedSnapshot) {
	if !snap.complete == w.pruneBlocked {
		return
	}
	w.pruneBlocked = !snap.complete
	if w.pruneBlocked {
		w.log.Warn("not pruning while a job server does not answer the admin status command", "err", snap.err)
	} else {
		w.log.Info("every job server answers again; pruning resumes")
	}
}
