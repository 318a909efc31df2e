package gearman

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// JobHandle names a job on the job server that holds it.
type JobHandle struct {
	Server string // "host:port" of the job server
	Handle string // the server's job handle
}

// JobStatus is the answer to GET_STATUS.
type JobStatus struct {
	Known     bool // the server knows the job (queued or running)
	Running   bool
	Numerator uint64 // progress last reported by WORK_STATUS
	Denom     uint64
}

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

// SubmitOption configures one submission.
type SubmitOption func(*submitOptions)

type submitOptions struct {
	unique   string
	priority Priority
	updates  func(Update)
	runAt    time.Time
}

// WithUnique sets the job's unique id (at most MaxUniqueSize bytes). The
// job server coalesces foreground jobs with the same function and unique
// id: one job runs and every submitter gets its result.
func WithUnique(id string) SubmitOption { return func(o *submitOptions) { o.unique = id } }

// WithPriority sets the job's priority (default PriorityNormal).
func WithPriority(p Priority) SubmitOption { return func(o *submitOptions) { o.priority = p } }

// WithUpdates calls fn, in order, for every WORK_DATA, WORK_WARNING and
// WORK_STATUS of the task. fn runs on the connection's reader goroutine:
// it must return quickly and must not wait for other tasks.
func WithUpdates(fn func(Update)) SubmitOption { return func(o *submitOptions) { o.updates = fn } }

// WithRunAt schedules a background job to run no earlier than t
// (SUBMIT_JOB_EPOCH). Foreground submissions reject it.
func WithRunAt(t time.Time) SubmitOption { return func(o *submitOptions) { o.runAt = t } }

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
}

// Handle names the job on its job server.
func (t *Task) Handle() JobHandle { return JobHandle{Server: t.server.addr, Handle: t.handle} }

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

// Client submits jobs to one or more job servers. It keeps one connection
// to each, pipelines every request on it, and reconnects with backoff when
// a connection breaks. It is safe for concurrent use.
//
// A job with a unique id always goes to the same live server (a hash of the
// id picks it), so that submitters of the same id meet on one server and
// are coalesced there; other jobs go round-robin. When the chosen server is
// down the next live one is used.
type Client struct {
	opts    options
	servers []*clientServer
	next    atomic.Uint32

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a server connects

	tried chan *clientServer // each server once, after its first attempt
}

// NewClient connects to the job servers at addrs ("host[:port]"). It
// returns once one of them has answered the connection's handshake, or an
// error if none can be reached or answers within the dial and request
// timeouts; servers that are down are retried in the background.
func NewClient(ctx context.Context, addrs []string, opts ...Option) (*Client, error) {
	addrs, err := normalizeAddrs(addrs)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: buildOptions(opts), changed: make(chan struct{}), tried: make(chan *clientServer, len(addrs))}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, a := range addrs {
		s := &clientServer{c: c, addr: a, tasks: map[string]*taskList{}}
		c.servers = append(c.servers, s)
		c.wg.Add(1)
		go s.run()
	}
	var errs []error
	for range c.servers {
		var s *clientServer
		select {
		case s = <-c.tried:
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
		s.mu.Lock()
		up, dialErr := s.ready, s.dialErr
		s.mu.Unlock()
		if up {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.addr, dialErr))
	}
	c.Close()
	return nil, fmt.Errorf("gearman: no job server reachable: %w", errors.Join(errs...))
}

// Close fails every task in flight with ErrClientClosed, closes the
// connections and waits for the client's goroutines to end. A foreground
// job still queued at a job server is dropped there when a worker asks
// for it.
func (c *Client) Close() error {
	c.cancel()
	for _, s := range c.servers {
		s.mu.Lock()
		cn := s.cn
		s.mu.Unlock()
		if cn != nil {
			cn.close(ErrClientClosed)
		}
	}
	c.wg.Wait()
	return nil
}

// Call submits a foreground job and waits for its result. The job server's
// acknowledgement is bounded by the request timeout (WithRequestTimeout);
// the result is not, as a job may run for hours: ctx bounds it.
func (c *Client) Call(ctx context.Context, function string, data []byte, opts ...SubmitOption) ([]byte, error) {
	t, r, args, err := c.newTask(function, data, opts)
	if err != nil {
		return nil, err
	}
	// No need to wait for JOB_CREATED on its own: an ERROR answer or a
	// lost connection ends the task too.
	if err := c.dispatch(ctx, t.Unique, r, args...); err != nil {
		return nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	return t.Wait(ctx)
}

// Submit submits a foreground job and returns once the job server has
// created it. The task's result comes later, through Wait or Done/Result.
func (c *Client) Submit(ctx context.Context, function string, data []byte, opts ...SubmitOption) (*Task, error) {
	t, r, args, err := c.newTask(function, data, opts)
	if err != nil {
		return nil, err
	}
	r.reply = make(chan reply, 1)
	if err := c.dispatch(ctx, t.Unique, r, args...); err != nil {
		return nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	if _, err := r.wait(ctx); err != nil {
		return nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	return t, nil
}

// Dispatch sends a foreground job and returns without waiting for the job
// server to create it. Requests on one connection are pipelined in order,
// so jobs dispatched one after another from one goroutine reach their
// server in that order, at the cost of no round trip each. The task ends
// like any other (an ERROR answer or a lost connection ends it too); its
// Handle is known only once the server has created it.
func (c *Client) Dispatch(ctx context.Context, function string, data []byte, opts ...SubmitOption) (*Task, error) {
	t, r, args, err := c.newTask(function, data, opts)
	if err != nil {
		return nil, err
	}
	if err := c.dispatch(ctx, t.Unique, r, args...); err != nil {
		return nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	return t, nil
}

func (c *Client) newTask(function string, data []byte, opts []SubmitOption) (*Task, *request, [][]byte, error) {
	o := submitOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkSubmit(function, o); err != nil {
		return nil, nil, nil, err
	}
	if !o.runAt.IsZero() {
		return nil, nil, nil, fmt.Errorf("gearman: submit %s: WithRunAt needs a background job", function)
	}
	t := &Task{Function: function, Unique: o.unique, updates: o.updates, done: make(chan struct{})}
	pt := [...]PacketType{PriorityNormal: SubmitJob, PriorityHigh: SubmitJobHigh, PriorityLow: SubmitJobLow}[o.priority]
	args := [][]byte{[]byte(function), []byte(o.unique), data}
	if err := c.checkSize(pt, args); err != nil {
		return nil, nil, nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	r := &request{expect: JobCreated, sent: pt, about: function, task: t}
	return t, r, args, nil
}

// checkSize refuses a packet over the client's packet size limit before it
// is sent, so that the caller learns at once and the connection, with the
// other jobs on it, is not involved: workers with the same limit could not
// read the job, and one over gearmand's would cost the connection.
func (c *Client) checkSize(t PacketType, args [][]byte) error {
	size := len(args) - 1
	for _, a := range args {
		size += len(a)
	}
	if size > c.opts.maxPacket {
		return &PacketTooLargeError{Type: t, Size: uint64(size), Max: uint64(c.opts.maxPacket)}
	}
	return nil
}

// SubmitBackground submits a background job: the job server answers as soon
// as it has queued it, and nobody waits for the result.
func (c *Client) SubmitBackground(ctx context.Context, function string, data []byte, opts ...SubmitOption) (JobHandle, error) {
	o := submitOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkSubmit(function, o); err != nil {
		return JobHandle{}, err
	}
	pt := [...]PacketType{PriorityNormal: SubmitJobBg, PriorityHigh: SubmitJobHighBg, PriorityLow: SubmitJobLowBg}[o.priority]
	args := [][]byte{[]byte(function), []byte(o.unique), data}
	if !o.runAt.IsZero() {
		if o.priority != PriorityNormal {
			return JobHandle{}, fmt.Errorf("gearman: submit %s: WithRunAt cannot be combined with %s priority", function, o.priority)
		}
		pt = SubmitJobEpoch
		epoch := strconv.FormatInt(o.runAt.Unix(), 10)
		args = [][]byte{[]byte(function), []byte(o.unique), []byte(epoch), data}
	}
	if err := c.checkSize(pt, args); err != nil {
		return JobHandle{}, fmt.Errorf("gearman: submit background %s: %w", function, err)
	}
	p, err := c.request(ctx, o.unique, &request{expect: JobCreated, sent: pt, about: function}, args...)
	if err != nil {
		return JobHandle{}, fmt.Errorf("gearman: submit background %s: %w", function, err)
	}
	return JobHandle{Server: p.server, Handle: p.pkt.Arg(0)}, nil
}

func checkSubmit(function string, o submitOptions) error {
	if err := checkFunction(function); err != nil {
		return err
	}
	if err := checkUnique(o.unique); err != nil {
		return fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	if o.priority < PriorityNormal || o.priority > PriorityLow {
		return fmt.Errorf("gearman: submit %s: unknown priority %d", function, int(o.priority))
	}
	return nil
}

// Status asks the job server that holds a job how it is doing.
func (c *Client) Status(ctx context.Context, h JobHandle) (JobStatus, error) {
	var s *clientServer
	for _, cs := range c.servers {
		if cs.addr == h.Server {
			s = cs
		}
	}
	if s == nil {
		return JobStatus{}, fmt.Errorf("gearman: status of %s: %s is not one of this client's servers", h.Handle, h.Server)
	}
	r := &request{expect: StatusRes, sent: GetStatus, about: h.Handle, reply: make(chan reply, 1)}
	err := s.send(r, []byte(h.Handle))
	if errors.Is(err, errNotConnected) {
		err = fmt.Errorf("%s is not connected", h.Server)
	}
	var rep reply
	if err == nil {
		rep, err = r.wait(ctx)
	}
	if err != nil {
		return JobStatus{}, fmt.Errorf("gearman: status of %s: %w", h.Handle, err)
	}
	p := rep.pkt
	num, _ := strconv.ParseUint(p.Arg(3), 10, 64)
	den, _ := strconv.ParseUint(p.Arg(4), 10, 64)
	return JobStatus{Known: p.Arg(1) == "1", Running: p.Arg(2) == "1", Numerator: num, Denom: den}, nil
}

// Echo sends data to a job server and returns what it sent back: a
// round-trip check of the connection.
func (c *Client) Echo(ctx context.Context, data []byte) ([]byte, error) {
	r, err := c.request(ctx, "", &request{expect: EchoRes, sent: EchoReq}, data)
	if err != nil {
		return nil, fmt.Errorf("gearman: echo: %w", err)
	}
	return r.pkt.Args[0], nil
}

// Servers returns the client's job server addresses and whether each is
// connected now.
func (c *Client) Servers() map[string]bool {
	m := make(map[string]bool, len(c.servers))
	for _, s := range c.servers {
		s.mu.Lock()
		m[s.addr] = s.cn != nil && s.ready
		s.mu.Unlock()
	}
	return m
}

// request sends a packet to the server picked for key and waits for the
// answer.
func (c *Client) request(ctx context.Context, key string, r *request, args ...[]byte) (reply, error) {
	r.reply = make(chan reply, 1)
	if err := c.dispatch(ctx, key, r, args...); err != nil {
		return reply{}, err
	}
	return r.wait(ctx)
}

// dispatch sends r to the server picked for key. While no server is
// connected it waits for one, up to ctx and the request timeout.
func (c *Client) dispatch(ctx context.Context, key string, r *request, args ...[]byte) error {
	var timeout <-chan time.Time // started by the first wait
	for {
		if c.ctx.Err() != nil {
			return ErrClientClosed
		}
		s, wait := c.pick(key)
		if s == nil {
			if timeout == nil {
				t := time.NewTimer(c.opts.requestTimeout)
				defer t.Stop()
				timeout = t.C
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return fmt.Errorf("no job server connected: %w", ctx.Err())
			case <-c.ctx.Done():
				return ErrClientClosed
			case <-timeout:
				return c.noServerError()
			}
		}
		err := s.send(r, args...)
		if errors.Is(err, errNotConnected) {
			continue // lost the race with a disconnect; pick again
		}
		return err
	}
}

var errNotConnected = errors.New("not connected")

// noServerError says that no server was connected for a whole request
// timeout, and why each was not.
func (c *Client) noServerError() error {
	addrs := make([]string, len(c.servers))
	var why []error
	for i, s := range c.servers {
		addrs[i] = s.addr
		s.mu.Lock()
		if s.dialErr != nil {
			why = append(why, fmt.Errorf("%s: %w", s.addr, s.dialErr))
		}
		s.mu.Unlock()
	}
	te := &TimeoutError{Server: strings.Join(addrs, ","), Waiting: "connected job server", After: c.opts.requestTimeout}
	if len(why) == 0 {
		return te
	}
	return fmt.Errorf("%w: %w", te, errors.Join(why...))
}

// pick returns a connected server for key, or nil and a channel that is
// closed when a server connects.
func (c *Client) pick(key string) (*clientServer, <-chan struct{}) {
	n := len(c.servers)
	var start int
	if key != "" {
		h := fnv.New32a()
		h.Write([]byte(key))
		start = int(h.Sum32() % uint32(n))
	} else if n > 1 {
		start = int(c.next.Add(1) % uint32(n))
	}
	c.mu.Lock()
	wait := c.changed
	c.mu.Unlock()
	for i := range n {
		s := c.servers[(start+i)%n]
		s.mu.Lock()
		// A conn whose reader saw it die is skipped before detach has
		// run, so a job goes to a live server without waiting; one whose
		// handshake is unanswered is skipped too, as its server may be
		// hung or no Gearman server at all.
		up := s.cn != nil && s.ready && s.cn.alive()
		s.mu.Unlock()
		if up {
			return s, nil
		}
	}
	return nil, wait
}

func (c *Client) announce() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// request is one packet that the job server answers in order: a submit
// (JOB_CREATED), GET_STATUS (STATUS_RES), ECHO_REQ (ECHO_RES) or OPTION_REQ
// (OPTION_RES); any of them may instead get ERROR.
type request struct {
	expect PacketType
	sent   PacketType
	about  string    // function name, job handle or option, for errors
	at     time.Time // when it was queued
	task   *Task     // foreground submits only
	reply  chan reply
}

// waiting says what the request waits for, as a *TimeoutError puts it.
func (r *request) waiting() string {
	if r.about == "" {
		return fmt.Sprintf("%s for %s", r.expect, r.sent)
	}
	return fmt.Sprintf("%s for %s %s", r.expect, r.sent, r.about)
}

func (r *request) wait(ctx context.Context) (reply, error) {
	select {
	case rep := <-r.reply:
		return rep, rep.err
	case <-ctx.Done():
		// The answer still comes and keeps the order; nobody reads it.
		return reply{}, ctx.Err()
	}
}

// answer hands the job server's answer to whoever waits for it.
func (r *request) answer(rep reply) {
	if r.reply != nil {
		r.reply <- rep
	}
}

type reply struct {
	server string
	pkt    *Packet
	err    error
}

// taskList holds the tasks waiting on one job handle. Several submitters of
// the same unique id on this connection share a handle, and gearmand sends
// each WORK_* packet once per submitter: each copy goes to the next task in
// turn, and each final packet ends one task.
type taskList struct {
	tasks []*Task
	next  int
}

// clientServer is a Client's link to one job server.
type clientServer struct {
	c    *Client
	addr string

	mu      sync.Mutex
	cn      *conn      // nil while disconnected
	ready   bool       // cn answered its handshake (OPTION_REQ)
	pending []*request // sent, waiting for their answer, in order
	tasks   map[string]*taskList
	dialErr error       // why the last connection failed; nil once one is ready
	watch   *time.Timer // fires when the oldest pending request may be overdue
	watched bool        // watch is armed
	tried   bool        // reported to NewClient
}

func (s *clientServer) send(r *request, args ...[]byte) error {
	s.mu.Lock()
	cn := s.cn
	if cn == nil || !s.ready {
		s.mu.Unlock()
		return errNotConnected
	}
	// Queue under s.mu so that answers match the order of s.pending; write
	// outside it so the reader is not held up by our system call.
	own, err := cn.enqueue(r.sent, args...)
	if err == nil {
		s.pushLocked(r)
	} else if !cn.alive() {
		err = errNotConnected // nothing was sent: another server may take it
	}
	s.mu.Unlock()
	if own {
		cn.flush()
	}
	return err
}

// pushLocked records a request sent on s.cn and makes sure the watchdog
// will look at it.
func (s *clientServer) pushLocked(r *request) {
	r.at = time.Now()
	s.pending = append(s.pending, r)
	if !s.watched {
		s.watched = true
		s.watch.Reset(s.c.opts.requestTimeout)
	}
}

// overdue runs when the oldest request on cn may have waited a whole
// request timeout. If it has, the server is hung or no Gearman server:
// replies come in order, so none will come for the requests after it
// either, and the connection goes, failing them all.
func (s *clientServer) overdue(cn *conn) {
	timeout := s.c.opts.requestTimeout
	s.mu.Lock()
	if s.cn != cn { // the timer of a connection that is gone
		s.mu.Unlock()
		return
	}
	if len(s.pending) == 0 {
		s.watched = false
		s.mu.Unlock()
		return
	}
	head := s.pending[0]
	if waited := time.Since(head.at); waited < timeout {
		s.watch.Reset(timeout - waited)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	cn.close(&TimeoutError{Server: s.addr, Waiting: head.waiting(), After: timeout})
}

func (s *clientServer) run() {
	defer s.c.wg.Done()
	o := &s.c.opts
	for attempt := 0; ; attempt++ {
		cn, err := dialConn(s.c.ctx, s.addr, o.dialTimeout, o.maxPacket)
		if err == nil {
			s.attach(cn)
			sane := s.readLoop(cn)
			s.detach(cn, attempt)
			if redialAtOnce(cn, sane) {
				attempt = -1
			}
		} else {
			s.mu.Lock()
			s.dialErr = err
			s.markTriedLocked()
			s.mu.Unlock()
			logDialFailure(o.logger, attempt, "server", s.addr, "err", err)
		}
		wait := backoff(max(attempt, 0), o.backoffMin, o.backoffMax)
		select {
		case <-s.c.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// markTriedLocked tells NewClient, once, that the first connection
// attempt has ended: ready, or failed with s.dialErr.
func (s *clientServer) markTriedLocked() {
	if !s.tried {
		s.tried = true
		s.c.tried <- s
	}
}

// attach starts cn's handshake: requests go on cn once the server has
// answered OPTION_REQ (see ready), so that one that never answers holds up
// nothing but its handshake.
func (s *clientServer) attach(cn *conn) {
	s.mu.Lock()
	s.cn = cn
	s.ready = false
	s.watch = time.AfterFunc(time.Hour, func() { s.overdue(cn) }) // pushLocked arms it
	s.watched = false
	// Without this option gearmand turns WORK_EXCEPTION into WORK_FAIL.
	cn.sendAsync(OptionReq, []byte("exceptions"))
	s.pushLocked(&request{expect: OptionRes, sent: OptionReq, about: "exceptions"})
	if id := s.c.opts.clientID; id != "" {
		cn.sendAsync(SetClientID, []byte(id))
	}
	s.mu.Unlock()
	if err := s.c.ctx.Err(); err != nil {
		cn.close(ErrClientClosed) // Close ran before we published cn
	}
}

// readyLocked ends the handshake: cn now takes requests.
func (s *clientServer) readyLocked() {
	s.ready = true
	s.dialErr = nil
	s.markTriedLocked()
	s.c.opts.logger.Debug("gearman: connected", "server", s.addr)
	// announce takes c.mu, which is never held while s.mu is taken.
	s.c.announce()
}

// readLoop routes cn's packets until it breaks. It reports whether the job
// server sent at least one packet that made sense.
func (s *clientServer) readLoop(cn *conn) (sane bool) {
	for {
		p, err := cn.read()
		if tooLarge, ok := err.(*PacketTooLargeError); ok && tooLarge.Skipped {
			err = s.tooLarge(tooLarge)
		} else if err != nil {
			return sane
		} else {
			err = s.handle(p)
		}
		if err != nil {
			cn.close(err) // detach logs it
			return sane
		}
		sane = true
	}
}

// detach fails everything that was in flight on cn. failures is how many
// connections in a row went wrong before this one: a server that keeps
// breaking the protocol is reported once at warning level.
func (s *clientServer) detach(cn *conn, failures int) {
	cause := cn.cause()
	err := fmt.Errorf("%w: %s: %w", ErrConnectionLost, s.addr, cause)
	var timeout *TimeoutError
	if errors.As(cause, &timeout) {
		err = fmt.Errorf("%w: %w", ErrConnectionLost, cause) // it names the server
	}
	ours := errors.Is(cause, ErrClientClosed)
	if s.c.ctx.Err() != nil {
		err = ErrClientClosed
	}
	s.mu.Lock()
	pending, tasks := s.pending, s.tasks
	s.cn, s.pending, s.tasks = nil, nil, map[string]*taskList{}
	s.watch.Stop()
	s.watched = false
	if !ours {
		s.dialErr = cause
	}
	if !s.ready {
		if !ours && !errors.As(cause, &timeout) && !errors.Is(cause, ErrProtocol) {
			// A ZeroMQ port, for one, resets the connection at our first
			// packet: say that the peer never spoke Gearman.
			s.dialErr = fmt.Errorf("connection ended before the handshake (OPTION_REQ) was answered; is it a Gearman job server? %w", cause)
		}
		s.markTriedLocked()
	}
	s.ready = false
	for _, r := range pending {
		r.answer(reply{server: s.addr, err: err})
		if r.task != nil {
			s.endLocked(r.task, nil, err)
		}
	}
	for _, l := range tasks {
		for _, t := range l.tasks {
			s.endLocked(t, nil, err)
		}
	}
	s.mu.Unlock()
	logDisconnect(s.c.opts.logger, "gearman: disconnected", s.addr, cause, ours, failures)
}

func (s *clientServer) endLocked(t *Task, result []byte, err error) {
	if t.ended {
		return
	}
	t.ended = true
	t.result, t.err = result, err
	close(t.done)
}

// handle routes one packet from the job server. An error means the stream
// no longer makes sense and the connection must go.
func (s *clientServer) handle(p *Packet) error {
	switch p.Type {
	case JobCreated, StatusRes, StatusResUnique, EchoRes, OptionRes, Error:
		return s.answer(p)
	case WorkData, WorkWarning, WorkStatus, WorkComplete, WorkFail, WorkException:
		s.work(p)
		return nil
	}
	return fmt.Errorf("%w: unexpected %s from job server", ErrProtocol, p.Type)
}

func (s *clientServer) answer(p *Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return fmt.Errorf("%w: %s answers no request", ErrProtocol, p.Type)
	}
	r := s.pending[0]
	if p.Type != Error && p.Type != r.expect {
		// r stays pending, so that detach fails it with this error.
		return fmt.Errorf("%w: got %s in answer to %s", ErrProtocol, p.Type, r.sent)
	}
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if p.Type == Error {
		err := &ServerError{Server: s.addr, Request: r.sent, Code: p.Arg(0), Message: p.Arg(1)}
		if r.task != nil {
			s.endLocked(r.task, nil, err)
		}
		if r.expect == OptionRes {
			s.c.opts.logger.Warn("gearman: option refused; exceptions will arrive as WORK_FAIL", "server", s.addr, "err", err)
			s.readyLocked()
		}
		r.answer(reply{server: s.addr, err: err})
		return nil
	}
	if r.expect == OptionRes {
		s.readyLocked()
	}
	if t := r.task; t != nil {
		t.server = s
		t.handle = p.Arg(0)
		l := s.tasks[t.handle]
		if l == nil {
			l = &taskList{}
			s.tasks[t.handle] = l
		}
		l.tasks = append(l.tasks, t)
	}
	r.answer(reply{server: s.addr, pkt: p})
	return nil
}

// tooLarge handles a job packet that was over the client's size limit and
// was skipped: a result or an exception fails its task with an error that
// says so; a piece of streamed data or a warning is dropped, and the task
// goes on.
func (s *clientServer) tooLarge(e *PacketTooLargeError) error {
	handle := string(e.Head[0])
	switch e.Type {
	case WorkComplete, WorkException:
	case WorkData, WorkWarning:
		s.c.opts.logger.Warn("gearman: dropped a job update over the packet size limit", "server", s.addr,
			"job", handle, "packet", e.Type, "bytes", e.Size, "limit", e.Max)
		return nil
	default:
		return fmt.Errorf("%w: unexpected %s from job server (%v)", ErrProtocol, e.Type, e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.takeFinalLocked(handle); t != nil {
		s.endLocked(t, nil, fmt.Errorf("%s job %s: result dropped: %w", t.Function, handle, e))
	}
	return nil
}

// takeFinalLocked returns the task that a WORK_COMPLETE, WORK_FAIL or
// WORK_EXCEPTION for handle ends, and stops tracking it; nil for a job no
// task waits for (any more).
func (s *clientServer) takeFinalLocked(handle string) *Task {
	l := s.tasks[handle]
	if l == nil || len(l.tasks) == 0 {
		return nil
	}
	t := l.tasks[0]
	l.tasks = l.tasks[1:]
	if len(l.tasks) == 0 {
		delete(s.tasks, handle)
	} else {
		l.next %= len(l.tasks)
	}
	return t
}

func (s *clientServer) work(p *Packet) {
	handle := p.Arg(0)
	s.mu.Lock()
	l := s.tasks[handle]
	if l == nil || len(l.tasks) == 0 {
		s.mu.Unlock()
		return // a task we no longer track (for example after Close)
	}
	var t *Task
	switch p.Type {
	case WorkComplete, WorkFail, WorkException:
		t = s.takeFinalLocked(handle)
		switch p.Type {
		case WorkComplete:
			s.endLocked(t, p.Args[1], nil)
		case WorkFail:
			s.endLocked(t, nil, fmt.Errorf("%s job %s: %w", t.Function, handle, ErrJobFailed))
		default:
			s.endLocked(t, nil, &JobException{Function: t.Function, Handle: handle, Data: p.Args[1]})
		}
		s.mu.Unlock()
		return
	}
	t = l.tasks[l.next%len(l.tasks)]
	l.next = (l.next + 1) % len(l.tasks)
	fn := t.updates
	s.mu.Unlock()
	if fn == nil {
		return
	}
	u := Update{Kind: UpdateData}
	switch p.Type {
	case WorkData:
		u.Data = p.Args[1]
	case WorkWarning:
		u.Kind, u.Data = UpdateWarning, p.Args[1]
	case WorkStatus:
		u.Kind = UpdateStatus
		u.Numerator, _ = strconv.ParseUint(p.Arg(1), 10, 64)
		u.Denom, _ = strconv.ParseUint(p.Arg(2), 10, 64)
	}
	fn(u)
}
