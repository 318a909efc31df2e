package direct

import (
	"net"
	"sync"
	"sync/atomic"
)

// Offer is one payload its Server serves under a token, and the result
// a worker sent back for it: the first complete one.
type Offer struct {
	s     *Server
	token Token
	parts [][]byte // the payload, as it is sent (one writev)
	size  int64

	fetches atomic.Int64 // payloads sent out in full

	mu      sync.Mutex
	result  []byte
	stored  bool
	dropped bool
	conns   map[net.Conn]struct{} // connections serving it, closed by Drop
}

// Ref is the reference a job carries instead of the payload.
func (o *Offer) Ref() Ref { return Ref{Addr: o.s.addr, Token: o.token, Len: o.size} }

// Result returns the result a worker sent back, if one did.
func (o *Offer) Result() ([]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.result, o.stored
}

// Fetches is how many times the payload was sent out in full.
func (o *Offer) Fetches() int { return int(o.fetches.Load()) }

// Drop forgets the offer: a later fetch of its token gets StatusGone, and
// its connections still open are closed (a partial transfer is dropped).
// The payload and the result are no longer referenced by the server.
func (o *Offer) Drop() {
	o.s.forget(o.token)
	o.mu.Lock()
	o.dropped = true
	conns := o.conns
	o.conns, o.parts = nil, nil
	o.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// attach adds a connection that serves the offer; false if it is dropped.
func (o *Offer) attach(c net.Conn) ([][]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dropped {
		return nil, false
	}
	o.conns[c] = struct{}{}
	return o.parts, true
}

func (o *Offer) detach(c net.Conn) {
	o.mu.Lock()
	delete(o.conns, c)
	o.mu.Unlock()
}

// store keeps the first complete result.
func (o *Offer) store(result []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.stored && !o.dropped {
		o.result, o.stored = result, true
	}
}

// hasResult says whether a result is stored already.
func (o *Offer) hasResult() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stored
}
