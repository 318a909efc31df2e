// Package tlsproxy terminates TLS in front of a plaintext server: gearmand,
// which Debian builds without TLS (its --ssl flags are accepted and
// ignored; see SECURITY.md). Each TLS connection it accepts is forwarded,
// decrypted, over a TCP connection of its own to the backend, which
// should listen on loopback only. glimpse-cluster tls-proxy runs one; a
// local cluster started with TLS runs one in front of its gearmand.
package tlsproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/internal/lifecycle"
)

// Defaults of the Config durations.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 5 * time.Second
)

// closeWait bounds how long Close waits for the connections' goroutines,
// which end as soon as their sockets are closed.
const closeWait = 5 * time.Second

// Config is what a Proxy serves with.
type Config struct {
	// TLS is the server side: Certificates (required, unless
	// GetCertificate is set), and ClientCAs with ClientAuth
	// tls.RequireAndVerifyClientCert to admit only clients with a
	// certificate from those CAs (see ServerTLS).
	TLS *tls.Config
	// Backend is the plaintext server's "host:port".
	Backend string
	// HandshakeTimeout bounds each client's TLS handshake, DialTimeout
	// each connection to Backend; zero means the defaults.
	HandshakeTimeout, DialTimeout time.Duration
	// Logger gets the refused handshakes and the backend's failures
	// (default: nowhere).
	Logger *slog.Logger
}

// Proxy accepts TLS connections and forwards them to the backend. Make
// one with Listen; Close stops it.
type Proxy struct {
	cfg    Config
	ln     net.Listener
	ctx    context.Context // ends at Close: handshakes and dials in progress stop
	cancel context.CancelFunc
	group  lifecycle.Group // the accept loop and one member per connection

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // client and backend sockets, closed by Close
	closed bool
	once   sync.Once
}

// Listen binds addr ("host:port"; port 0 picks a free one) and serves in
// the background until Close.
func Listen(addr string, cfg Config) (*Proxy, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg.TLS = cfg.TLS.Clone()
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tlsproxy: %w", err)
	}
	p := &Proxy{cfg: cfg, ln: ln, conns: map[net.Conn]struct{}{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.group.Go(p.acceptLoop)
	return p, nil
}

func (c Config) check() error {
	if c.TLS == nil || len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
		return errors.New("tlsproxy: no server certificate")
	}
	if _, _, err := net.SplitHostPort(c.Backend); err != nil {
		return fmt.Errorf("tlsproxy: backend %q: want host:port", c.Backend)
	}
	return nil
}

// Addr is the address the proxy listens on, "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, ends every connection at once (their clients
// see the connection drop, as if the job server had gone) and waits for
// the proxy's goroutines. Closing twice is harmless.
func (p *Proxy) Close() error {
	var err error
	p.once.Do(func() { err = p.close() })
	return err
}

func (p *Proxy) close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	for c := range conns {
		c.Close()
	}
	p.group.Close()
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if werr := p.group.Wait(ctx); werr != nil {
		return fmt.Errorf("tlsproxy: close: connections still ending after %v: %w", closeWait, werr)
	}
	if err != nil {
		return fmt.Errorf("tlsproxy: close: %w", err)
	}
	return nil
}

func (p *Proxy) acceptLoop() {
	var delay time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.cfg.Logger.Warn("tlsproxy: accept failed; retrying", "err", err, "in", delay)
			select {
			case <-time.After(delay):
			case <-p.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if !p.track(c) {
			return
		}
		if !p.group.Go(func() { p.serveConn(c) }) {
			p.untrackClose(c)
			return
		}
	}
}

// track records c so that Close closes it; false (and c closed) once the
// proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrackClose(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}
