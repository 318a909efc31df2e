package gearman

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the IANA port of the Gearman protocol.
const DefaultPort = 4730

// MaxUniqueSize is the longest unique id gearmand handles. Its buffer
// (GEARMAN_MAX_UNIQUE_SIZE) is 64 bytes with the terminating NUL: gearmand
// 1.1.20 refuses a 65-byte id with ERROR, but takes a 64-byte one, cuts it
// to 63 bytes (so it coalesces with another job) and puts a NUL before the
// job's data.
const MaxUniqueSize = 63

// Option configures a Client, a Worker or an Admin; each ignores the
// options that do not concern it.
type Option func(*options)

type options struct {
	clientID       string
	dialTimeout    time.Duration
	requestTimeout time.Duration
	maxPacket      int
	backoffMin     time.Duration
	backoffMax     time.Duration
	logger         *slog.Logger
	concurrency    int
}

func buildOptions(opts []Option) options {
	o := options{
		dialTimeout:    5 * time.Second,
		requestTimeout: DefaultRequestTimeout,
		maxPacket:      DefaultMaxPacketSize,
		backoffMin:     20 * time.Millisecond,
		backoffMax:     2 * time.Second,
		logger:         slog.New(slog.DiscardHandler),
		concurrency:    4 * runtime.GOMAXPROCS(0),
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClientID sets the id the job server shows for this connection in the
// admin "workers" listing (SET_CLIENT_ID).
func WithClientID(id string) Option { return func(o *options) { o.clientID = id } }

// WithDialTimeout bounds each connection attempt (default 5s).
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithRequestTimeout bounds how long a job server may take to answer each
// request of a Client or an Admin (default DefaultRequestTimeout, 10s),
// whatever the caller's context: the handshake of a new connection
// (OPTION_REQ), a submission's JOB_CREATED, GET_STATUS, ECHO and each
// admin command. A foreground job's result is not bounded: a job may run
// for hours. A request that times out fails with a *TimeoutError naming the
// server and what never came, and its connection is closed and dialled
// again, failing the other requests and tasks on it too (wrapping
// ErrConnectionLost): replies come in order, so a server that left one
// request unanswered answers none after it. The time counts from when the
// request is queued, so a job of many megabytes over a slow link needs a
// longer timeout. d <= 0 means the default. Workers ignore it.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) {
		o.requestTimeout = d
		if d <= 0 {
			o.requestTimeout = DefaultRequestTimeout
		}
	}
}

// WithMaxPacketSize bounds the body of a packet (default
// DefaultMaxPacketSize). A Client refuses to submit a larger job. A job's
// packet read over the limit is dropped and only that job fails: a Worker
// answers it with WORK_EXCEPTION, a Client fails the task. Any other larger
// packet closes the connection. n <= 0 means the default.
func WithMaxPacketSize(n int) Option {
	return func(o *options) {
		o.maxPacket = n
		if n <= 0 {
			o.maxPacket = DefaultMaxPacketSize
		}
	}
}

// WithBackoff sets the wait between reconnect attempts: it doubles from min
// up to max (defaults 20ms and 2s).
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = min, max }
}

// WithLogger sets where connection events are logged (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithConcurrency sets how many jobs a Worker runs at once, over all its
// job servers. The default, four per GOMAXPROCS, keeps enough jobs in
// flight to hide the round trip to the job server when jobs are short or
// wait on I/O; for CPU-bound jobs spread over several workers, set it to
// GOMAXPROCS so that no worker holds jobs it cannot run yet. Clients
// ignore it.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// normalizeAddrs checks "host[:port]" addresses and adds the default port.
func normalizeAddrs(addrs []string) ([]string, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("gearman: no job server address given")
	}
	out := make([]string, 0, len(addrs))
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			if !strings.Contains(err.Error(), "missing port") {
				return nil, fmt.Errorf("gearman: bad job server address %q: %w", a, err)
			}
			host, port = strings.Trim(a, "[]"), strconv.Itoa(DefaultPort)
		}
		if host == "" {
			return nil, fmt.Errorf("gearman: bad job server address %q: no host", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("gearman: bad job server address %q: port %q is not 1-65535", a, port)
		}
		norm := net.JoinHostPort(host, port)
		if seen[norm] {
			return nil, fmt.Errorf("gearman: job server %s given twice", norm)
		}
		seen[norm] = true
		out = append(out, norm)
	}
	return out, nil
}

// checkFunction validates a function name before it goes on the wire.
func checkFunction(fn string) error {
	if fn == "" {
		return fmt.Errorf("gearman: empty function name")
	}
	if strings.IndexByte(fn, 0) >= 0 {
		return fmt.Errorf("gearman: function name %q contains a NUL byte", fn)
	}
	return nil
}

func checkUnique(id string) error {
	if len(id) > MaxUniqueSize {
		return fmt.Errorf("unique id of %d bytes is over the job server's %d-byte limit", len(id), MaxUniqueSize)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("unique id %q contains a NUL byte", id)
	}
	return nil
}
