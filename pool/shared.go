package pool

import (
	"context"

	"github.com/glimpse-go/glimpse/gearman"
)

// Maps of a single chunk (one-item maps and single calls, see Call)
// share a few connections instead of taking one each: a thousand at once
// would otherwise hold a thousand connections, each with its own system
// calls per job, where one connection carries many jobs in a write.
//
// A map gets a connection of its own so that closing it makes gearmand
// drop the map's queued chunks. A shared connection cannot be closed for
// one map: a single-chunk map that ends with its job left (or otherwise
// not cleanly) retires the connection instead. It takes no new maps and is closed once its other
// maps are over, which drops the job if still queued; meanwhile the
// cancel command (cancelChunks) makes workers refuse it.

// dropQueued asks the job servers to drop jobs that single-chunk maps
// left behind ("cancel job" on the admin port). The map's shared
// connection stays open while other maps use it, and a job still queued
// there would run as soon as a slot freed: the worker that ends the job
// before it asks for the next one in the same write, long before the
// connection is closed. gearmand drops a cancelled job when a worker next
// asks for work; a job that already runs is left to the cancel command.
func (p *Pool) dropQueued(handles []gearman.JobHandle) {
	if len(handles) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.requestTimeout)
	defer cancel()
	for _, h := range handles {
		err := p.ask(ctx, h.Server, func(a *gearman.Admin) error { return a.CancelJob(ctx, h.Handle) })
		if err != nil {
			p.opts.logger.Debug("pool: cannot drop a queued job", "server", h.Server, "job", h.Handle, "err", err)
		}
	}
}

// maxSharedClients is how many shared connections single-chunk maps
// spread over; sharedUsers is how many maps one carries before another
// is dialled. Two, not four: the fewer connections, the more packets
// each read and write carries, for this process and for gearmand. A
// thousand one-item maps at once read 0.7 times per call over two where
// they read 1.0 times over four; the process spent ~52 µs of CPU per
// call rather than ~60, gearmand ~28 rather than ~36. One connection
// read less still (0.6) but spent no less CPU, and would leave none to
// take over while it is retired.
const (
	maxSharedClients = 2
	sharedUsers      = 64
)

// sharedClient is a connection shared by single-chunk maps.
type sharedClient struct {
	c       *gearman.Client
	users   int  // maps using it
	retired bool // takes no new maps; closed when users reaches 0
}

// acquireShared returns a shared connection for a single-chunk map: the
// least used one, or a new one while there are fewer than
// maxSharedClients and all carry sharedUsers maps or more. Dials take
// turns, so that a burst of maps does not dial one each.
func (p *Pool) acquireShared(ctx context.Context) (*sharedClient, error) {
	if s, err := p.pickShared(); s != nil || err != nil {
		return s, err
	}
	select {
	case p.sharedDial <- struct{}{}:
		defer func() { <-p.sharedDial }()
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if s, err := p.pickShared(); s != nil || err != nil {
		return s, err // another map dialled meanwhile
	}
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	s := &sharedClient{c: c, users: 1}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, ErrClosed
	}
	p.shared = append(p.shared, s)
	return s, nil
}

// pickShared takes the least used shared connection unless all are busy
// and another may be dialled; nil if none suits.
func (p *Pool) pickShared() (*sharedClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	var best *sharedClient
	for _, s := range p.shared {
		if best == nil || s.users < best.users {
			best = s
		}
	}
	if best == nil || best.users >= sharedUsers && len(p.shared) < maxSharedClients {
		return nil, nil
	}
	best.users++
	return best, nil
}

// releaseShared says that a map is done with s; retire: it did not end
// cleanly (it may have left a job at a job server, or met a broken
// connection), so s takes no new maps, as a map's own connection would be
// closed.
func (p *Pool) releaseShared(s *sharedClient, retire bool) {
	p.mu.Lock()
	s.users--
	if retire && !s.retired {
		s.retired = true
		p.dropShared(s)
	}
	closeNow := s.retired && s.users == 0
	p.mu.Unlock()
	if closeNow {
		s.c.Close()
	}
}

// dropShared removes s from the connections handed out. Called with p.mu
// held.
func (p *Pool) dropShared(s *sharedClient) {
	for i, x := range p.shared {
		if x == s {
			p.shared = append(p.shared[:i], p.shared[i+1:]...)
			return
		}
	}
}

// closeShared closes the shared connections at Close, once no map runs.
func (p *Pool) closeShared() {
	p.mu.Lock()
	shared := p.shared
	p.shared = nil
	p.mu.Unlock()
	for _, s := range shared {
		s.c.Close()
	}
}
