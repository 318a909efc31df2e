package broker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// pollSlice bounds each wait for a message, so that Recv and
// WaitSubscribed notice a cancelled context this soon: a zmq_poll cannot
// wait on a Go channel.
const pollSlice = 50 * time.Millisecond

// dial makes a socket of its own context connected to url. A context per
// peer lets Close wait for the socket's linger alone (zmq_ctx_term is what
// waits), and keeps a peer's I/O thread its own.
func dial(url string, t zmq.Type, hwm int, linger time.Duration, setup ...func(*zmq.Socket) error) (*zmq.Context, *zmq.Socket, error) {
	return openPeer(url, t, hwm, linger, func(s *zmq.Socket) error {
		if err := s.Connect(url); err != nil {
			return fmt.Errorf("connect to %s: %w", url, err)
		}
		return nil
	}, setup...)
}

// listen is dial for a peer that binds url instead.
func listen(url string, t zmq.Type, hwm int, linger time.Duration, setup ...func(*zmq.Socket) error) (*zmq.Context, *zmq.Socket, error) {
	return openPeer(url, t, hwm, linger, func(s *zmq.Socket) error {
		if ipcHeld(url) {
			return &BindError{URL: url, Err: ErrAddrInUse}
		}
		if err := s.Bind(url); err != nil {
			return &BindError{URL: url, Err: err} // matches ErrAddrInUse on EADDRINUSE
		}
		return nil
	}, setup...)
}

// ipcHeld reports whether a process listens at an ipc:// URL. ZeroMQ's
// bind removes the socket file it finds there, which would silently take
// the channel from the client holding it instead of failing as a bound TCP
// port does.
func ipcHeld(url string) bool {
	path, ok := strings.CutPrefix(url, "ipc://")
	if !ok {
		return false
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func openPeer(url string, t zmq.Type, hwm int, linger time.Duration, attach func(*zmq.Socket) error, setup ...func(*zmq.Socket) error) (*zmq.Context, *zmq.Socket, error) {
	if hwm < 0 {
		return nil, nil, fmt.Errorf("high-water mark %d: must be 0 (no limit) or more", hwm)
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, nil, fmt.Errorf("create ZeroMQ context: %w", err)
	}
	sock, err := newSocket(zctx, t, hwm, DefaultMaxMessageSize, url)
	if err == nil {
		err = sock.SetLinger(linger)
		for _, f := range setup {
			if err == nil {
				err = f(sock)
			}
		}
		if err == nil {
			err = attach(sock)
		}
		if err != nil {
			sock.Close()
		}
	}
	if err != nil {
		zctx.Term()
		return nil, nil, err
	}
	return zctx, sock, nil
}

// lastEndpoint is the endpoint a socket bound, which tells the port chosen
// for port 0 or "*"; url if ZeroMQ cannot say.
func lastEndpoint(s *zmq.Socket, url string) string {
	if ep, err := s.GetLastEndpoint(); err == nil && ep != "" {
		return ep
	}
	return url
}

func closePeer(zctx *zmq.Context, sock *zmq.Socket) error {
	err := sock.Close()
	if terr := zctx.Term(); err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// waitReadable polls until the poller's socket is readable or a slice of
// time has passed, so that the caller can look at ctx again; without a
// Done channel it simply waits.
func waitReadable(ctx context.Context, p *zmq.Poller) error {
	timeout := pollSlice
	if ctx.Done() == nil {
		timeout = -1
	} else if d, ok := ctx.Deadline(); ok {
		// At least a millisecond: pebbe/zmq4 rounds down to milliseconds,
		// and 0 would not wait at all.
		timeout = min(timeout, max(time.Until(d), time.Millisecond))
	}
	_, err := p.Poll(timeout)
	return err
}

func isEAGAIN(err error) bool {
	return err != nil && zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}
