package auth

import (
	"sync"
	"time"
)

// Refusals counts the messages a process refused (forged, unsigned,
// replayed) and paces what it says about them: Add says when to log, at
// most Burst times per Every, with how many went unlogged since, so that a
// flood costs a counter, not the log. The zero value logs once per
// DefaultRefusalLogEvery. Safe for concurrent use.
type Refusals struct {
	Every time.Duration // default DefaultRefusalLogEvery
	Burst int           // logs per Every; default 1

	mu         sync.Mutex
	total      int64
	unlogged   int64
	windowEnds time.Time
	logged     int // in the current window
}

// DefaultRefusalLogEvery is Refusals' pace when Every is 0.
const DefaultRefusalLogEvery = 10 * time.Second

// Add counts one refusal at now. When log is true the caller logs it, with
// skipped (the refusals not logged since the last one) and total.
func (r *Refusals) Add(now time.Time) (log bool, skipped, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if !now.Before(r.windowEnds) {
		every := r.Every
		if every <= 0 {
			every = DefaultRefusalLogEvery
		}
		r.windowEnds, r.logged = now.Add(every), 0
	}
	if r.logged >= max(r.Burst, 1) {
		r.unlogged++
		return false, 0, r.total
	}
	r.logged++
	skipped, r.unlogged = r.unlogged, 0
	return true, skipped, r.total
}

// Total is how many refusals were counted.
func (r *Refusals) Total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}
