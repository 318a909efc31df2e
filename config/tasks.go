package config

import (
	"fmt"
	"time"
)

// The [tasks] section: durable background tasks (package tasks).
const (
	secTasks = "tasks"

	keyTasksServe      = "serve"
	keyRetention       = "retention"
	keyLease           = "lease"
	keyPollInterval    = "poll_interval"
	keyRedispatchAfter = "redispatch_after"
	keyBatchSize       = "batch_size"
	keyMaxAttempts     = "max_attempts"
	keyMinBackoff      = "min_backoff"
	keyMaxBackoff      = "max_backoff"
	keyMaxItemBytes    = "max_item_bytes"
)

// Defaults of the [tasks] keys.
const (
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultLease           = 30 * time.Second
	DefaultPollInterval    = 100 * time.Millisecond
	DefaultRedispatchAfter = 10 * time.Second
	DefaultBatchSize       = 32
	DefaultMaxAttempts     = 5
	DefaultMinBackoff      = time.Second
	DefaultMaxBackoff      = 10 * time.Minute
	DefaultMaxItemBytes    = 1 << 20
)

// Tasks is the optional [tasks] section: where task records live and how
// workers run them.
type Tasks struct {
	// Store (store): the task records' database, a file path (SQLite) or
	// postgres://...; empty: the [fanout] store, so one database holds the
	// whole cluster's state.
	Store string
	// Serve (serve, default true): glimpse-cluster worker runs tasks and
	// the scheduler duties (dispatcher, sweeper, retention).
	Serve           bool
	Retention       time.Duration // retention: finished tasks (and their idempotency keys) are removed after this (default 168h)
	Lease           time.Duration // lease: a running task whose worker has not renewed it this long is retried (default 30s)
	PollInterval    time.Duration // poll_interval: how often the dispatcher looks for due tasks (default 100ms)
	RedispatchAfter time.Duration // redispatch_after: a queued task whose job left gearmand is sent again after this (default 10s)
	BatchSize       int           // batch_size: most tasks one Gearman job carries (default 32)
	MaxAttempts     int           // max_attempts: default attempts of a task (default 5)
	MinBackoff      time.Duration // min_backoff: wait after the first failed attempt, doubling (default 1s)
	MaxBackoff      time.Duration // max_backoff: the longest wait between attempts (default 10m)
	MaxItemBytes    int           // max_item_bytes: the largest encoded item Enqueue accepts (default 1 MiB)
}

// DefaultTasks is the [tasks] section of a file that has none.
func DefaultTasks() Tasks {
	return Tasks{
		Serve:           true,
		Retention:       DefaultRetention,
		Lease:           DefaultLease,
		PollInterval:    DefaultPollInterval,
		RedispatchAfter: DefaultRedispatchAfter,
		BatchSize:       DefaultBatchSize,
		MaxAttempts:     DefaultMaxAttempts,
		MinBackoff:      DefaultMinBackoff,
		MaxBackoff:      DefaultMaxBackoff,
		MaxItemBytes:    DefaultMaxItemBytes,
	}
}

// StorePath returns the task store's SQLite path or PostgreSQL URL: t.Store
// when set, else the [fanout] store's.
func (t Tasks) StorePath(f Fanout) (string, error) {
	if t.Store != "" {
		return t.Store, nil
	}
	return f.StorePath()
}

// Validate checks a Tasks built in code with the rules Load applies.
func (t Tasks) Validate() error { return join(t.check()) }

func (t Tasks) check() []*Error {
	var errs []*Error
	add := func(key string, err error) {
		errs = append(errs, &Error{Section: secTasks, Key: key, Err: err})
	}
	if err := checkStore(t.Store); err != nil {
		add(keyStore, err)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{keyRetention, t.Retention}, {keyLease, t.Lease}, {keyPollInterval, t.PollInterval},
		{keyRedispatchAfter, t.RedispatchAfter}, {keyMinBackoff, t.MinBackoff}, {keyMaxBackoff, t.MaxBackoff}} {
		if err := checkPositive(d.v); err != nil {
			add(d.key, err)
		}
	}
	if t.MaxBackoff < t.MinBackoff {
		add(keyMaxBackoff, fmt.Errorf("%v: must be at least min_backoff (%v)", t.MaxBackoff, t.MinBackoff))
	}
	for _, n := range []struct {
		key string
		v   int
	}{{keyBatchSize, t.BatchSize}, {keyMaxAttempts, t.MaxAttempts}, {keyMaxItemBytes, t.MaxItemBytes}} {
		if n.v < 1 {
			add(n.key, fmt.Errorf("%d: must be 1 or more", n.v))
		}
	}
	return errs
}

func (p *parser) tasks(v map[string]string) {
	t := &p.file.Tasks
	if s, ok := v[keyStore]; ok {
		t.Store = s
	}
	p.boolean(secTasks, keyTasksServe, v, &t.Serve)
	p.duration(secTasks, keyRetention, v, &t.Retention)
	p.duration(secTasks, keyLease, v, &t.Lease)
	p.duration(secTasks, keyPollInterval, v, &t.PollInterval)
	p.duration(secTasks, keyRedispatchAfter, v, &t.RedispatchAfter)
	p.duration(secTasks, keyMinBackoff, v, &t.MinBackoff)
	p.duration(secTasks, keyMaxBackoff, v, &t.MaxBackoff)
	p.integer(secTasks, keyBatchSize, v, &t.BatchSize)
	p.integer(secTasks, keyMaxAttempts, v, &t.MaxAttempts)
	p.integer(secTasks, keyMaxItemBytes, v, &t.MaxItemBytes)
	p.errs = append(p.errs, t.check()...)
}
