package tasks

import (
	"errors"
	"fmt"
	"time"
)

// ID names a task: 32 lower-case hex digits.
type ID string

// State is where a task is in its life.
type State string

// The states of a task.
const (
	Scheduled State = "scheduled" // waiting for its countdown or ETA
	Queued    State = "queued"    // due, sent to gearmand, not yet claimed by a worker
	Running   State = "running"   // claimed by a worker
	Retrying  State = "retrying"  // an attempt failed; waiting for its backoff
	Succeeded State = "succeeded"
	Failed    State = "failed"    // its last attempt failed
	Cancelled State = "cancelled" // cancelled before it ran
)

// States lists every state in life order.
var States = []State{Scheduled, Queued, Running, Retrying, Succeeded, Failed, Cancelled}

// Finished says whether s is an end state, which the retention removes.
func (s State) Finished() bool { return s == Succeeded || s == Failed || s == Cancelled }

// DefaultQueue is the queue of a task enqueued without Queue.
const DefaultQueue = "default"

// Info is a task as the store holds it, without a typed result.
type Info struct {
	ID          ID
	Func        string // the registered function
	Queue       string
	Key         string // the idempotency key; "" for none
	State       State
	Attempt     int // attempts started so far
	MaxAttempts int
	Created     time.Time
	ETA         time.Time // when it is (or was) due
	Started     time.Time // the last attempt's start; zero if none
	Finished    time.Time // zero until it ends
	Worker      string    // who runs or ran the last attempt
	Error       string    // the last attempt's error
	Attempts    []Attempt // the finished attempts, oldest first (Get and Lookup only)
	// Result is the encoded result of a succeeded task (Lookup decodes it).
	Result []byte
}

// Attempt is one finished attempt of a task.
type Attempt struct {
	N       int
	Worker  string
	Started time.Time
	Ended   time.Time
	Error   string // "" for the one that succeeded
}

// Task is a task of a registered function, with its decoded result.
type Task[Out any] struct {
	Info
	Value Out // the result, once State is Succeeded
}

// RetryConfig is how a task's failed attempts are retried, after Cloud
// Tasks' RetryConfig: at most MaxAttempts attempts; after attempt n fails
// the next waits MinBackoff * 2^(n-1), at most MaxBackoff.
type RetryConfig struct {
	MaxAttempts int
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
}

// Backoff is the wait after failed attempt n (1-based).
func (r RetryConfig) Backoff(n int) time.Duration {
	d := r.MinBackoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// Errors of Enqueue; each comes wrapped in an *EnqueueError naming the
// function.
var (
	ErrUnknownFunction = errors.New("function not registered in this process (pool.Register)")
	ErrPastETA         = errors.New("ETA is in the past")
	ErrNegativeDelay   = errors.New("countdown is negative")
	ErrItemTooLarge    = errors.New("item too large")
	ErrKeyTooLong      = errors.New("idempotency key too long")
	ErrBadKey          = errors.New("invalid idempotency key")
	ErrBadQueue        = errors.New("invalid queue name")
	ErrBadRetry        = errors.New("invalid retry config")
	ErrClosed          = errors.New("tasks: client closed")
)

// Errors of the task operations.
var (
	ErrNotFound      = errors.New("no such task (never enqueued, or removed after its retention)")
	ErrWrongFunction = errors.New("task belongs to another function")
	ErrNotCancelable = errors.New("task is running or finished; only scheduled, queued or retrying tasks can be cancelled")
	ErrNotRetryable  = errors.New("task has not failed or been cancelled; only those can be retried")
)

// MaxKeyBytes bounds an idempotency key.
const MaxKeyBytes = 256

// EnqueueError is a task Enqueue refused: nothing was written.
type EnqueueError struct {
	Func   string
	Err    error  // one of the Err* values above
	Detail string // what was wrong, with the numbers
	Field  string // EnqueueJSON: the item's field that was wrong ("" for none or the item itself)
}

func (e *EnqueueError) Error() string {
	msg := fmt.Sprintf("tasks: enqueue %s: %v", e.Func, e.Err)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *EnqueueError) Unwrap() error { return e.Err }

// TaskError is an operation on a task that failed: Get, Lookup, Cancel,
// Retry.
type TaskError struct {
	ID  ID
	Op  string
	Err error
}

func (e *TaskError) Error() string { return fmt.Sprintf("tasks: %s %s: %v", e.Op, e.ID, e.Err) }
func (e *TaskError) Unwrap() error { return e.Err }
