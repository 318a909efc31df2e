package tasks

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// ETASlack is how far in the past an ETA may be before Enqueue refuses
// it: an ETA computed a moment ago is "now", not a mistake.
const ETASlack = time.Second

// EnqueueOption configures one task.
type EnqueueOption func(*enqueueOptions)

type enqueueOptions struct {
	countdown    time.Duration
	hasCountdown bool
	eta          time.Time
	key          string
	queue        string
	retry        RetryConfig
}

// Countdown runs the task d from now (d >= 0).
func Countdown(d time.Duration) EnqueueOption {
	return func(o *enqueueOptions) { o.countdown, o.hasCountdown, o.eta = d, true, time.Time{} }
}

// ETA runs the task at t (not in the past).
func ETA(t time.Time) EnqueueOption {
	return func(o *enqueueOptions) { o.eta, o.hasCountdown = t, false }
}

// Key sets the task's idempotency key (at most MaxKeyBytes of UTF-8):
// while a task with this key is in the store (until its retention ends),
// Enqueue with the same key returns that task's id and enqueues nothing.
// Keys are global to the store: prefix them with what they are about.
func Key(k string) EnqueueOption { return func(o *enqueueOptions) { o.key = k } }

// Queue names the task's queue (the rate and concurrency limits apply per
// queue); default DefaultQueue. Names follow function names' rules.
func Queue(name string) EnqueueOption { return func(o *enqueueOptions) { o.queue = name } }

// Retry sets the task's retry config; its zero fields take the [tasks]
// defaults (max_attempts, min_backoff, max_backoff).
func Retry(rc RetryConfig) EnqueueOption { return func(o *enqueueOptions) { o.retry = rc } }

// row is a task about to be inserted.
type row struct {
	id       ID
	fn       string
	queue    string
	key      string
	state    State
	payload  []byte
	retry    RetryConfig
	created  int64
	eta      int64
	dispatch int64 // the time it is sent to gearmand, for a task due now
}

// Enqueue stores a task that runs f on in, on a worker, later; it returns
// the task's id once the task is committed to the store, and sends a task
// that is due now to gearmand at once. f must be registered in this
// process (checked in this process's registry, which pool.Register
// fills: a Func made otherwise is refused); a past ETA, a negative
// countdown, an item whose encoding exceeds max_item_bytes, an invalid
// queue, retry config or key: each gives an *EnqueueError wrapping one of
// the Err* values, and nothing is written. With a Key that a stored task
// has, the result is that task's id.
//
// If ctx ends before the commit is known, Enqueue returns ctx's error and
// the task may or may not be stored: enqueue again with the same Key to
// be sure.
func Enqueue[In, Out any](ctx context.Context, c *Client, f pool.Func[In, Out], in In, opts ...EnqueueOption) (ID, error) {
	if err := checkRegistered(f.Name()); err != nil {
		return "", err
	}
	payload, err := f.TaskPayload(in)
	if err != nil {
		return "", &EnqueueError{Func: f.Name(), Err: ErrUnknownFunction, Detail: err.Error()}
	}
	r, err := c.newRow(f.Name(), payload, opts)
	if err != nil {
		return "", err
	}
	return c.add(ctx, r)
}

// checkRegistered refuses a name this process does not register: a
// worker could not run it either, unless its binary differs.
func checkRegistered(name string) error {
	if name == "" {
		return &EnqueueError{Func: `""`, Err: ErrUnknownFunction, Detail: "a zero pool.Func; use the one pool.Register returned"}
	}
	if _, ok := wire.Lookup(name); !ok {
		return &EnqueueError{Func: name, Err: ErrUnknownFunction}
	}
	return nil
}

// newRow checks the options and the item and makes the task's row.
func (c *Client) newRow(fn string, payload []byte, opts []EnqueueOption) (*row, error) {
	o := enqueueOptions{queue: DefaultQueue}
	for _, opt := range opts {
		opt(&o)
	}
	fail := func(err error, detail string) (*row, error) {
		return nil, &EnqueueError{Func: fn, Err: err, Detail: detail}
	}
	now := time.Now()
	eta := now
	switch {
	case o.hasCountdown && o.countdown < 0:
		return fail(ErrNegativeDelay, o.countdown.String())
	case o.hasCountdown:
		eta = now.Add(o.countdown)
	case !o.eta.IsZero() && o.eta.Before(now.Add(-ETASlack)):
		return fail(ErrPastETA, fmt.Sprintf("%s is %v before now", o.eta.Format(time.RFC3339Nano), now.Sub(o.eta).Round(time.Millisecond)))
	case !o.eta.IsZero():
		eta = o.eta
	}
	if len(payload) > c.conf.MaxItemBytes {
		return fail(ErrItemTooLarge, fmt.Sprintf("%d bytes encoded, limit %d (max_item_bytes)", len(payload), c.conf.MaxItemBytes))
	}
	if err := checkKey(o.key); err != nil {
		return fail(err, fmt.Sprintf("%d bytes", len(o.key)))
	}
	if !config.ValidFunctionName(o.queue) {
		return fail(ErrBadQueue, fmt.Sprintf("%q: want 1-200 of ASCII letters, digits, '.', '_', '-', ':'", o.queue))
	}
	rc, err := c.retryConfig(o.retry)
	if err != nil {
		return fail(ErrBadRetry, err.Error())
	}
	r := &row{id: newID(now), fn: fn, queue: o.queue, key: o.key, payload: payload, retry: rc,
		created: now.UnixMilli(), eta: eta.UnixMilli(), state: Scheduled}
	if !eta.After(now) {
		r.state, r.dispatch = Queued, now.UnixMilli()
	}
	return r, nil
}

// newID returns a task's id: now in Unix milliseconds (12 hex digits),
// then 80 random bits (20). Ids made together sort together, so a batch's
// rows share the pages of the store's index of ids instead of dirtying a
// random page each (what a commit writes, and checkpoints copy).
func newID(now time.Time) ID {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:]) // never fails: crypto/rand panics instead
	return ID(hex.EncodeToString(b[:]))
}

func checkKey(k string) error {
	switch {
	case len(k) > MaxKeyBytes:
		return fmt.Errorf("%w (limit %d bytes)", ErrKeyTooLong, MaxKeyBytes)
	case !utf8.ValidString(k) || strings.ContainsRune(k, 0):
		return fmt.Errorf("%w: want UTF-8 without NUL", ErrBadKey)
	}
	return nil
}

// retryConfig fills rc's zero fields from the [tasks] defaults and checks
// it.
func (c *Client) retryConfig(rc RetryConfig) (RetryConfig, error) {
	if rc.MaxAttempts < 0 || rc.MinBackoff < 0 || rc.MaxBackoff < 0 {
		return rc, fmt.Errorf("negative field in %+v", rc)
	}
	if rc.MaxAttempts == 0 {
		rc.MaxAttempts = c.conf.MaxAttempts
	}
	if rc.MinBackoff == 0 {
		rc.MinBackoff = c.conf.MinBackoff
	}
	if rc.MaxBackoff == 0 {
		rc.MaxBackoff = max(c.conf.MaxBackoff, rc.MinBackoff)
	}
	if rc.MaxBackoff < rc.MinBackoff {
		return rc, fmt.Errorf("MaxBackoff %v is less than MinBackoff %v", rc.MaxBackoff, rc.MinBackoff)
	}
	return rc, nil
}

// add inserts r and counts it as enqueued.
func (c *Client) add(ctx context.Context, r *row) (ID, error) {
	id, err := c.ins.add(ctx, r)
	if err == nil {
		countersOf(r.queue).enqueued.Add(1)
	}
	return id, err
}
