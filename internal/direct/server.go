package direct

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ServerConfig is how a Server listens and what it accepts.
type ServerConfig struct {
	// Listen is the address to bind, host:port (port 0: any free one).
	Listen string
	// Advertise is the host:port workers dial, if not Listen's host with
	// the port bound (an unspecified host, 0.0.0.0 or ::, must be given
	// one here).
	Advertise string
	// MaxConns bounds the connections served at once; more get
	// StatusBusy. 0: DefaultMaxConns.
	MaxConns int
	// MaxResult bounds a result's length; a longer one gets
	// StatusTooLarge. 0: DefaultMaxResult.
	MaxResult int64
	// Pause, for tests, is called halfway through each payload sent and
	// each result read, on the connection's goroutine.
	Pause func(Stage)
}

// Stage is where a transfer is when ServerConfig.Pause is called.
type Stage int

const (
	StagePayload Stage = iota // half the payload is sent
	StageResult               // half the result is read
)

const (
	DefaultMaxConns        = 1024
	DefaultMaxResult int64 = 1 << 30
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
	s := &Server{ln: ln, cfg: cfg, addr: cfg.Advertise, slots: make(chan struct{}, cfg.MaxConns),
		offers: map[Token]*Offer{}, conns: map[net.Conn]struct{}{}}
	if s.addr == "" {
		s.addr = advertised(cfg.Listen, ln.Addr())
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// advertised is listen's host with the port bound.
func advertised(listen string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(listen)
	_, port, err2 := net.SplitHostPort(bound.String())
	if err != nil || err2 != nil {
		return bound.String()
	}
	return net.JoinHostPort(host, port)
}

// Addr is the address workers dial.
func (s *Server) Addr() string { return s.addr }

// Offer serves parts, whose concatenation is a payload, under a new
// token until the Offer is dropped. The parts must not change meanwhile.
func (s *Server) Offer(parts [][]byte) (*Offer, error) {
	o := &Offer{s: s, token: NewToken(), parts: parts, size: size(parts), conns: map[net.Conn]struct{}{}}
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
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		if !s.track(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go s.serve(c)
	}
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
