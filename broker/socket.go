package broker

import (
	"fmt"
	"net"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// DefaultMaxMessageSize is the largest message frame, in bytes, that any
// socket of the broker, of a Publisher or of a Subscriber accepts
// (ZMQ_MAXMSGSIZE). libzmq checks a frame's size in its header, before
// allocating it, and disconnects a peer that sends a larger one: the frame
// is neither stored nor forwarded, and the peer's connection (with what it
// had queued) is dropped; it reconnects by itself. Without the limit one
// 300 MB message on the command channel grew the broker to 334 MB and every
// worker to ~500 MB.
//
// The largest legitimate frames are a log record (a few KB; a panic's
// stack trace tens of KB) and a stats reply (under a KB per worker):
// 1 MiB leaves a margin of more than ten times the largest of them.
const DefaultMaxMessageSize = 1 << 20

// heartbeat is how often every TCP peer sends a ZMTP PING on an idle
// connection, and how long it waits for any traffic before it drops the
// connection. TCP keepalive alone notices a vanished host only after
// minutes, and a connection whose far end is frozen (a partition that
// keeps both kernels' state, a hung proxy) not at all: a subscriber then
// waits forever on a connection nothing flows through, while a new one
// would work. A connecting peer reconnects by itself once it drops one.
// A variable so that tests can shorten it.
var heartbeat = struct{ interval, timeout time.Duration }{5 * time.Second, 15 * time.Second}

// newSocket makes a socket for url ("" for an inproc control socket)
// with LINGER 0 (closing it never waits, so terminating the context
// cannot hang on queued messages), the given high-water marks, a maximum
// message size of maxMsg bytes (-1: no limit), TCP keepalive, ZMTP
// heartbeats (see heartbeat), and IPv6 on
// when url's host is an IPv6 address (ZeroMQ refuses those otherwise).
func newSocket(zctx *zmq.Context, t zmq.Type, hwm int, maxMsg int64, url string) (*zmq.Socket, error) {
	s, err := zctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("create %v socket: %w", t, err)
	}
	set := []func() error{
		func() error { return s.SetLinger(0) },
		func() error { return s.SetSndhwm(hwm) },
		func() error { return s.SetRcvhwm(hwm) },
		func() error { return s.SetMaxmsgsize(maxMsg) },
	}
	if isIPv6(url) {
		set = append(set, func() error { return s.SetIpv6(true) })
	}
	if url != "" {
		// Brokers and workers run for months: notice a peer that vanished
		// without closing its connection (its host died), so that its
		// queue and subscriptions go away. Set before bind or connect,
		// which copy the options.
		set = append(set,
			func() error { return s.SetTcpKeepalive(1) },
			func() error { return s.SetTcpKeepaliveIdle(60) },
			func() error { return s.SetHeartbeatIvl(heartbeat.interval) },
			func() error { return s.SetHeartbeatTimeout(heartbeat.timeout) },
			func() error { return s.SetHeartbeatTtl(heartbeat.timeout) },
		)
	}
	for _, f := range set {
		if err := f(); err != nil {
			s.Close()
			return nil, fmt.Errorf("set up %v socket: %w", t, err)
		}
	}
	return s, nil
}

func isIPv6(url string) bool {
	rest, ok := strings.CutPrefix(url, "tcp://")
	if !ok {
		return false
	}
	host, _, err := net.SplitHostPort(rest)
	return err == nil && strings.Contains(host, ":")
}

// bind binds s to url, the broker's URL of config key key, and returns
// the endpoint ZeroMQ bound, which tells the port chosen for port 0 or
// "*".
func bind(s *zmq.Socket, key, url string) (string, error) {
	if err := s.Bind(url); err != nil {
		return "", &BindError{Key: key, URL: url, Err: err}
	}
	addr, err := s.GetLastEndpoint()
	if err != nil {
		return "", &BindError{Key: key, URL: url, Err: fmt.Errorf("read the bound endpoint: %w", err)}
	}
	return addr, nil
}
