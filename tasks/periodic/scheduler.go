package periodic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// Enqueue enqueues one period's task of e. It is called once per period
// for the whole cluster, or again with the same key when the scheduler
// that claimed the period died or its call failed: pass key to the tasks
// core as the idempotency key. ctx ends after ClaimLease.
type Enqueue func(ctx context.Context, e Entry, period time.Time, key string) error

// Defaults of the options.
const (
	DefaultClaimLease = 30 * time.Second
	DefaultKeep       = 7 * 24 * time.Hour
	// requestTimeout bounds each round trip to the store.
	requestTimeout = 10 * time.Second
)

// Option configures a Scheduler.
type Option func(*Scheduler)

// ClaimLease sets how long a claimed period stays its scheduler's before
// another may take it over if it is not done; stale claims are looked for
// every lease/2. At least 1s.
func ClaimLease(d time.Duration) Option {
	return func(s *Scheduler) { s.lease = max(d, time.Second) }
}

// Keep sets how long claims are kept (each entry's latest is kept always).
func Keep(d time.Duration) Option { return func(s *Scheduler) { s.keep = d } }

// Logger sets where failed claims and enqueues are logged.
func Logger(log *slog.Logger) Option { return func(s *Scheduler) { s.log = log } }

// ErrStarted is returned by Start on a Scheduler already started.
var ErrStarted = errors.New("periodic: scheduler already started")

// Scheduler fires its entries' periods; run one in any number of
// processes sharing the store.
type Scheduler struct {
	claims  claims
	entries []schedule
	enqueue Enqueue
	owner   string
	lease   time.Duration
	keep    time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	started bool
	stop    chan struct{}
	done    chan struct{}
	handled map[string]time.Time // each entry's latest period this scheduler dealt with
}

// New checks the entries (each as a [periodic NAME] section; names
// unique) and returns a Scheduler that calls enqueue.
func New(db *store.DB, entries []Entry, enqueue Enqueue, opts ...Option) (*Scheduler, error) {
	if enqueue == nil {
		return nil, errors.New("periodic: nil Enqueue")
	}
	parsed, err := parseEntries(entries)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{
		claims: claims{db}, entries: parsed, enqueue: enqueue, owner: ownerID(),
		lease: DefaultClaimLease, keep: DefaultKeep, log: slog.Default(),
		stop: make(chan struct{}), done: make(chan struct{}), handled: make(map[string]time.Time),
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func ownerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Start creates the claims table if needed and starts firing periods in
// the background, until Stop or the end of ctx. It fires, at once, the
// latest period of each entry that has fired before but not this period.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.mu.Unlock()
	if err := s.claims.db.Migrate(ctx, schema...); err != nil {
		close(s.done)
		return err
	}
	last, err := s.claims.lastPeriods(ctx)
	if err != nil {
		close(s.done)
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
		case <-s.stop:
		case <-s.done:
		}
		cancel()
	}()
	go s.run(runCtx, last)
	return nil
}

// Stop stops the scheduler and waits, bounded by ctx, for a call of
// Enqueue in progress to return. A stopped Scheduler does not start again:
// make a new one.
func (s *Scheduler) Stop(ctx context.Context) {
	s.mu.Lock()
	started := s.started
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	if !started {
		return
	}
	select {
	case <-s.done:
	case <-ctx.Done():
	}
}
