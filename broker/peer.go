package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// pollSlice bounds each wait for a message, so that Recv and
// WaitSubscribed notice a cancelled context this soon: a zmq_poll cannot
// wait on a Go channel.
const pollSlice = 50 * time.Millisecond

// Peers makes the Publishers and Subscribers of one process, with the
// cluster's security settings. Its zero value is what the package-level
// NewPublisher, NewSubscriber, BindPublisher and BindSubscriber use: no
// key, DefaultMaxMessageSize.
type Peers struct {
	// Key is the cluster key (config.Client.KeyFile). With one, a peer
	// that binds is a CURVE server admitting only key holders, and one
	// that connects a CURVE client: nobody without the key reads or
	// publishes anything. Nil: plain ZeroMQ, for a trusted network.
	Key *auth.Key
	// MaxMessageSize is the largest message frame the peer accepts, in
	// bytes (config.Client.ZMQMaxMessageSize); 0 means
	// DefaultMaxMessageSize, -1 no limit. Give every process of a cluster
	// the same limit: the broker then drops a larger frame before it
	// reaches anyone. A connecting peer that receives a frame over its own,
	// smaller, limit loses that connection for good: libzmq treats it as
	// a protocol error and does not reconnect (measured with 4.3.4).
	MaxMessageSize int64
	// Log is where a peer that binds reports the handshakes it refused
	// (rate-limited WARNs); nil: nowhere.
	Log *slog.Logger
}

// endpoint is a peer's socket, in a context of its own, and the ZAP
// handler of that context if the socket is a CURVE server.
type endpoint struct {
	zctx *zmq.Context
	sock *zmq.Socket
	zap  *zapHandler
}

// dial makes a socket of its own context connected to url. A context per
// peer lets Close wait for the socket's linger alone (zmq_ctx_term is what
// waits), and keeps a peer's I/O thread its own.
func (c Peers) dial(url string, t zmq.Type, hwm int, linger time.Duration, setup ...func(*zmq.Socket) error) (*endpoint, error) {
	return c.openPeer(url, t, hwm, linger, false, func(s *zmq.Socket) error {
		if err := s.Connect(url); err != nil {
			return fmt.Errorf("connect to %s: %w", url, err)
		}
		return nil
	}, setup...)
}

// listen is dial for a peer that binds url instead.
func (c Peers) listen(url string, t zmq.Type, hwm int, linger time.Duration, setup ...func(*zmq.Socket) error) (*endpoint, error) {
	return c.openPeer(url, t, hwm, linger, true, func(s *zmq.Socket) error {
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

// openPeer makes the context and the socket, secured as a CURVE server
// (bind) or client with a key, then attaches it (binds or connects).
func (c Peers) openPeer(url string, t zmq.Type, hwm int, linger time.Duration, bind bool, attach func(*zmq.Socket) error, setup ...func(*zmq.Socket) error) (*endpoint, error) {
	if hwm < 0 {
		return nil, fmt.Errorf("high-water mark %d: must be 0 (no limit) or more", hwm)
	}
	maxMsg, err := c.maxMessageSize()
	if err != nil {
		return nil, err
	}
	keys, err := deriveCurveKeys(c.Key)
	if err != nil {
		return nil, err
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("create ZeroMQ context: %w", err)
	}
	ep := &endpoint{zctx: zctx}
	if keys != nil {
		secure := keys.connect
		if bind {
			secure = keys.serve
			ep.zap, err = startZAP(zctx, keys, c.logger())
		}
		setup = append(setup, secure)
	}
	if err == nil {
		ep.sock, err = newSocket(zctx, t, hwm, maxMsg, url)
	}
	if err == nil {
		err = configure(ep.sock, linger, attach, setup)
	}
	if err != nil {
		ep.close()
		return nil, err
	}
	return ep, nil
}

// configure sets the linger and the setup options of s, then attaches it.
func configure(s *zmq.Socket, linger time.Duration, attach func(*zmq.Socket) error, setup []func(*zmq.Socket) error) error {
	if err := s.SetLinger(linger); err != nil {
		return err
	}
	for _, f := range setup {
		if err := f(s); err != nil {
			return err
		}
	}
	return attach(s)
}

func (c Peers) maxMessageSize() (int64, error) {
	switch {
	case c.MaxMessageSize == 0:
		return DefaultMaxMessageSize, nil
	case c.MaxMessageSize < -1:
		return 0, fmt.Errorf("maximum message size %d: must be -1 (no limit), 0 (the default) or more", c.MaxMessageSize)
	}
	return c.MaxMessageSize, nil
}

func (c Peers) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// lastEndpoint is the endpoint a socket bound, which tells the port chosen
// for port 0 or "*"; url if ZeroMQ cannot say.
func lastEndpoint(s *zmq.Socket, url string) string {
	if ep, err := s.GetLastEndpoint(); err == nil && ep != "" {
		return ep
	}
	return url
}

// close closes the socket (if any), terminates the context and waits for
// its ZAP handler (if any), which the termination stops.
func (ep *endpoint) close() error {
	var err error
	if ep.sock != nil {
		err = ep.sock.Close()
	}
	if terr := ep.zctx.Term(); err == nil {
		err = terr
	}
	ep.zap.wait()
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
