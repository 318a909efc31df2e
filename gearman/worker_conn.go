package gearman

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// sleepState is where a connection is in gearmand's sleep/wake dance.
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
	// waiting is when the oldest unanswered ask was sent (or the last
	// answer came while asks remained): zero when none is pending.
	waiting time.Time
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
// awake, until the worker stops.
func (wc *workerConn) grab() {
	w := wc.w
	stop := w.life.Context().Done()
	for {
		wc.mu.Lock()
		ready := wc.cn != nil && wc.sleep == awake
		wc.mu.Unlock()
		if !ready {
			select {
			case <-wc.wake:
				continue
			case <-stop:
				return
			}
		}
		select {
		case <-w.slots:
		case <-stop:
			return
		case <-wc.wake:
			continue // state changed while we waited for a slot
		}
		wc.askAll()
	}
}

// askAll turns the slot the caller holds, and every other free one, into
// asks that leave in one write: a worker that wakes with its slots and
// prefetch tokens free (4 per slot in a cluster worker) otherwise sent a
// GRAB_JOB_UNIQ per token, each a system call of its own and a read for
// gearmand, before the write of the result of the job it got (a one-item
// call through a 2-slot cluster worker: 12.6 writes per call, 4.3 now).
func (wc *workerConn) askAll() {
	w := wc.w
	cn, own, ok := wc.ask()
	if !ok {
		w.slots <- struct{}{}
		return
	}
	for {
		var next *conn
		var mine, asked bool
		select {
		case <-w.slots:
			if next, mine, asked = wc.ask(); !asked {
				w.slots <- struct{}{}
			}
		default:
		}
		if !asked {
			break
		}
		if next != cn { // reconnected meanwhile: what went to the old one first
			if own {
				cn.flush()
			}
			cn, own = next, false
		}
		own = own || mine
	}
	if own {
		cn.flush()
	}
}

// ask queues one GRAB_JOB_UNIQ for a slot the caller holds, if the server
// is awake. If it returns own, the caller must flush cn.
func (wc *workerConn) ask() (cn *conn, own, ok bool) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.cn == nil || wc.sleep != awake || wc.w.life.Stopping() {
		return nil, false, false
	}
	own, err := wc.cn.enqueue(GrabJobUniq)
	if err != nil {
		return nil, false, false
	}
	if wc.pending == 0 {
		wc.waiting = time.Now()
	}
	wc.pending++
	return wc.cn, own, true
}

// run dials the job server and serves the connection, again and again
// with backoff, until the worker is cancelled: a graceful stop still
// needs the connection to send the results of the jobs in hand.
func (wc *workerConn) run() {
	redial(wc.w.life.WorkContext(), wc.addr, &wc.w.opts.connOptions, wc.serve, func(error) {})
}

// serve runs one connection from its registrations to its end.
func (wc *workerConn) serve(cn *conn, failures int) (sane bool) {
	cancel := wc.attach(cn)
	go wc.watchGrabs(cn)
	sane = wc.readLoop(cn)
	cancel()
	wc.detach(cn, failures)
	return sane
}

func (wc *workerConn) attach(cn *conn) context.CancelFunc {
	w := wc.w
	ctx, cancel := context.WithCancel(w.life.WorkContext())
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
	closed := w.disconnecting
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
			cn.held.assigned()
			wc.w.runners.Go(func() { wc.work(job) })
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
	if refuse := wc.w.opts.oversize; refuse != nil {
		// The packet's size less its head: the job's data.
		head := len(e.Head[0]) + len(e.Head[1]) + len(e.Head[2]) + 3
		job.refuse = refuse(job, int(e.Size)-head)
	}
	wc.w.opts.logger.Warn("gearman: job over the packet size limit; failing it", "server", wc.addr,
		"function", job.Function, "job", job.Handle, "bytes", e.Size, "limit", e.Max)
	cn.held.assigned()
	wc.w.runners.Go(func() { wc.work(job) })
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
	wc.waiting = time.Time{}
	if wc.pending > 0 {
		wc.waiting = time.Now()
	}
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
	parked := false // the job's token went out of circulation (prefetch.go)
	switch {
	case !live:
		// The connection broke before we started; the job server has
		// already given the job to someone else.
	case job.refuse != nil:
		err = job.refuse
	case r == nil:
		err = fmt.Errorf("gearman: no function %q registered on this worker", job.Function)
	case !w.prefetch.startRun(ctx):
		live = false // the worker closed while the job waited for a slot
	default:
		start := time.Now()
		result, err = runJob(ctx, r, job)
		w.prefetch.endRun()
		parked = w.afterJob(time.Since(start))
	}
	job.end() // what SendDataSoon queued goes with the outcome
	wc.finish(job, live, parked, result, err)
}

// finish queues a job's outcome and, unless its token was parked, its
// slot's next ask, in the same write while the server has work; that write
// is made now, or left to another job of the connection (batch.go).
func (wc *workerConn) finish(job *Job, live, parked bool, result []byte, err error) {
	if job.cn.held.ended(outcomeSize(job, result, err)) && live && wc.finishHeld(job, parked, result, err) {
		job.cn.afterHeld()
		return
	}
	var own bool
	if live {
		own = queueOutcome(job, result, err)
	}
	var cn *conn
	var ownAsk, ok bool
	if !parked {
		cn, ownAsk, ok = wc.ask()
		if !ok {
			wc.w.slots <- struct{}{}
		}
	}
	if own {
		job.cn.flush()
	}
	if ownAsk {
		cn.flush()
	}
}

// finishHeld queues the outcome and the next ask for a later write; false
// (nothing queued) if the connection was replaced meanwhile.
func (wc *workerConn) finishHeld(job *Job, parked bool, result []byte, err error) bool {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.cn != job.cn || wc.sleep != awake || wc.w.life.Stopping() {
		return false
	}
	if queueOutcomeLazy(job, result, err) != nil {
		return false
	}
	if !parked {
		if job.cn.enqueueLazy(GrabJobUniq) != nil {
			wc.w.slots <- struct{}{} // room: the token is ours
		} else {
			if wc.pending == 0 {
				wc.waiting = time.Now()
			}
			wc.pending++
		}
	}
	return true
}

// outcomeSize is the size of a job's outcome data: a large one, or one
// with SetMoreResult's parts, is always written at once, from where it is.
func outcomeSize(job *Job, result []byte, err error) int {
	switch {
	case err != nil:
		return 0
	case job.more != nil:
		return largeArg
	}
	return len(result)
}

// queueOutcome queues a job's WORK_COMPLETE, or its WORK_EXCEPTION with
// the error's text (the Data of a *JobException). If it returns own, the
// caller must flush job.cn.
func queueOutcome(job *Job, result []byte, err error) (own bool) {
	if err == nil {
		own, _ = job.cn.enqueueMore(WorkComplete, job.more, []byte(job.Handle), result)
		return own
	}
	var ex *JobException
	data := []byte(err.Error())
	if errors.As(err, &ex) {
		data = ex.Data
	}
	own, _ = job.cn.enqueue(WorkException, []byte(job.Handle), data)
	return own
}

// queueOutcomeLazy is queueOutcome for a write someone else makes.
func queueOutcomeLazy(job *Job, result []byte, err error) error {
	if err == nil {
		return job.cn.enqueueLazy(WorkComplete, []byte(job.Handle), result)
	}
	var ex *JobException
	data := []byte(err.Error())
	if errors.As(err, &ex) {
		data = ex.Data
	}
	return job.cn.enqueueLazy(WorkException, []byte(job.Handle), data)
}

// watchGrabs closes cn when an ask has waited longer than the grab
// timeout: the server is hung, and its unanswered asks hold slots the
// other job servers need (detach gives them back). It ends with cn.
func (wc *workerConn) watchGrabs(cn *conn) {
	limit := wc.w.opts.grabTimeout
	tick := time.NewTicker(max(limit/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-cn.done:
			return
		case now := <-tick.C:
			wc.mu.Lock()
			stuck := wc.cn == cn && wc.pending > 0 && now.Sub(wc.waiting) > limit
			wc.mu.Unlock()
			if stuck {
				cn.close(&TimeoutError{Server: wc.addr, Waiting: "answer to GRAB_JOB_UNIQ", After: limit})
				return
			}
		}
	}
}
