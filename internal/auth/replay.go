package auth

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Refusals of ReplayGuard.Admit; test with errors.Is.
var (
	ErrReplayed  = errors.New("already seen (a replay, or the same message by another path)")
	ErrExpired   = errors.New("expired")
	ErrTooFresh  = errors.New("sent in the future (clock skew or forgery)")
	ErrLongLived = errors.New("expiry too far ahead")
	ErrGuardFull = errors.New("too many live ids remembered")
)

// ReplayGuard remembers the ids of signed messages (commands) until they
// expire, so that each is let through once. Because the expiry is signed
// and bounded by MaxTTL, the memory it needs is bounded by the senders'
// rate times MaxTTL, and by MaxEntries.
type ReplayGuard struct {
	// MaxTTL is the longest validity a message may claim (default 24h).
	MaxTTL time.Duration
	// Skew is how far in the future a message's send time may be, for
	// clocks that differ between hosts (default 5m).
	Skew time.Duration
	// MaxEntries bounds the ids remembered (default 100,000).
	MaxEntries int

	mu   sync.Mutex
	seen map[string]time.Time
	next time.Time // when the earliest remembered id expires
}

// Admit lets the message with this id, send time and expiry through once:
// nil the first time while it is valid, an error otherwise.
func (g *ReplayGuard) Admit(id string, sent, expires, now time.Time) error {
	maxTTL, skew, maxN := g.limits()
	switch {
	case !now.Before(expires):
		return fmt.Errorf("id %s: %w at %s", id, ErrExpired, expires.Format(time.RFC3339))
	case sent.After(now.Add(skew)):
		return fmt.Errorf("id %s: %w", id, ErrTooFresh)
	case expires.Sub(now) > maxTTL:
		return fmt.Errorf("id %s: %w (%s, at most %s)", id, ErrLongLived, expires.Sub(now).Round(time.Second), maxTTL)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.forgetExpired(now)
	if _, dup := g.seen[id]; dup {
		return fmt.Errorf("id %s: %w", id, ErrReplayed)
	}
	if len(g.seen) >= maxN {
		return fmt.Errorf("id %s: %w (%d)", id, ErrGuardFull, maxN)
	}
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	g.seen[id] = expires
	if g.next.IsZero() || expires.Before(g.next) {
		g.next = expires
	}
	return nil
}

// Seen reports whether id was admitted and has not expired.
func (g *ReplayGuard) Seen(id string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, ok := g.seen[id]
	return ok && now.Before(exp)
}

func (g *ReplayGuard) limits() (time.Duration, time.Duration, int) {
	maxTTL, skew, maxN := g.MaxTTL, g.Skew, g.MaxEntries
	if maxTTL <= 0 {
		maxTTL = 24 * time.Hour
	}
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	if maxN <= 0 {
		maxN = 100_000
	}
	return maxTTL, skew, maxN
}

// forgetExpired drops expired ids, at most once per earliest expiry, so
// that Admit stays O(1) between expiries.
func (g *ReplayGuard) forgetExpired(now time.Time) {
	if g.next.IsZero() || now.Before(g.next) {
		return
	}
	g.next = time.Time{}
	for id, exp := range g.seen {
		if !now.Before(exp) {
			delete(g.seen, id)
		} else if g.next.IsZero() || exp.Before(g.next) {
			g.next = exp
		}
	}
}
