// Package countproxy is a TCP proxy that counts the bytes through it each
// way: between a client and gearmand, it shows what the client sent the
// job server (tests and benchmarks of the shared values).
package countproxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a counting TCP proxy in front of one server.
type Proxy struct {
	ln       net.Listener
	backend  string
	up, down atomic.Int64 // bytes to the server, bytes from it
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
}

// Listen starts a proxy to backend on a loopback port. Close stops it.
func Listen(backend string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial instead of the backend's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Up is the bytes sent to the backend so far.
func (p *Proxy) Up() int64 { return p.up.Load() }

// Down is the bytes received from the backend so far.
func (p *Proxy) Down() int64 { return p.down.Load() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
		if err != nil || !p.track(c, s) {
			c.Close()
			if s != nil {
				s.Close()
			}
			continue
		}
		p.wg.Add(2)
		go p.pipe(s, c, &p.up)
		go p.pipe(c, s, &p.down)
	}
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies from src to dst, counting, and closes both at the end.
func (p *Proxy) pipe(dst, src net.Conn, n *atomic.Int64) {
	defer p.wg.Done()
	io.Copy(countingWriter{dst, n}, src)
	dst.Close()
	src.Close()
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
