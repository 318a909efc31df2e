package pool

import "context"

// Future is the result of a call started with Go: wait for it with Wait,
// or select on Done.
type Future[Out any] struct {
	done chan struct{}
	out  Out
	err  error
}

// Go starts Call(ctx, p, f, item, opts...) on a goroutine of its own and
// returns at once. The call's life is ctx's: cancelling ctx cancels the
// call (a queued call is dropped at its job server), as for Call.
func Go[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], item In, opts ...MapOption) *Future[Out] {
	fu := &Future[Out]{done: make(chan struct{})}
	go func() {
		defer close(fu.done)
		fu.out, fu.err = Call(ctx, p, f, item, opts...)
	}()
	return fu
}

// Done is closed when the call has ended; Wait then returns at once.
func (fu *Future[Out]) Done() <-chan struct{} { return fu.done }

// Wait waits for the call's result and error, which are Call's. If ctx
// ends first it returns ctx's cause, and the call goes on: it ends with
// the context given to Go, or when it is done.
func (fu *Future[Out]) Wait(ctx context.Context) (Out, error) {
	select {
	case <-fu.done:
		return fu.out, fu.err
	case <-ctx.Done():
		var zero Out
		return zero, context.Cause(ctx)
	}
}
