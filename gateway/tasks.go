package gateway

import (
	"context"
	"encoding/json"
	"time"
)

// Tasks is the task service as the gateway uses it: shaped after package
// tasks (Client.Enqueue, Get, Cancel, Counts), so that a thin adapter
// wires the real one. Its errors wrap ErrNotFound, ErrConflict or
// ErrInvalid where they apply; the gateway answers 404, 409 and 400 for
// them, 500 for others.
type Tasks interface {
	// Enqueue stores a task and returns its id; a task with the same
	// Key still in the store returns that task's id instead.
	Enqueue(ctx context.Context, req EnqueueRequest) (id string, err error)
	// Get returns the task id.
	Get(ctx context.Context, id string) (TaskView, error)
	// Cancel cancels a scheduled, queued or retrying task.
	Cancel(ctx context.Context, id string) error
	// Queues returns every queue's counts.
	Queues(ctx context.Context) ([]QueueView, error)
}

// EnqueueRequest is a task to enqueue: an item of a registered function.
type EnqueueRequest struct {
	Func string // the registered function's name
	// Item is the item, a value of the function's In type (a
	// webhook.Request for the Miyamoto routes).
	Item any
	// Payload is Item encoded as the task's one-item chunk (pool's
	// Func.TaskPayload) when the pool offers it; nil otherwise.
	Payload []byte
	Queue   string // "" for the default queue
	Key     string // the idempotency key; "" for none
	// Countdown (with HasCountdown) or ETA: when the task is due; neither
	// set: now.
	Countdown    time.Duration
	HasCountdown bool
	ETA          time.Time
}

// TaskView is a task as GET /tasks/{id} shows it.
type TaskView struct {
	ID          string        `json:"id"`
	Func        string        `json:"function"`
	Queue       string        `json:"queue"`
	Key         string        `json:"key,omitempty"`
	State       string        `json:"state"`
	Attempt     int           `json:"attempt"`
	MaxAttempts int           `json:"max_attempts"`
	Created     time.Time     `json:"created"`
	ETA         time.Time     `json:"eta"`
	Started     *time.Time    `json:"started,omitempty"`
	Finished    *time.Time    `json:"finished,omitempty"`
	Worker      string        `json:"worker,omitempty"`
	Error       string        `json:"last_error,omitempty"`
	Attempts    []AttemptView `json:"attempts,omitempty"`
	// Result is the succeeded task's result as JSON (the exposed
	// function's Out; see ResultJSON).
	Result json.RawMessage `json:"result,omitempty"`
}

// AttemptView is one finished attempt.
type AttemptView struct {
	N       int       `json:"n"`
	Worker  string    `json:"worker,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Error   string    `json:"error,omitempty"`
}

// QueueView is one queue's counts for GET /queues.
type QueueView struct {
	Name      string  `json:"name"`
	Scheduled int     `json:"scheduled"`
	Queued    int     `json:"queued"`
	Running   int     `json:"running"`
	Retrying  int     `json:"retrying"`
	Rate      float64 `json:"rate"` // the queue's rate limit, dispatches/s; 0: none
}

// taskResulter is pool.Func's TaskResult, which the task service adds to
// pool: checked at run time so that this package builds before it.
type taskResulter[Out any] interface {
	TaskResult(data []byte) (Out, error)
}

// ResultJSON converts a task's encoded result (tasks.Info.Result) of the
// exposed function fn to JSON, for TaskView.Result; nil, nil when fn is
// not exposed or the pool cannot decode task results.
func ResultJSON(fn string, encoded []byte) (json.RawMessage, error) {
	f, ok := lookup(fn)
	if !ok || len(encoded) == 0 {
		return nil, nil
	}
	return f.resultJSON(encoded)
}

func (j *jsonFunc[In, Out]) resultJSON(encoded []byte) (json.RawMessage, error) {
	tr, ok := any(j.f).(taskResulter[Out])
	if !ok {
		return nil, nil
	}
	v, err := tr.TaskResult(encoded)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
