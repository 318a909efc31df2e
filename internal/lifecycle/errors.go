package lifecycle

import "errors"

// The two ways a Run can be refused. Services wrap them with their own
// name ("fanout: worker: already running"), and their exported "closed"
// sentinels wrap ErrClosed, so errors.Is works with either.
var (
	// ErrRunning: Run was called while the service is already running.
	ErrRunning = errors.New("already running")
	// ErrClosed: the service was stopped; it cannot run (again).
	ErrClosed = errors.New("closed")
)
