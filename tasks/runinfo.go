package tasks

import "context"

// RunInfo is the task a function runs for: the Runner puts it in the
// context of the function's call.
type RunInfo struct {
	ID      ID
	Queue   string
	Attempt int // 1 for the first attempt
}

type runInfoKey struct{}

// FromContext returns the task that ctx's function call runs for; ok is
// false outside a task (a map's chunk, a single call).
func FromContext(ctx context.Context) (info RunInfo, ok bool) {
	info, ok = ctx.Value(runInfoKey{}).(RunInfo)
	return info, ok
}
