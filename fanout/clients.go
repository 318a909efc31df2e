package fanout

import (
	"context"
	"slices"
	"sync"

	"github.com/glimpse-go/glimpse/gearman"
)

// clientPool hands out Gearman clients for the copies of one fanout.
//
// A foreground copy that timed out must not stay queued, to run later for
// nobody. gearmand drops a queued foreground job when the connection that
// submitted it closes (and gives the job to the other waiters if someone
// else submitted the same unique id), so a fanout with an abandoned copy
// closes its client. A fanout whose copies all ended leaves nothing behind
// on its connections, and its client is kept for the next fanout: dialling
// per fanout would cost a TCP handshake per job server each time.
type clientPool struct {
	servers []string
	opts    []gearman.ClientOption
	max     int // idle clients kept

	mu     sync.Mutex
	idle   []*gearman.Client
	closed bool
}

func (p *clientPool) get(ctx context.Context) (*gearman.Client, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 && !p.closed {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return gearman.NewClient(ctx, p.servers, p.opts...)
}

// put returns c to the pool, or closes it when it may still hold jobs
// (clean is false), the pool is full or closed.
func (p *clientPool) put(c *gearman.Client, clean bool) {
	p.mu.Lock()
	if clean && !p.closed && len(p.idle) < p.max {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.Close()
}

func (p *clientPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := slices.Clone(p.idle)
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}
