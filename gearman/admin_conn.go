package gearman

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// adminMaxLine bounds one reply line; a longer one breaks the connection.
const adminMaxLine = 1 << 20

var adminErrClosed = fmt.Errorf("admin closed: %w", net.ErrClosed)

// adminOK runs a command whose success reply is a bare "OK".
func (a *Admin) adminOK(ctx context.Context, cmd string) error {
	return a.adminOneLine(ctx, cmd, func(l string) bool { return strings.TrimSpace(l) == "OK" })
}

// adminOneLine runs cmd, whose reply is one line, and hands the line to
// parse, which reports whether it made sense.
func (a *Admin) adminOneLine(ctx context.Context, cmd string, parse func(line string) bool) error {
	_, err := a.adminDo(ctx, cmd, false, parse)
	return err
}

// adminDo sends cmd and reads its reply: one line, or (multi) lines up to a
// line ".", which is not returned. An ERR reply becomes an *AdminError. If
// parse is given, it checks a one-line reply while the connection is still
// ours: a line it rejects may be the start of some reply we do not know, so
// the connection is dropped rather than left out of step.
func (a *Admin) adminDo(ctx context.Context, cmd string, multi bool, parse func(line string) bool) (lines []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, err)
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, ctx.Err())
	}
	defer func() { <-a.sem }()

	c, rd, err := a.adminConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, err)
	}
	deadline := time.Now().Add(a.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetDeadline(deadline); err != nil {
		a.adminDiscard(c)
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, a.adminCause(err))
	}
	// A deadline in the past wakes a blocked Read or Write at once.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })

	lines, errReply, ioErr := adminExchange(c, rd, cmd, multi)

	if !stop() {
		// ctx ended during the exchange: the AfterFunc may still be about
		// to move the deadline, and the reply may be half read.
		a.adminDiscard(c)
		if ioErr != nil {
			return nil, fmt.Errorf("gearman: admin %q: %w", cmd, ctx.Err())
		}
	}
	if ioErr != nil {
		a.adminDiscard(c)
		if errors.Is(ioErr, os.ErrDeadlineExceeded) && ctx.Err() == nil && !adminCtxDeadline(ctx, deadline) {
			return nil, a.adminCause(&TimeoutError{Server: a.addr, Waiting: fmt.Sprintf("reply to admin %q", cmd), After: a.timeout})
		}
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, a.adminCause(adminCtxCause(ctx, ioErr)))
	}
	if errReply != nil {
		return nil, errReply // a whole line, so the connection is still in step
	}
	if !multi && parse != nil && !parse(lines[0]) {
		a.adminDiscard(c)
		return nil, adminMalformed(cmd, lines[0])
	}
	return lines, nil
}

// adminExchange writes cmd and reads the reply: its lines, or an ERR reply,
// or else ioErr for a connection that failed.
func adminExchange(c net.Conn, rd *bufio.Reader, cmd string, multi bool) (lines []string, errReply *AdminError, ioErr error) {
	// gearmand strips an optional "\r" before "\n", but "create function"
	// only gets the name right when the line ends in "\r\n": it trims two
	// bytes off the last argument, which holds the line end.
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return nil, nil, err
	}
	first := true
	for {
		l, err := adminReadLine(rd)
		if err != nil {
			return nil, nil, err
		}
		// Data lines of the multi-line replies hold tabs; "ERR" lines don't.
		if first && (l == "ERR" || strings.HasPrefix(l, "ERR ")) && !strings.Contains(l, "\t") {
			return nil, adminParseErr(cmd, l), nil
		}
		first = false
		if !multi {
			return []string{l}, nil, nil
		}
		if l == "." {
			return lines, nil, nil
		}
		lines = append(lines, l)
	}
}

// adminReadLine reads one line without its "\n" or "\r\n".
func adminReadLine(rd *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, err := rd.ReadSlice('\n')
		if len(buf)+len(frag) > adminMaxLine {
			return "", fmt.Errorf("reply line longer than %d bytes", adminMaxLine)
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			s := strings.TrimSuffix(string(buf[:len(buf)-1]), "\r")
			return s, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) > 0 {
				return "", fmt.Errorf("server closed the connection mid-line: %w", io.ErrUnexpectedEOF)
			}
			return "", fmt.Errorf("server closed the connection: %w", io.ErrUnexpectedEOF)
		default:
			return "", err
		}
	}
}

// adminConn returns the connection, dialing a new one if the last broke.
// The caller holds a.sem, so at most one dial runs at a time.
func (a *Admin) adminConn(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, nil, adminErrClosed
	}
	if a.conn != nil {
		c, rd := a.conn, a.rd
		a.mu.Unlock()
		return c, rd, nil
	}
	a.mu.Unlock()

	c, err := a.adminDial(ctx)
	if err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed { // Close ran while we dialed
		c.Close()
		return nil, nil, adminErrClosed
	}
	a.conn, a.rd = c, a.newReader(c)
	return a.conn, a.rd, nil
}

func (a *Admin) adminDial(ctx context.Context) (net.Conn, error) {
	return dial(ctx, a.addr, a.dial, net.KeepAliveConfig{})
}

// newReader reads replies from c, failing at the first NUL byte.
func (a *Admin) newReader(c net.Conn) *bufio.Reader {
	return bufio.NewReader(&adminTextReader{r: c, addr: a.addr})
}

// adminTextReader fails a read that brings a NUL byte: no admin reply holds
// one (function names cannot), while a Gearman binary packet or a ZeroMQ
// greeting starts with some. So a peer that is no admin port is found as
// soon as it speaks, not when the request timeout runs out.
type adminTextReader struct {
	r     io.Reader
	addr  string
	spoke bool // the peer sent something: a TLS record can only come first
}

func (t *adminTextReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	first := !t.spoke
	t.spoke = t.spoke || n > 0
	if first && looksLikeTLS(p[:n]) {
		return n, fmt.Errorf("%w: %s sent %q: %w", ErrProtocol, t.addr, p[:min(n, 10)], ErrTLSRequired)
	}
	if i := bytes.IndexByte(p[:n], 0); i >= 0 {
		return n, fmt.Errorf("%w: %s sent a NUL byte (%q), which no admin reply holds: not a Gearman admin port",
			ErrProtocol, t.addr, p[:min(n, 10)])
	}
	return n, err
}

// adminCtxDeadline says whether deadline is ctx's own, so that its passing
// is ctx's timeout rather than the request timeout.
func adminCtxDeadline(ctx context.Context, deadline time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && d.Equal(deadline)
}

// adminDiscard closes c and forgets it if it is still the current conn.
func (a *Admin) adminDiscard(c net.Conn) {
	a.mu.Lock()
	if a.conn == c {
		a.conn, a.rd = nil, nil
	}
	a.mu.Unlock()
	c.Close()
}

// adminCause reports a failure caused by Close as such.
func (a *Admin) adminCause(err error) error {
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return adminErrClosed
	}
	return err
}

// adminCtxCause makes a timeout of the conn deadline, which was set from
// ctx, wrap context.DeadlineExceeded even if ctx has not noticed yet.
func adminCtxCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}
