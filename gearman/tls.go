package gearman

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
)

// ErrTLSRequired is wrapped, together with ErrProtocol, by the error of a
// plaintext connection whose server answered with a TLS record (a TLS
// proxy's alert): the server expects TLS, so connect with WithTLS.
var ErrTLSRequired = errors.New("gearman: the server answered in TLS: it expects a TLS connection (WithTLS)")

// TLSError says that the TLS handshake with a job server failed: its
// certificate is not trusted or does not name it, it asked for a client
// certificate we do not have, or it does not speak TLS. It wraps
// crypto/tls's error, so errors.As finds a *tls.CertificateVerificationError
// or a tls.AlertError.
type TLSError struct {
	Server string // "host:port" of the job server
	Err    error
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("gearman: TLS handshake with %s failed: %v", e.Server, e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// dial connects to addr, over TLS when o says so. o.dialTimeout bounds
// the TCP connect and the handshake together, as ctx does.
func dial(ctx context.Context, addr string, o dialOptions, keepAlive net.KeepAliveConfig) (net.Conn, error) {
	dctx := ctx
	if o.dialTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, o.dialTimeout)
		defer cancel()
	}
	d := net.Dialer{KeepAliveConfig: keepAlive}
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err == nil && o.wrapConn != nil {
		nc = o.wrapConn(nc)
	}
	if err != nil || o.tlsConfig == nil {
		return nc, err
	}
	tc := tls.Client(nc, tlsConfigFor(o.tlsConfig, addr))
	if err := tc.HandshakeContext(dctx); err != nil {
		nc.Close()
		if ctx.Err() == nil && dctx.Err() != nil {
			err = fmt.Errorf("no answer within the dial timeout %v: %w", o.dialTimeout, err)
		} else if errors.Is(err, io.EOF) {
			err = fmt.Errorf("the server hung up at our ClientHello, as a plaintext Gearman server does: %w", err)
		}
		return nil, &TLSError{Server: addr, Err: err}
	}
	return tlsConn{tc}, nil
}

// tlsConfigFor returns c for a connection to addr: with ServerName set to
// addr's host when c leaves it empty, as crypto/tls's own Dial does. The
// clone shares c's ClientSessionCache, so redials resume the session.
func tlsConfigFor(c *tls.Config, addr string) *tls.Config {
	if c.ServerName != "" {
		return c
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c = c.Clone()
	c.ServerName = host
	return c
}

// tlsConn closes its TCP connection at once. tls.Conn.Close first sends
// the close_notify alert, which waits up to 5s for a peer that does not
// read; Gearman's framing needs no close_notify, and a conn is closed
// when its peer is in trouble, as often as not.
type tlsConn struct{ *tls.Conn }

func (c tlsConn) Close() error { return c.NetConn().Close() }

// looksLikeTLS says whether b starts as a TLS record does: an alert or a
// handshake of version 3.x. No Gearman packet (magic "\0RES") or admin
// reply (text) starts so.
func looksLikeTLS(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03
}
