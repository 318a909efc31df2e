package gearman

import (
	"context"
	"sync/atomic"
)

// UpdateKind says what an Update carries.
type UpdateKind int

// Kinds of intermediate updates a worker can send for a foreground job.
const (
	UpdateData    UpdateKind = iota // WORK_DATA: a piece of streamed output
	UpdateWarning                   // WORK_WARNING
	UpdateStatus                    // WORK_STATUS: progress
)

// Update is an intermediate message from the worker running a task.
type Update struct {
	Kind      UpdateKind
	Data      []byte // UpdateData and UpdateWarning
	Numerator uint64 // UpdateStatus
	Denom     uint64 // UpdateStatus
}

// Task is a foreground job submitted by a Client.
type Task struct {
	Function string
	Unique   string

	server  *clientServer
	handle  string
	updates func(Update)
	done    chan struct{}
	result  []byte
	err     error
	ended   bool // guarded by server.mu
	created atomic.Pointer[JobHandle]
}

// Handle names the job on its job server: the zero JobHandle until the
// server's JOB_CREATED arrives (Dispatch returns before it). It is safe to
// call from any goroutine.
func (t *Task) Handle() JobHandle {
	if h := t.created.Load(); h != nil {
		return *h
	}
	return JobHandle{}
}

// Done is closed when the task has ended.
func (t *Task) Done() <-chan struct{} { return t.done }

// Result returns the task's outcome; call it after Done is closed.
// The error is a *JobException, ErrJobFailed, or wraps ErrConnectionLost
// or ErrClientClosed.
func (t *Task) Result() ([]byte, error) {
	<-t.done
	return t.result, t.err
}

// Wait waits for the task to end, or for ctx. Giving up on a task does not
// stop the job: only closing the connection that submitted it makes
// gearmand drop it before a worker takes it.
func (t *Task) Wait(ctx context.Context) ([]byte, error) {
	select {
	case <-t.done:
		return t.result, t.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// taskList holds the tasks waiting on one job handle. Several submitters of
// the same unique id on this connection share a handle, and gearmand sends
// each WORK_* packet once per submitter: each copy goes to the next task in
// turn, and each final packet ends one task.
type taskList struct {
	tasks []*Task
	next  int
}
