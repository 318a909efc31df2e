package ratelimit

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Release gives back what an acquisition took: the slot of a queue with
// MaxRunning (a token is spent for good). Calling it again does nothing.
type Release func()

func noRelease() {}

// Acquire waits, bounded by ctx, until queue has both a token and a free
// slot, takes them, and returns the function that frees the slot. A queue
// without limits returns at once without asking the store. ctx's end
// gives an error wrapping ctx's cause.
func (l *Limiter) Acquire(ctx context.Context, queue string) (Release, error) {
	q, lim := l.state(queue)
	if lim.Unlimited() && !l.closed.Load() {
		q.stats.acquired(0)
		return noRelease, nil
	}
	start := time.Now()
	select {
	case q.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, l.ctxErr(ctx, queue)
	}
	defer func() { <-q.turn }()
	for tries := 0; ; {
		released := l.releasedChan(q)
		rels, wait, err := l.try(ctx, queue, q, lim, 1)
		if err != nil {
			return nil, err
		}
		if len(rels) > 0 {
			waited := time.Duration(0)
			if tries > 0 {
				waited = time.Since(start)
			}
			q.stats.acquired(waited)
			return rels[0], nil
		}
		tries++
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-released:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil, l.ctxErr(ctx, queue)
		}
	}
}

// TryAcquire takes a token and a slot of queue if both are free now, in
// one round trip (a transaction when the queue has both limits). When
// not, release is nil and wait says when to try again: exactly when the
// next token is due, or SlotPoll when no slot is free.
func (l *Limiter) TryAcquire(ctx context.Context, queue string) (release Release, wait time.Duration, err error) {
	rels, wait, err := l.TryAcquireN(ctx, queue, 1)
	if len(rels) == 0 {
		return nil, wait, err
	}
	return rels[0], 0, nil
}

// TryAcquireN takes up to n grants (a token and a slot each) of queue in
// one round trip, for a dispatcher with n tasks ready: it returns one
// Release per grant, or none and how long to wait. Use the grants at
// once: a token counts as a dispatch when it is taken.
func (l *Limiter) TryAcquireN(ctx context.Context, queue string, n int) ([]Release, time.Duration, error) {
	if n < 1 {
		return nil, 0, fmt.Errorf("ratelimit: TryAcquireN of %d grants: want at least 1", n)
	}
	q, lim := l.state(queue)
	rels, wait, err := l.try(ctx, queue, q, lim, n)
	if len(rels) > 0 {
		for range rels {
			q.stats.acquired(0)
		}
	}
	return rels, wait, err
}

// try is one attempt; it counts the waits it causes.
func (l *Limiter) try(ctx context.Context, queue string, q *queueState, lim Limits, n int) ([]Release, time.Duration, error) {
	if l.closed.Load() {
		return nil, 0, ErrClosed
	}
	if lim.Unlimited() {
		rels := make([]Release, n)
		for i := range rels {
			rels[i] = noRelease
		}
		return rels, 0, nil
	}
	if err := l.ensure(ctx, queue, q, lim); err != nil {
		return nil, 0, err
	}
	var rels []Release
	var wait time.Duration
	var err error
	switch {
	case lim.MaxRunning == 0:
		rels, wait, err = l.tryTokens(ctx, queue, q, lim, n)
	default:
		rels, wait, err = l.trySlots(ctx, queue, q, lim, n)
	}
	if err != nil {
		return nil, 0, &QueueError{Queue: queue, Err: err}
	}
	return rels, wait, nil
}

// ensure creates the queue's rows once per process and set of limits.
func (l *Limiter) ensure(ctx context.Context, queue string, q *queueState, lim Limits) error {
	l.mu.Lock()
	done := q.ensured == lim
	l.mu.Unlock()
	if done {
		return nil
	}
	if err := l.db.ensureRows(ctx, queue, lim); err != nil {
		return &QueueError{Queue: queue, Err: err}
	}
	l.mu.Lock()
	q.ensured = lim
	l.mu.Unlock()
	return nil
}

func (l *Limiter) tryTokens(ctx context.Context, queue string, q *queueState, lim Limits, n int) ([]Release, time.Duration, error) {
	granted, left, err := l.db.takeTokens(ctx, l.db, queue, lim, n)
	if err != nil {
		return nil, 0, err
	}
	if granted == 0 {
		q.stats.tokenWaits.Add(1)
		return nil, lim.tokenWait(left), nil
	}
	rels := make([]Release, granted)
	for i := range rels {
		rels[i] = noRelease
	}
	return rels, 0, nil
}

// trySlots leases up to n slots and, with a rate too, as many tokens, in
// one transaction; slots left without a token are freed before commit.
func (l *Limiter) trySlots(ctx context.Context, queue string, q *queueState, lim Limits, n int) ([]Release, time.Duration, error) {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, l.db.Wrap("begin", err)
	}
	defer tx.Rollback()
	leaseID := l.leaseSeq.Add(1)
	slots, err := l.db.takeSlots(ctx, tx, queue, lim, n, l.owner, leaseID, l.lease)
	if err != nil {
		return nil, 0, err
	}
	if len(slots) == 0 {
		q.stats.slotWaits.Add(1)
		return nil, l.slotPoll, nil
	}
	if lim.Rate > 0 {
		granted, left, err := l.db.takeTokens(ctx, tx, queue, lim, len(slots))
		if err != nil {
			return nil, 0, err
		}
		if granted == 0 { // the rollback frees the slots
			q.stats.tokenWaits.Add(1)
			return nil, lim.tokenWait(left), nil
		}
		for _, s := range slots[granted:] {
			if err := l.db.freeSlot(ctx, tx, queue, s, leaseID, l.owner); err != nil {
				return nil, 0, err
			}
		}
		slots = slots[:granted]
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, l.db.Wrap("commit", err)
	}
	l.held.Add(int64(len(slots)))
	rels := make([]Release, len(slots))
	for i, s := range slots {
		rels[i] = l.releaser(queue, q, s, leaseID)
	}
	return rels, 0, nil
}

// releaser frees the slot once, wakes this process's waiters, and leaves
// a slot it cannot free (store unreachable) to its lease.
func (l *Limiter) releaser(queue string, q *queueState, slot, leaseID int64) Release {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.held.Add(-1)
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			if err := l.db.freeSlot(ctx, l.db, queue, slot, leaseID, l.owner); err != nil {
				l.log.Warn("ratelimit: cannot free a slot; it comes back when its lease runs out",
					"queue", queue, "slot", slot, "lease", l.lease, "err", err)
			}
			l.mu.Lock()
			close(q.released)
			q.released = make(chan struct{})
			l.mu.Unlock()
		})
	}
}

func (l *Limiter) releasedChan(q *queueState) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return q.released
}

func (l *Limiter) ctxErr(ctx context.Context, queue string) error {
	return &QueueError{Queue: queue, Err: fmt.Errorf("waiting for a dispatch: %w", context.Cause(ctx))}
}

var _ querier = (*sql.Tx)(nil)
