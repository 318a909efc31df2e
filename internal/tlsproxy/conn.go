package tlsproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// serveConn runs one client connection: the TLS handshake, the backend
// connection, then bytes both ways until either side ends.
func (p *Proxy) serveConn(raw net.Conn) {
	defer p.untrackClose(raw)
	tc := tls.Server(raw, p.cfg.TLS)
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		p.refuse(raw, err)
		return
	}
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	back, err := d.DialContext(p.ctx, "tcp", p.cfg.Backend)
	if err != nil && p.ctx.Err() == nil {
		// The client sees its connection end before the job server's
		// first answer, as if the job server were down.
		p.cfg.Logger.Warn("tlsproxy: cannot reach the backend", "backend", p.cfg.Backend, "client", raw.RemoteAddr(), "err", err)
	}
	if err != nil {
		return
	}
	if !p.track(back) {
		return
	}
	defer p.untrackClose(back)
	pipe(tc, back)
}

// pipe copies between the client and the backend. When the client stops
// sending, the backend is told (half-close) and its answer still flows
// back; when the client's connection breaks, or the backend ends, both
// connections end.
func pipe(client *tls.Conn, back net.Conn) {
	up := make(chan struct{})
	go func() {
		defer close(up)
		if _, err := io.Copy(back, client); err != nil {
			back.Close() // the client is gone: nobody waits for an answer
			return
		}
		if tcp, ok := back.(*net.TCPConn); ok {
			tcp.CloseWrite()
		}
	}()
	io.Copy(client, back)
	client.NetConn().Close() // no close_notify: it could wait on a client that does not read
	back.Close()
	<-up
}

// alertProtocolVersion is a fatal TLS alert record, protocol_version: what
// a client that did not start a TLS handshake gets (a gearman.Client
// reports it as ErrTLSRequired).
var alertProtocolVersion = []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46}

// plaintextWait bounds how long a plaintext client is given to read the
// alert and hang up.
const plaintextWait = time.Second

// refuse logs a failed handshake. A client that spoke plaintext is sent
// the alert, and its connection is kept until it hangs up (at most
// plaintextWait): closing with its request unread would reset the
// connection, and the reset can destroy the alert before it is read.
func (p *Proxy) refuse(raw net.Conn, err error) {
	if p.ctx.Err() != nil {
		return // Close cut the handshake short
	}
	var rhe tls.RecordHeaderError
	if !errors.As(err, &rhe) || rhe.Conn == nil {
		p.cfg.Logger.Warn("tlsproxy: TLS handshake failed", "client", raw.RemoteAddr(), "err", err)
		return
	}
	p.cfg.Logger.Warn("tlsproxy: refused a client that does not speak TLS (plaintext Gearman?)",
		"client", raw.RemoteAddr(), "sent", fmt.Sprintf("%q", rhe.RecordHeader[:]))
	raw.SetDeadline(time.Now().Add(plaintextWait))
	if _, err := raw.Write(alertProtocolVersion); err != nil {
		return
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(raw, 64<<10))
}
