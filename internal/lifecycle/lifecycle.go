package lifecycle

import (
	"context"
	"sync"
)

// Lifecycle is the running/stopped state of one service. The zero value
// is an Idle lifecycle, ready to use; it must not be copied after first
// use. Every method may be called from any goroutine, any number of times.
//
// Run calls Begin and, when it returns, End. Shutdown-style methods call
// Stop first (which stops new work and tells the first caller that it is
// first) and Cancel once the work in hand is done or abandoned.
type Lifecycle struct {
	mu    sync.Mutex
	state State

	// Created on first use, so that the zero value works; once, so that
	// the accessors below need no lock (they sit on hot paths, such as a
	// worker asking for its next job).
	once    sync.Once
	ctx     context.Context // cancelled by Stop, Cancel and End
	stop    context.CancelFunc
	workCtx context.Context // cancelled by Cancel only
	cancel  context.CancelFunc
	done    chan struct{} // closed once Stopped
}

// init creates the contexts and the done channel.
func (l *Lifecycle) init() {
	l.workCtx, l.cancel = context.WithCancel(context.Background())
	// Derived from workCtx, so that Cancel ends both.
	l.ctx, l.stop = context.WithCancel(l.workCtx)
	l.done = make(chan struct{})
}

// Begin marks the start of a Run. It fails with ErrRunning while another
// Run is going, and with ErrClosed once Stop has been called: a stopped
// service has released what it would run with.
func (l *Lifecycle) Begin() error {
	l.once.Do(l.init)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state {
	case Idle:
		l.state = Running
		return nil
	case Running:
		return ErrRunning
	}
	return ErrClosed
}

// End marks the end of the Run that Begin started (or of the release
// that StopIdle handed to its caller): the lifecycle is
// Stopped, Context is cancelled (nothing is served any more) and Done is
// closed. WorkContext is left alone, so that a graceful Shutdown can still
// finish the work in hand. End without a Run does nothing.
func (l *Lifecycle) End() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != Running && l.state != Stopping {
		return
	}
	l.state = Stopped
	l.stop()
	close(l.done)
}

// Stop begins stopping: Context is cancelled, so the service takes no new
// work, and no Run may begin any more. It returns the state before the
// call, so that exactly one caller sees Idle or Running and does the
// stopping. If no Run ever began, the lifecycle is Stopped at once and
// Done is closed: there is nothing to wait for.
func (l *Lifecycle) Stop() (before State) {
	l.once.Do(l.init)
	l.mu.Lock()
	defer l.mu.Unlock()
	before = l.state
	switch before {
	case Idle:
		l.state = Stopped
		close(l.done)
	case Running:
		l.state = Stopping
	}
	l.stop()
	return before
}

// StopIdle stops a lifecycle that never ran, like Stop, but leaves it
// Stopping with Done open: the caller takes Run's place, releases what
// the service holds, and then calls End, so that Done (and every Wait)
// covers that release too. A broker that must close its sockets itself
// when stopped before Serve needs this; a service with nothing to release
// calls Stop. StopIdle returns false, and does nothing, if a Run began or
// stopping did.
func (l *Lifecycle) StopIdle() bool {
	l.once.Do(l.init)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != Idle {
		return false
	}
	l.state = Stopping
	l.stop()
	return true
}

// Cancel is Stop that also cancels WorkContext: the work in progress is
// cut short. It returns the state before the call, as Stop does.
func (l *Lifecycle) Cancel() (before State) {
	before = l.Stop()
	l.cancel() // init ran in Stop
	return before
}

// State returns where the lifecycle is now.
func (l *Lifecycle) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Context is cancelled when stopping begins (Stop, Cancel) or Run ends:
// the context of loops that take new work.
func (l *Lifecycle) Context() context.Context {
	l.once.Do(l.init)
	return l.ctx
}

// WorkContext is cancelled by Cancel only: the context of work that a
// graceful stop lets finish.
func (l *Lifecycle) WorkContext() context.Context {
	l.once.Do(l.init)
	return l.workCtx
}

// Done is closed when the lifecycle is Stopped: Run has returned, or Stop
// came before any Run.
func (l *Lifecycle) Done() <-chan struct{} {
	l.once.Do(l.init)
	return l.done
}

// Stopping reports whether Context is cancelled: Stop or Cancel was
// called, or Run ended. It is cheap enough for a hot path.
func (l *Lifecycle) Stopping() bool {
	select {
	case <-l.Context().Done():
		return true
	default:
		return false
	}
}

// Wait waits until Done is closed or ctx ends, and then returns ctx's
// error. Every wait of a stop has a bound.
func (l *Lifecycle) Wait(ctx context.Context) error {
	select {
	case <-l.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
