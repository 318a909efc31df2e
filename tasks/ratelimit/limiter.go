package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// Defaults of the options.
const (
	DefaultLease    = 30 * time.Second
	DefaultSlotPoll = 100 * time.Millisecond
	// requestTimeout bounds each round trip made outside a caller's ctx
	// (releases, renewals).
	requestTimeout = 10 * time.Second
)

// Option configures a Limiter.
type Option func(*Limiter)

// Lease sets how long a slot stays taken after its holder stops renewing
// it (it died); renewals happen every d/3. At least 1s.
func Lease(d time.Duration) Option { return func(l *Limiter) { l.lease = max(d, time.Second) } }

// SlotPoll sets how often a waiter asks for a slot again when none is
// free (a release in this process wakes it at once).
func SlotPoll(d time.Duration) Option {
	return func(l *Limiter) { l.slotPoll = max(d, time.Millisecond) }
}

// Logger sets where failed renewals are logged (default slog.Default()).
func Logger(log *slog.Logger) Option { return func(l *Limiter) { l.log = log } }

// Limiter enforces the limits of task queues across every process that
// shares its store. It is safe for concurrent use; Close it.
type Limiter struct {
	db       dialect
	owner    string // this Limiter, in the slot rows
	lease    time.Duration
	slotPoll time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	limits map[string]Limits
	queues map[string]*queueState

	leaseSeq atomic.Int64
	held     atomic.Int64 // slots held, to skip renewals when none
	closed   atomic.Bool
	stop     chan struct{}
	done     chan struct{}
}

// queueState is a queue's state in this process.
type queueState struct {
	turn     chan struct{} // held by the one goroutine asking the store for this queue
	ensured  Limits        // the limits whose rows exist
	released chan struct{} // closed (and replaced) when a slot of this process is released
	stats    counters
}

// New creates the limiter's tables in db if needed and starts renewing
// its leases. limits may be nil; SetLimits adds or changes a queue's.
func New(ctx context.Context, db *store.DB, limits map[string]Limits, opts ...Option) (*Limiter, error) {
	l := &Limiter{
		db: newDialect(db), owner: ownerID(), lease: DefaultLease, slotPoll: DefaultSlotPoll, log: slog.Default(),
		limits: make(map[string]Limits), queues: make(map[string]*queueState),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		o(l)
	}
	for q, lim := range limits {
		if err := lim.Validate(); err != nil {
			return nil, &QueueError{Queue: q, Err: err}
		}
		l.limits[q] = lim
	}
	if err := db.Migrate(ctx, schema...); err != nil {
		return nil, err
	}
	go l.renewLoop()
	return l, nil
}

// ownerID names this Limiter in the slot rows: host, pid and a random
// part, so that two Limiters of one process differ too.
func ownerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// SetLimits sets (or, with zero Limits, removes) a queue's limits in this
// process. Every process should use the same limits for a queue.
func (l *Limiter) SetLimits(queue string, lim Limits) error {
	if err := lim.Validate(); err != nil {
		return &QueueError{Queue: queue, Err: err}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits[queue] = lim
	return nil
}

// Limits returns a queue's limits (zero: unlimited).
func (l *Limiter) Limits(queue string) Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limits[queue]
}

func (l *Limiter) state(queue string) (*queueState, Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queues[queue]
	if q == nil {
		q = &queueState{turn: make(chan struct{}, 1), released: make(chan struct{})}
		l.queues[queue] = q
	}
	return q, l.limits[queue]
}

// Close stops the renewals and gives back the slots this Limiter still
// holds. Acquisitions after it fail with ErrClosed.
func (l *Limiter) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return l.db.freeAll(ctx, l.owner)
}

func (l *Limiter) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(l.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if l.held.Load() == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(requestTimeout, l.lease/3))
		if err := l.db.renew(ctx, l.owner, l.lease); err != nil {
			l.log.Warn("ratelimit: cannot renew the leases of running tasks; their slots run out after the lease",
				"lease", l.lease, "err", err)
		}
		cancel()
	}
}
