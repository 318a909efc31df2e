package gearman

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// JobFunc runs one job. The returned bytes are sent with WORK_COMPLETE; a
// returned error is sent with WORK_EXCEPTION (its text, or the Data of a
// *JobException). A panic is recovered and sent with WORK_EXCEPTION too,
// as the text of a *PanicError (its value and stack), and the worker goes
// on.
//
// ctx is cancelled when the job's deadline (WithTimeout) passes, when the
// connection the job came on breaks (the job server then gives the job to
// another worker, so the result would be lost), and by Worker.Close.
type JobFunc func(ctx context.Context, job *Job) ([]byte, error)

// Job is a job assigned to a Worker.
type Job struct {
	Function string
	Handle   string
	Unique   string
	Data     []byte

	cn     *conn
	more   [][]byte    // the result goes on with these (SetMoreResult)
	refuse error       // set for a job the worker fails without running it
	soon   *time.Timer // SendDataSoon's or SendDataIfRunning's, if the job runs that long

	mu    sync.Mutex
	ended bool // the outcome is being queued: SendDataIfRunning sends nothing more
}

// SendData sends a piece of output ahead of the result (WORK_DATA).
func (j *Job) SendData(data []byte) error {
	return j.cn.send(WorkData, []byte(j.Handle), data)
}

// SendDataSoon queues a piece of output (WORK_DATA) to go out in the same
// write as the job's result if the job ends within d, else after d: a
// notice that matters only while a job runs then costs a fast job no
// system call (nor the job server a packet to read on its own). Packets
// sent meanwhile on the connection take it along; it always goes before
// the result.
func (j *Job) SendDataSoon(data []byte, d time.Duration) error {
	if err := j.cn.enqueueLazy(WorkData, []byte(j.Handle), data); err != nil {
		return err
	}
	if j.soon == nil {
		j.soon = time.AfterFunc(d, j.cn.kick)
	}
	return nil
}

// SendDataIfRunning sends a piece of output (WORK_DATA) if the job still
// runs after d; a job that ends first never sends it. For a notice that
// matters only while a job runs, such as "this worker took the job": a
// fast job then costs neither a packet of its own nor the job server one
// to relay.
func (j *Job) SendDataIfRunning(data []byte, d time.Duration) {
	if j.soon != nil {
		return // one delayed piece per job
	}
	j.soon = time.AfterFunc(d, func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		if !j.ended {
			j.cn.send(WorkData, []byte(j.Handle), data)
		}
	})
}

// end stops the delayed sends before the job's outcome is queued: one in
// progress finishes first, so that it goes before the outcome.
func (j *Job) end() {
	if j.soon == nil {
		return
	}
	j.soon.Stop()
	j.mu.Lock()
	j.ended = true
	j.mu.Unlock()
}

// SetMoreResult makes the job's result, if its JobFunc returns no error,
// the returned bytes followed by the bytes of more, in order. They are
// written from where they are, in the same system call as the rest of the
// WORK_COMPLETE packet (writev), not copied: a function whose result holds
// large values (parts of the job's Data, say) sends it without assembling
// it. Nothing may change them until the job's result is written, which is
// after the JobFunc returns. A second call replaces the first.
func (j *Job) SetMoreResult(more ...[]byte) { j.more = more }

// SendWarning sends a warning to the client (WORK_WARNING).
func (j *Job) SendWarning(data []byte) error {
	return j.cn.send(WorkWarning, []byte(j.Handle), data)
}

// SendStatus reports progress: numerator out of denominator (WORK_STATUS).
func (j *Job) SendStatus(numerator, denominator uint64) error {
	return j.cn.send(WorkStatus, []byte(j.Handle),
		strconv.AppendUint(nil, numerator, 10), strconv.AppendUint(nil, denominator, 10))
}

// RegisterOption configures one registered function.
type RegisterOption func(*registration)

// WithTimeout gives each job of the function a deadline. The job server is
// told too (CAN_DO_TIMEOUT, in whole seconds of milliseconds, at least one
// second, which is gearmand's minimum), so a job whose worker hangs is
// failed there as well. Default: no deadline.
func WithTimeout(d time.Duration) RegisterOption {
	return func(r *registration) { r.timeout = d }
}

type registration struct {
	fn      JobFunc
	timeout time.Duration
}

func (r *registration) canDo(conn *conn, name string) error {
	if r.timeout <= 0 {
		return conn.sendAsync(CanDo, []byte(name))
	}
	ms := max((r.timeout+time.Millisecond-1)/time.Millisecond, 1000)
	return conn.sendAsync(CanDoTimeout, []byte(name), strconv.AppendInt(nil, int64(ms), 10))
}

// runJob calls the job's function with its deadline, turning a panic into
// a *PanicError.
func runJob(ctx context.Context, r *registration, job *Job) (result []byte, err error) {
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.timeout,
			fmt.Errorf("gearman: %s job %s ran over its %v timeout", job.Function, job.Handle, r.timeout))
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			result, err = nil, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	result, err = r.fn(ctx, job)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return result, err
}
