// Package runners runs short jobs on goroutines that are reused. A
// goroutine per job costs its creation and, for a job deeper than the
// initial stack, a stack copy or two as it grows: on the path of a
// one-item call (a chunk's job on the client, its run on the worker) that
// was a tenth of the process's CPU. A runner that ends a job waits for the
// next one instead, up to a number of idle runners.
package runners

import (
	"sync"
	"sync/atomic"
)

// Set is a set of runners. The zero Set is not usable: call New.
type Set struct {
	work    chan func()
	stop    chan struct{}
	stopped sync.Once
	idle    atomic.Int32
	maxIdle int32
}

// New returns a Set that keeps at most maxIdle runners waiting for work.
func New(maxIdle int) *Set {
	return &Set{work: make(chan func()), stop: make(chan struct{}), maxIdle: int32(maxIdle)}
}

// Go runs fn on an idle runner, or on a new goroutine if none is idle.
// Like a go statement, it never waits for fn.
func (s *Set) Go(fn func()) {
	select {
	case s.work <- fn:
	default:
		go s.loop(fn)
	}
}

// loop runs fn, then the jobs handed to it while it waits, until Stop or
// until enough other runners wait already.
func (s *Set) loop(fn func()) {
	for {
		fn()
		if s.idle.Add(1) > s.maxIdle {
			s.idle.Add(-1)
			return
		}
		select {
		case fn = <-s.work:
			s.idle.Add(-1)
		case <-s.stop:
			s.idle.Add(-1)
			return
		}
	}
}

// Stop ends the idle runners, and the others once their job ends. Jobs
// handed to Go afterwards still run, each on a goroutine of its own.
func (s *Set) Stop() {
	s.stopped.Do(func() { close(s.stop) })
}
