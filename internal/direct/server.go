package direct

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"
)

// Server serves Offers to the workers that fetch them.
type Server struct {
	ln    net.Listener
	addr  string
	cfg   ServerConfig
	slots chan struct{} // one per connection served
	wg    sync.WaitGroup

	mu     sync.Mutex
	offers map[Token]*Offer
	conns  map[net.Conn]struct{}
	closed bool
}

// ErrClosed is an Offer on a closed Server.
var ErrClosed = errors.New("direct: server closed")

// Listen starts a server. Close stops it.
func Listen(cfg ServerConfig) (*Server, error) {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxResult <= 0 {
		cfg.MaxResult = DefaultMaxResult
	}
	ln, err := (&net.ListenConfig{Control: bigBuffers}).Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, cfg: cfg, addr: advertised(cfg, ln.Addr()), slots: make(chan struct{}, cfg.MaxConns),
		offers: map[Token]*Offer{}, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// advertised is the address workers dial: cfg.Advertise, with the bound
// port if it names none; else Listen's host with the bound port.
func advertised(cfg ServerConfig, bound net.Addr) string {
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return bound.String()
	}
	host := cfg.Advertise
	if host == "" {
		host, _, _ = net.SplitHostPort(cfg.Listen)
	} else if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// Addr is the address workers dial.
func (s *Server) Addr() string { return s.addr }

// Offer serves parts, whose concatenation is a payload, under a new
// token until the Offer is dropped. The parts must not change meanwhile.
func (s *Server) Offer(parts [][]byte) (*Offer, error) {
	o := &Offer{s: s, token: NewToken(), parts: parts, size: Size(parts), conns: map[net.Conn]struct{}{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.offers[o.token] = o
	return o, nil
}

func (s *Server) lookup(t Token) *Offer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offers[t]
}

func (s *Server) forget(t Token) {
	s.mu.Lock()
	delete(s.offers, t)
	s.mu.Unlock()
}

// Offers is how many offers the server holds.
func (s *Server) Offers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.offers)
}

// Close stops listening, closes every connection and waits for their
// goroutines. Offers still held are forgotten.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns, s.offers = nil, map[Token]*Offer{}
	s.mu.Unlock()
	err := s.ln.Close()
	for c := range conns {
		c.Close()
	}
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() {
				return
			}
			time.Sleep(acceptPause) // out of file descriptors, say: try again
			continue
		}
		if !s.track(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go s.serve(c)
	}
}

// acceptPause is how long the server waits after a failed accept.
const acceptPause = 10 * time.Millisecond

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
