package lifecycle

import (
	"context"
	"sync"
)

// Group counts the goroutines and the pieces of work a service must wait
// for before it releases what they use. Unlike a sync.WaitGroup, a Group
// can be closed: once closed it refuses new members, so a job that arrives
// while the service is closing is turned away instead of racing the
// release. Wait is bounded by a context. The zero value is an open, empty
// Group; it must not be copied after first use.
type Group struct {
	mu     sync.Mutex
	closed bool
	n      int
	empty  chan struct{} // non-nil while n > 0; closed when n drops to 0
}

// Enter adds one member, unless the group is closed (false). A member
// that entered must Leave.
func (g *Group) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	if g.n == 0 {
		g.empty = make(chan struct{})
	}
	g.n++
	return true
}

// Leave removes one member.
func (g *Group) Leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		panic("lifecycle: Group.Leave without Enter")
	}
	g.n--
	if g.n == 0 {
		close(g.empty)
		g.empty = nil
	}
}

// Go runs fn on a new goroutine as a member of the group. It returns
// false, and does not run fn, if the group is closed.
func (g *Group) Go(fn func()) bool {
	if !g.Enter() {
		return false
	}
	go func() {
		defer g.Leave()
		fn()
	}()
	return true
}

// Close makes Enter and Go refuse new members. The members already in
// carry on; Wait for them. Closing twice is harmless.
func (g *Group) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// Wait waits until the group has no member, or ctx ends (its error is
// returned). On an open group a member may enter right after Wait
// returns; Close first to wait for the last one.
func (g *Group) Wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		empty := g.empty
		g.mu.Unlock()
		if empty == nil {
			return nil
		}
		select {
		case <-empty:
			// Look again: on an open group someone may have entered.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
