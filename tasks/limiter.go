package tasks

import "context"

// Limiter decides when a task of a queue may start. The Runner calls
// Acquire before it runs each task and the release it returned when the
// task ends; Acquire blocks until the task may start, or returns ctx's
// error. A cluster-wide rate or concurrency limit (per function or per
// named queue) implements it over the store.
type Limiter interface {
	Acquire(ctx context.Context, queue string) (release func(), err error)
}
