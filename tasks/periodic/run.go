package periodic

import (
	"context"
	"slices"
	"time"
)

// run is the scheduler's loop: catch up once, then sleep until the next
// period of any entry, a look at stale claims, or the next pruning.
func (s *Scheduler) run(ctx context.Context, last map[string]time.Time) {
	defer close(s.done)
	s.catchUp(ctx, last)
	s.prune(ctx)
	nextStale := time.Now().Add(s.lease / 2)
	nextPrune := time.Now().Add(time.Hour)
	for {
		wake := nextStale
		if nextPrune.Before(wake) {
			wake = nextPrune
		}
		for _, e := range s.entries {
			if n := e.next(time.Now()); !n.IsZero() && n.Before(wake) {
				wake = n
			}
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := time.Now()
		for _, e := range s.entries {
			if p := e.latest(now); !p.IsZero() && p.After(s.handled[e.Name]) {
				s.fire(ctx, e, p, false)
			}
		}
		if !now.Before(nextStale) {
			s.retryStale(ctx)
			nextStale = time.Now().Add(s.lease / 2)
		}
		if !now.Before(nextPrune) {
			s.prune(ctx)
			nextPrune = time.Now().Add(time.Hour)
		}
	}
}

// catchUp fires the latest period of each entry that fired before (some
// claim exists) but not for that period: missed periods fire once, not
// each. A new entry waits for its next period.
func (s *Scheduler) catchUp(ctx context.Context, last map[string]time.Time) {
	now := time.Now()
	for _, e := range s.entries {
		p := e.latest(now)
		prev, ranBefore := last[e.Name]
		if p.IsZero() || !ranBefore || !p.After(prev) {
			s.handled[e.Name] = p
			continue
		}
		s.fire(ctx, e, p, false)
	}
}

// fire claims (or, with takeOver, takes over) the period and, if this
// scheduler won it, enqueues it and marks the claim done.
func (s *Scheduler) fire(ctx context.Context, e schedule, period time.Time, takeOver bool) {
	s.handled[e.Name] = period
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var won bool
	var err error
	if takeOver {
		won, err = s.claims.takeOver(rctx, e.Name, period, s.owner, s.lease)
	} else {
		won, err = s.claims.claim(rctx, e.Name, period, s.owner, s.lease)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("periodic: cannot claim a period; another scheduler may fire it, or a later look at stale claims",
				"entry", e.Name, "period", period, "err", err)
		}
		return
	}
	if !won {
		return
	}
	ectx, ecancel := context.WithTimeout(ctx, s.lease)
	err = s.enqueue(ectx, e.Entry, period, Key(e.Name, period))
	ecancel()
	if err != nil {
		s.log.Warn("periodic: enqueue failed; the period is retried once its claim's lease runs out",
			"entry", e.Name, "period", period, "lease", s.lease, "err", err)
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer fcancel()
	if ferr := s.claims.finish(fctx, e.Name, period, s.owner, err == nil); ferr != nil {
		s.log.Warn("periodic: cannot record a fired period", "entry", e.Name, "period", period, "err", ferr)
	}
}

// retryStale takes over the claims not done whose lease ran out, for
// periods that are still their entry's latest.
func (s *Scheduler) retryStale(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	stale, err := s.claims.stale(rctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("periodic: cannot look for stale claims", "err", err)
		}
		return
	}
	now := time.Now()
	for _, e := range s.entries {
		if p := e.latest(now); slices.ContainsFunc(stale[e.Name], p.Equal) {
			s.fire(ctx, e, p, true)
		}
	}
}

func (s *Scheduler) prune(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := s.claims.prune(rctx, s.keep); err != nil && ctx.Err() == nil {
		s.log.Warn("periodic: cannot prune old claims", "err", err)
	}
}
