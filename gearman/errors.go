package gearman

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/glimpse-go/glimpse/internal/lifecycle"
)

var (
	// ErrConnectionLost is wrapped by the error of every request and task
	// that was in flight on a connection that broke. The job may or may not
	// have run; the caller decides whether to submit it again.
	ErrConnectionLost = errors.New("gearman: connection to job server lost")

	// ErrJobFailed is returned for a job that ended with WORK_FAIL: its
	// worker reported failure, or the job server gave up on it (for example
	// after gearmand's --job-retries).
	ErrJobFailed = errors.New("gearman: job failed")

	// ErrClientClosed is returned by a Client's methods after Close, and
	// for the tasks Close cut short.
	ErrClientClosed = errors.New("gearman: client closed")

	// ErrWorkerClosed is returned by Worker.Run after Shutdown or Close;
	// it wraps lifecycle.ErrClosed, like every service's "closed".
	ErrWorkerClosed = fmt.Errorf("gearman: worker %w", lifecycle.ErrClosed)
)

// JobException carries the data of a WORK_EXCEPTION packet. A client gets
// it as the error of a task whose worker raised an exception; a worker's job
// function may return one to choose the exact bytes sent (any other error
// is sent as its Error() text).
type JobException struct {
	Function string // set by the client; empty on the worker side
	Handle   string
	Data     []byte
}

func (e *JobException) Error() string {
	if e.Function == "" {
		return "gearman: work exception: " + string(e.Data)
	}
	return fmt.Sprintf("gearman: %s job %s raised: %s", e.Function, e.Handle, e.Data)
}

// ServerError is an ERROR packet from a job server, in answer to a request.
type ServerError struct {
	Server  string
	Request PacketType
	Code    string
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("gearman: %s refused %s: %s: %s", e.Server, e.Request, e.Code, e.Message)
}

// DefaultRequestTimeout bounds how long a job server may take to answer a
// request (see WithRequestTimeout).
const DefaultRequestTimeout = 10 * time.Second

// TimeoutError says that a job server accepted a request but did not
// answer it within the request timeout: it is hung, overloaded, or not a
// Gearman job server. It matches os.ErrDeadlineExceeded with errors.Is.
type TimeoutError struct {
	Server  string        // "host:port" of the job server (or servers)
	Waiting string        // what never came, such as "JOB_CREATED for SUBMIT_JOB f"
	After   time.Duration // the request timeout
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("gearman: %s: no %s within %v", e.Server, e.Waiting, e.After)
}

// Unwrap makes errors.Is(err, os.ErrDeadlineExceeded) hold.
func (e *TimeoutError) Unwrap() error { return os.ErrDeadlineExceeded }

// Timeout reports true, as net.Error's Timeout does.
func (e *TimeoutError) Timeout() bool { return true }

// PanicError is a panic recovered from a job function. The Worker sends
// its Error text with WORK_EXCEPTION ("panic: VALUE", a blank line, then
// the stack), so the client sees it as a *JobException whose Data is that
// text.
type PanicError struct {
	Value any    // what the job function panicked with
	Stack []byte // the job goroutine's stack where it panicked
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack) }
