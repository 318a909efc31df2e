package gearman

import (
	"fmt"
	"strconv"
	"time"
)

// Priority is the queue a job is submitted to.
type Priority int

// Job priorities; a worker takes high before normal before low.
const (
	PriorityNormal Priority = iota
	PriorityHigh
	PriorityLow
)

func (p Priority) String() string {
	switch p {
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityLow:
		return "low"
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// SubmitOption configures one submission.
type SubmitOption func(*submitOptions)

type submitOptions struct {
	unique   string
	priority Priority
	updates  func(Update)
	runAt    time.Time
	deferred bool
	more     [][]byte
}

// WithUnique sets the job's unique id (at most MaxUniqueSize bytes). The
// job server coalesces foreground jobs with the same function and unique
// id: one job runs and every submitter gets its result. Default: none, and
// the job server gives the job a random UUID, so it coalesces with no other.
func WithUnique(id string) SubmitOption { return func(o *submitOptions) { o.unique = id } }

// WithPriority sets the job's priority (default PriorityNormal).
func WithPriority(p Priority) SubmitOption { return func(o *submitOptions) { o.priority = p } }

// WithUpdates calls fn, in order, for every WORK_DATA, WORK_WARNING and
// WORK_STATUS of the task. fn runs on the connection's reader goroutine:
// it must return quickly and must not wait for other tasks. Default: the
// updates are dropped. Background jobs have none.
func WithUpdates(fn func(Update)) SubmitOption { return func(o *submitOptions) { o.updates = fn } }

// WithDeferredWrite makes Dispatch queue its submission without writing it:
// it leaves with the next write on its connection (another submission's,
// say), or at Client.Flush. A caller that submits several jobs in a row
// sends them in one system call, and the job server reads them in one;
// it must call Flush before it waits for any of them. Submit, Call and
// SubmitBackground, which wait for the job server's answer, ignore it.
func WithDeferredWrite() SubmitOption { return func(o *submitOptions) { o.deferred = true } }

// WithMoreData makes the job's data the data argument followed by the
// bytes of more, in order. They are written from where they are, in the
// same system call as the rest of the packet (writev), not copied: a
// caller that encodes a large job as a small header and the large values
// it holds sends it without assembling it. The caller must not change
// them until the task has ended.
func WithMoreData(more ...[]byte) SubmitOption { return func(o *submitOptions) { o.more = more } }

// WithRunAt schedules a background job to run no earlier than t
// (SUBMIT_JOB_EPOCH). Default: at once. Foreground submissions reject it,
// as does a priority other than PriorityNormal.
func WithRunAt(t time.Time) SubmitOption { return func(o *submitOptions) { o.runAt = t } }

// submitPackets is the packet that submits a job, by priority: ONE table
// for foreground and background jobs.
var submitPackets = [...]struct{ foreground, background PacketType }{
	PriorityNormal: {SubmitJob, SubmitJobBg},
	PriorityHigh:   {SubmitJobHigh, SubmitJobHighBg},
	PriorityLow:    {SubmitJobLow, SubmitJobLowBg},
}

// submission is a job ready to go: its request, the packet's arguments,
// the key that picks its server, and for a foreground job the task that
// waits for its result.
type submission struct {
	req  *request
	args [][]byte
	key  string // the unique id: see Client on how it picks the server
	task *Task  // nil for a background job
	// deferred: WithDeferredWrite, which only Dispatch honours (the
	// others wait for the job server's answer, so they write at once).
	deferred bool
}

// newSubmission checks a submission and builds its packet.
func (c *Client) newSubmission(function string, data []byte, opts []SubmitOption, background bool) (submission, error) {
	o := submitOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkSubmit(function, o, background); err != nil {
		return submission{}, err
	}
	what, pt := "submit", submitPackets[o.priority].foreground
	args := [][]byte{[]byte(function), []byte(o.unique), data}
	if background {
		what, pt = "submit background", submitPackets[o.priority].background
		if !o.runAt.IsZero() {
			pt = SubmitJobEpoch
			epoch := strconv.FormatInt(o.runAt.Unix(), 10)
			args = [][]byte{[]byte(function), []byte(o.unique), []byte(epoch), data}
		}
	}
	if err := c.checkSize(pt, args, o.more); err != nil {
		return submission{}, fmt.Errorf("gearman: %s %s: %w", what, function, err)
	}
	s := submission{req: &request{expect: JobCreated, sent: pt, about: function, more: o.more}, args: args, key: o.unique, deferred: o.deferred}
	if !background {
		s.task = &Task{Function: function, Unique: o.unique, updates: o.updates, done: make(chan struct{})}
		s.req.task = s.task
	}
	return s, nil
}

// checkSubmit checks what a submission names before anything is built.
func checkSubmit(function string, o submitOptions, background bool) error {
	if err := checkFunction(function); err != nil {
		return err
	}
	if err := checkUnique(o.unique); err != nil {
		return fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	if o.priority < PriorityNormal || o.priority > PriorityLow {
		return fmt.Errorf("gearman: submit %s: unknown priority %d", function, int(o.priority))
	}
	switch {
	case o.runAt.IsZero():
	case !background:
		return fmt.Errorf("gearman: submit %s: WithRunAt needs a background job", function)
	case o.priority != PriorityNormal:
		return fmt.Errorf("gearman: submit %s: WithRunAt cannot be combined with %s priority", function, o.priority)
	}
	return nil
}

// checkSize refuses a packet over the client's packet size limit before it
// is sent, so that the caller learns at once and the connection, with the
// other jobs on it, is not involved: workers with the same limit could not
// read the job, and one over gearmand's would cost the connection.
func (c *Client) checkSize(t PacketType, args, more [][]byte) error {
	size := len(args) - 1 + totalLen(more)
	for _, a := range args {
		size += len(a)
	}
	if size > c.opts.maxPacket {
		return &PacketTooLargeError{Type: t, Size: uint64(size), Max: uint64(c.opts.maxPacket)}
	}
	return nil
}
