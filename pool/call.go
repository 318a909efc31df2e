package pool

import (
	"context"
)

// Call runs f on one item on a worker and returns its result: a single
// call, costing about one Gearman round trip. It is a one-item Map in
// everything but its shape, and shares its fast path (a shared
// connection, the cached worker check): its errors are a map's (a
// *TaskError with Index 0 when the function fails, ErrNoWorkers,
// ErrClosed, ctx's cause), and so are its options. Priority, TaskTimeout,
// Retries, RetryTaskErrors, CheckSilentChunks, BackupTasks and
// WaitForWorkers apply as they do to a map; Chunksize and Window make no
// difference to one item, and Progress is called once, with (1, 1).
//
// The end of ctx ends the call with ctx's cause; a call still queued at a
// job server is then dropped there, and one already running is cancelled
// on its worker.
func Call[In, Out any](ctx context.Context, p *Pool, f Func[In, Out], item In, opts ...MapOption) (Out, error) {
	var out Out
	err := run(ctx, p, f, input[In]{slice: []In{item}, seq: func(yield func(In) bool) { yield(item) }}, 1, false, opts,
		func(_, _ int, vs []Out) bool {
			out = vs[0]
			return true
		})
	if err != nil {
		var zero Out
		return zero, err
	}
	return out, nil
}
