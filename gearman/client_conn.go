package gearman

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

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
	// deferred: queued without a write (WithDeferredWrite); it goes out
	// with the next write on the connection, or at Client.Flush.
	deferred bool
	// more: the submission's data goes on with these (WithMoreData).
	more [][]byte
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
	var own bool
	var err error
	if r.deferred && !hasLargeArg(args) && r.more == nil {
		err = cn.enqueueLazy(r.sent, args...)
	} else {
		own, err = cn.enqueueMore(r.sent, r.more, args...)
	}
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
	redial(s.c.ctx, s.addr, &s.c.opts.connOptions, s.serve, s.dialFailed)
}

// serve runs one connection from its handshake to its end.
func (s *clientServer) serve(cn *conn, failures int) (sane bool) {
	s.attach(cn)
	sane = s.readLoop(cn)
	s.detach(cn, failures)
	return sane
}

func (s *clientServer) dialFailed(err error) {
	s.mu.Lock()
	s.dialErr = err
	s.markTriedLocked()
	s.mu.Unlock()
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
		t.created.Store(&JobHandle{Server: s.addr, Handle: t.handle})
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
	if fn != nil {
		fn(updateOf(p))
	}
}

// updateOf reads a WORK_DATA, WORK_WARNING or WORK_STATUS packet.
func updateOf(p *Packet) Update {
	switch p.Type {
	case WorkWarning:
		return Update{Kind: UpdateWarning, Data: p.Args[1]}
	case WorkStatus:
		num, _ := strconv.ParseUint(p.Arg(1), 10, 64)
		den, _ := strconv.ParseUint(p.Arg(2), 10, 64)
		return Update{Kind: UpdateStatus, Numerator: num, Denom: den}
	}
	return Update{Kind: UpdateData, Data: p.Args[1]}
}
