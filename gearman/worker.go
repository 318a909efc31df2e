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
// with its stack, and the worker goes on.
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
	refuse error // set for a job the worker fails without running it
}

// SendData sends a piece of output ahead of the result (WORK_DATA).
func (j *Job) SendData(data []byte) error {
	return j.cn.send(WorkData, []byte(j.Handle), data)
}

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
// failed there as well.
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

type workerState int

const (
	workerNew workerState = iota
	workerRunning
	workerDraining
	workerClosed
)

// Worker serves registered functions to one or more job servers. It runs
// up to WithConcurrency jobs at once over all of them: each free slot asks
// a server for a job (GRAB_JOB_UNIQ), several asks in flight on one
// connection, and a finished job's result and the next ask leave in one
// write. A server with no work is slept on (PRE_SLEEP) until it wakes the
// worker with NOOP, so an idle worker sends nothing.
type Worker struct {
	opts  options
	addrs []string

	mu    sync.Mutex
	funcs map[string]*registration
	conns []*workerConn
	state workerState

	slots    chan struct{} // one token per free slot
	stopGrab chan struct{} // closed by Shutdown and Close
	stopped  chan struct{} // closed when Run must return
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // connection and grabber goroutines
}

// NewWorker returns a worker for the job servers at addrs. Register
// functions, then call Run.
func NewWorker(addrs []string, opts ...Option) (*Worker, error) {
	addrs, err := normalizeAddrs(addrs)
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	if o.concurrency < 1 {
		return nil, fmt.Errorf("gearman: worker concurrency %d is not positive", o.concurrency)
	}
	w := &Worker{
		opts:     o,
		addrs:    addrs,
		funcs:    map[string]*registration{},
		slots:    make(chan struct{}, o.concurrency),
		stopGrab: make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	for range o.concurrency {
		w.slots <- struct{}{}
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w, nil
}

// Register serves function with fn, on every connection, from now on.
func (w *Worker) Register(function string, fn JobFunc, opts ...RegisterOption) error {
	if err := checkFunction(function); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("gearman: register %s: nil JobFunc", function)
	}
	r := &registration{fn: fn}
	for _, opt := range opts {
		opt(r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.funcs[function]; dup {
		return fmt.Errorf("gearman: register %s: already registered", function)
	}
	w.funcs[function] = r
	for _, wc := range w.conns {
		wc.mu.Lock()
		if wc.cn != nil {
			r.canDo(wc.cn, function)
		}
		wc.mu.Unlock()
	}
	return nil
}

// Unregister stops serving function (CANT_DO). Jobs of it already running
// finish.
func (w *Worker) Unregister(function string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.funcs[function]; !ok {
		return fmt.Errorf("gearman: unregister %s: not registered", function)
	}
	delete(w.funcs, function)
	for _, wc := range w.conns {
		wc.mu.Lock()
		if wc.cn != nil {
			wc.cn.sendAsync(CantDo, []byte(function))
		}
		wc.mu.Unlock()
	}
	return nil
}

// Run connects to the job servers and serves jobs until Shutdown or Close,
// then returns ErrWorkerClosed. Servers that are down or go away are
// redialled with backoff.
func (w *Worker) Run() error {
	w.mu.Lock()
	switch w.state {
	case workerRunning:
		w.mu.Unlock()
		return fmt.Errorf("gearman: worker is already running")
	case workerDraining, workerClosed:
		w.mu.Unlock()
		return ErrWorkerClosed
	}
	w.state = workerRunning
	for _, a := range w.addrs {
		wc := &workerConn{w: w, addr: a, wake: make(chan struct{}, 1)}
		w.conns = append(w.conns, wc)
		w.wg.Add(2)
		go wc.run()
		go wc.grab()
	}
	w.mu.Unlock()
	<-w.stopped
	return ErrWorkerClosed
}

// Shutdown stops taking jobs, waits for the running ones to finish and
// their results to be sent, then disconnects. If ctx ends first it calls
// Close and returns ctx's error.
func (w *Worker) Shutdown(ctx context.Context) error {
	if !w.stop(workerDraining) {
		return nil
	}
	// Every slot back in hand means no job is running and no GRAB_JOB is
	// waiting for its answer.
	for range w.opts.concurrency {
		select {
		case <-w.slots:
		case <-ctx.Done():
			w.Close()
			return ctx.Err()
		}
	}
	w.disconnect(true)
	return nil
}

// Close disconnects at once and cancels the context of running jobs; it
// does not wait for job functions to return. Jobs that were running are
// given to other workers by the job server.
func (w *Worker) Close() error {
	w.stop(workerClosed)
	w.disconnect(false)
	return nil
}

// disconnect ends the worker: it cancels the jobs' context and the
// redialling, closes every connection (flushing queued results first if
// flush) and waits for the worker's own goroutines.
func (w *Worker) disconnect(flush bool) {
	w.mu.Lock()
	w.state = workerClosed
	conns := w.conns
	w.mu.Unlock()
	// Connections first, contexts after: a job that returns as soon as its
	// context is cancelled must not get its error to the job server, which
	// would end the job instead of giving it to another worker.
	for _, wc := range conns {
		wc.mu.Lock()
		cn := wc.cn
		wc.mu.Unlock()
		switch {
		case cn == nil:
		case flush:
			cn.flushClose(time.Second)
		default:
			cn.close(ErrWorkerClosed)
		}
	}
	w.cancel() // stops the redialling too, which wg waits for
	w.wg.Wait()
}

// stop moves a running or new worker to state; false if it was already
// stopping.
func (w *Worker) stop(state workerState) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state >= workerDraining {
		return false
	}
	w.state = state
	close(w.stopGrab)
	close(w.stopped)
	return true
}

func (w *Worker) stopping() bool {
	select {
	case <-w.stopGrab:
		return true
	default:
		return false
	}
}

type sleepState int

const (
	awake    sleepState = iota // asking for jobs
	draining                   // got NO_JOB; waiting for the other asks to come back
	asleep                     // sent PRE_SLEEP; waiting for NOOP
)

// workerConn is a Worker's link to one job server.
type workerConn struct {
	w    *Worker
	addr string

	mu      sync.Mutex
	cn      *conn // nil while disconnected
	ctx     context.Context
	pending int // GRAB_JOB_UNIQ sent and not yet answered
	sleep   sleepState

	wake chan struct{} // buffered(1): the grabber should look again
}

func (wc *workerConn) signal() {
	select {
	case wc.wake <- struct{}{}:
	default:
	}
}

// grab turns free slots into GRAB_JOB_UNIQ requests while the server is
// awake.
func (wc *workerConn) grab() {
	defer wc.w.wg.Done()
	w := wc.w
	for {
		wc.mu.Lock()
		ready := wc.cn != nil && wc.sleep == awake
		wc.mu.Unlock()
		if !ready {
			select {
			case <-wc.wake:
				continue
			case <-w.stopGrab:
				return
			}
		}
		select {
		case <-w.slots:
		case <-w.stopGrab:
			return
		case <-wc.wake:
			continue // state changed while we waited for a slot
		}
		cn, own, ok := wc.ask()
		if !ok {
			w.slots <- struct{}{}
		}
		if own {
			cn.flush()
		}
	}
}

// ask queues one GRAB_JOB_UNIQ for a slot the caller holds, if the server
// is awake. If it returns own, the caller must flush cn.
func (wc *workerConn) ask() (cn *conn, own, ok bool) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.cn == nil || wc.sleep != awake || wc.w.stopping() {
		return nil, false, false
	}
	own, err := wc.cn.enqueue(GrabJobUniq)
	if err != nil {
		return nil, false, false
	}
	wc.pending++
	return wc.cn, own, true
}

func (wc *workerConn) run() {
	defer wc.w.wg.Done()
	w := wc.w
	o := &w.opts
	for attempt := 0; ; attempt++ {
		cn, err := dialConn(w.ctx, wc.addr, o.dialTimeout, o.maxPacket)
		if err == nil {
			cancel := wc.attach(cn)
			sane := wc.readLoop(cn)
			cancel()
			wc.detach(cn, attempt)
			if redialAtOnce(cn, sane) {
				attempt = -1
			}
		} else {
			logDialFailure(o.logger, attempt, "server", wc.addr, "err", err)
		}
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(backoff(max(attempt, 0), o.backoffMin, o.backoffMax)):
		}
	}
}

func (wc *workerConn) attach(cn *conn) context.CancelFunc {
	w := wc.w
	ctx, cancel := context.WithCancel(w.ctx)
	w.mu.Lock()
	wc.mu.Lock()
	wc.cn, wc.ctx, wc.pending, wc.sleep = cn, ctx, 0, awake
	if id := w.opts.clientID; id != "" {
		cn.sendAsync(SetClientID, []byte(id))
	}
	for name, r := range w.funcs {
		r.canDo(cn, name)
	}
	wc.mu.Unlock()
	closed := w.state == workerClosed
	w.mu.Unlock()
	if closed {
		cn.close(ErrWorkerClosed) // Close ran before we published cn
	}
	w.opts.logger.Debug("gearman: worker connected", "server", wc.addr)
	wc.signal()
	return cancel
}

// detach gives back the slots of the asks cn never answered. failures is
// how many connections in a row went wrong before this one: a server that
// keeps breaking the protocol is reported once at warning level.
func (wc *workerConn) detach(cn *conn, failures int) {
	wc.mu.Lock()
	pending := wc.pending
	wc.cn, wc.pending = nil, 0
	wc.mu.Unlock()
	for range pending {
		wc.w.slots <- struct{}{}
	}
	cause := cn.cause()
	ours := errors.Is(cause, ErrWorkerClosed) || errors.Is(cause, errConnClosed)
	logDisconnect(wc.w.opts.logger, "gearman: worker disconnected", wc.addr, cause, ours, failures)
}

// readLoop serves cn until it breaks. It reports whether the job server
// sent at least one packet that made sense.
func (wc *workerConn) readLoop(cn *conn) (sane bool) {
	unexpected := func(t PacketType) {
		cn.close(fmt.Errorf("%w: unexpected %s from job server", ErrProtocol, t))
	}
	for {
		p, err := cn.read()
		if tooLarge, ok := err.(*PacketTooLargeError); ok && tooLarge.Skipped {
			if tooLarge.Type != JobAssignUniq || !wc.answered(cn, true) {
				cn.close(fmt.Errorf("%w: unexpected %s from job server (%v)", ErrProtocol, tooLarge.Type, tooLarge))
				continue
			}
			wc.refuse(cn, tooLarge)
			continue
		}
		if err != nil {
			return sane
		}
		switch p.Type {
		case Noop:
			wc.mu.Lock()
			wc.sleep = awake
			wc.mu.Unlock()
			wc.signal()
		case NoJob:
			// An answer to no ask would hand out a slot we do not have.
			if !wc.answered(cn, false) {
				unexpected(p.Type)
				continue
			}
			wc.w.slots <- struct{}{}
		case JobAssignUniq:
			if !wc.answered(cn, true) {
				unexpected(p.Type)
				continue
			}
			job := &Job{Handle: p.Arg(0), Function: p.Arg(1), Unique: p.Arg(2), Data: p.Args[3], cn: cn}
			go wc.work(job)
		case Error:
			// gearmand answers a request it cannot serve with ERROR; for a
			// worker that is a bug on one side or the other, not a reason
			// to drop the jobs in hand.
			wc.w.opts.logger.Warn("gearman: job server error", "server", wc.addr, "code", p.Arg(0), "message", p.Arg(1))
		default:
			unexpected(p.Type)
			continue
		}
		sane = true
	}
}

// refuse fails a job whose packet was over the worker's size limit (and
// was skipped): the client gets an exception that says so, instead of the
// job going back to the queue to break the next worker's connection too.
func (wc *workerConn) refuse(cn *conn, e *PacketTooLargeError) {
	job := &Job{Handle: string(e.Head[0]), Function: string(e.Head[1]), Unique: string(e.Head[2]), cn: cn}
	job.refuse = fmt.Errorf("gearman: %s job %s of %d bytes is over this worker's %d-byte packet size limit",
		job.Function, job.Handle, e.Size, e.Max)
	wc.w.opts.logger.Warn("gearman: job over the packet size limit; failing it", "server", wc.addr,
		"function", job.Function, "job", job.Handle, "bytes", e.Size, "limit", e.Max)
	go wc.work(job)
}

// answered books the answer to one GRAB_JOB_UNIQ; when the last ask of a
// round comes back after a NO_JOB, the worker goes to sleep. It returns
// false if no ask was waiting for an answer.
func (wc *workerConn) answered(cn *conn, gotJob bool) bool {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.pending == 0 {
		return false
	}
	wc.pending--
	if !gotJob && wc.sleep == awake {
		wc.sleep = draining
	}
	if wc.sleep == draining && wc.pending == 0 {
		// gearmand answers PRE_SLEEP with NOOP at once if a job came in
		// meanwhile, so no job is missed.
		cn.sendAsync(PreSleep)
		wc.sleep = asleep
	}
	return true
}

func (wc *workerConn) work(job *Job) {
	w := wc.w
	wc.mu.Lock()
	ctx := wc.ctx
	live := wc.cn == job.cn
	wc.mu.Unlock()
	w.mu.Lock()
	r := w.funcs[job.Function]
	w.mu.Unlock()

	var result []byte
	var err error
	switch {
	case !live:
		// The connection broke before we started; the job server has
		// already given the job to someone else.
	case job.refuse != nil:
		err = job.refuse
	case r == nil:
		err = fmt.Errorf("gearman: no function %q registered on this worker", job.Function)
	default:
		result, err = runJob(ctx, r, job)
	}
	var own bool
	if live {
		if err == nil {
			own, _ = job.cn.enqueue(WorkComplete, []byte(job.Handle), result)
		} else {
			var ex *JobException
			data := []byte(err.Error())
			if errors.As(err, &ex) {
				data = ex.Data
			}
			own, _ = job.cn.enqueue(WorkException, []byte(job.Handle), data)
		}
	}
	// Keep the slot and ask for the next job in the same write as the
	// result, while the server has work.
	cn, ownAsk, ok := wc.ask()
	if !ok {
		w.slots <- struct{}{}
	}
	if own {
		job.cn.flush()
	}
	if ownAsk {
		cn.flush()
	}
}

func runJob(ctx context.Context, r *registration, job *Job) (result []byte, err error) {
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.timeout,
			fmt.Errorf("gearman: %s job %s ran over its %v timeout", job.Function, job.Handle, r.timeout))
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			result, err = nil, fmt.Errorf("panic: %v\n\n%s", v, debug.Stack())
		}
	}()
	result, err = r.fn(ctx, job)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return result, err
}
