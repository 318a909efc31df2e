package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/glimpse-go/glimpse/config"
)

// DefaultHWM is the default high-water mark, in messages, of every socket
// of the broker and of Publisher and Subscriber: generous, because PUB and
// XPUB drop what does not fit (ZeroMQ's default of 1000 loses a worker's
// burst of log records). See WithHWM for what happens at the mark.
const DefaultHWM = 100000

// ErrClosed is what Serve returns after Shutdown or Close, and what the
// methods of a closed Publisher or Subscriber return.
var ErrClosed = errors.New("broker: closed")

// ErrAddrInUse is wrapped by the error of BindPublisher and BindSubscriber
// when another socket holds the URL's port: with no broker, another
// client holds the channel.
var ErrAddrInUse = errors.New("address in use")

const (
	// controlTimeout bounds the wait for a proxy's answer on its control
	// socket; it answers in microseconds unless it has died.
	controlTimeout = 200 * time.Millisecond
	// terminateTimeout bounds the wait for the proxies to return after
	// TERMINATE before the context is terminated under them (they then
	// return ETERM), so that Shutdown stays well within a second.
	terminateTimeout = 300 * time.Millisecond
)

// Option configures a Broker.
type Option func(*options)

type options struct {
	log *slog.Logger
	hwm int
}

// WithLogger sets where the broker logs when it starts serving and when it
// stops; by default it logs nothing.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithHWM sets the high-water mark of the broker's sockets (default
// DefaultHWM, in messages). A subscriber whose queue in the broker is full
// loses the messages that do not fit: XPUB drops them rather than slow the
// other subscribers down. A publisher whose queue in the broker is full is
// no longer read, so its own queue fills and its PUB drops in turn.
func WithHWM(n int) Option { return func(o *options) { o.hwm = n } }

// Traffic counts whole messages (a multi-part message is one) and their
// bytes, all parts included.
type Traffic struct {
	Messages, Bytes uint64
}

// ChannelStats is the traffic of one channel.
type ChannelStats struct {
	Down Traffic // publishers to subscribers: the channel's commands or log records
	Up   Traffic // subscribers to publishers: subscribe and unsubscribe messages
}

// Stats is the traffic forwarded since New.
type Stats struct {
	Command ChannelStats // clients to workers
	Log     ChannelStats // workers to clients
}

// Broker forwards the command channel and the log channel. Make one with
// New, run it with Serve, stop it with Shutdown or Close. Its methods are
// safe for concurrent use.
//
// Each channel is forwarded by zmq_proxy_steerable, on a goroutine of its
// own that owns the channel's XSUB and XPUB sockets, rather than by a Go
// loop: a Go loop costs several cgo calls and a copy per frame, and
// measured at half the proxy's rate (about 360,000 against 800,000
// two-frame messages/s on two cores). The proxy counts messages and bytes
// per direction itself; Serve owns the other end of each proxy's control
// socket and asks for these counts (STATISTICS) when Stats is called, and
// sends TERMINATE to stop it.
type Broker struct {
	log   *slog.Logger
	zctx  *zmq.Context
	chans []*channel
	addrs config.Server

	mu       sync.Mutex
	state    state
	quit     chan struct{} // closed by the first Shutdown or Close
	quitOnce sync.Once
	loopDone chan struct{}      // closed when Serve stops answering statsReq
	done     chan struct{}      // closed once every socket is closed and the context terminated
	statsReq chan chan struct{} // Stats asks Serve to refresh the counters
}

type state int

const (
	stateIdle state = iota
	stateServing
	stateClosed
)

// channel is one of the two forwarded channels.
type channel struct {
	name               string // "command" or "log"
	frontKey, backKey  string // config keys, for errors
	frontURL, backURL  string
	frontAddr          string // endpoints actually bound
	backAddr           string
	xsub, xpub         *zmq.Socket // publishers connect to xsub, subscribers to xpub
	control, ctlClient *zmq.Socket // PAIR: the proxy's end, Serve's end

	// Counters refreshed from the proxy's STATISTICS; atomics so that
	// Stats can read them from any goroutine, after Close too.
	downMsgs, downBytes, upMsgs, upBytes atomic.Uint64

	tid atomic.Int64 // the proxy's OS thread, for a test to aim signals at
}

// New validates cfg, creates the broker's ZeroMQ context and binds its four
// sockets: an XSUB on CommandFrontendURL and LogFrontendURL, where
// publishers connect, and an XPUB on CommandBackendURL and LogBackendURL,
// where subscribers connect. A TCP port of 0 or "*" binds a free port
// (see Addrs). If anything fails, nothing stays bound.
func New(cfg config.Server, opts ...Option) (*Broker, error) {
	o := options{log: slog.New(slog.DiscardHandler), hwm: DefaultHWM}
	for _, opt := range opts {
		opt(&o)
	}
	if o.hwm < 0 {
		return nil, fmt.Errorf("broker: high-water mark %d: must be 0 (no limit) or more", o.hwm)
	}
	if err := validate(cfg); err != nil {
		return nil, err
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("broker: create ZeroMQ context: %w", err)
	}
	b := &Broker{
		log:      o.log,
		zctx:     zctx,
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
		done:     make(chan struct{}),
		statsReq: make(chan chan struct{}),
	}
	bound := false
	defer func() {
		if !bound {
			b.teardownIdle()
		}
	}()
	for _, c := range []*channel{
		{name: "command", frontKey: "command_frontend_url", backKey: "command_backend_url",
			frontURL: cfg.CommandFrontendURL, backURL: cfg.CommandBackendURL},
		{name: "log", frontKey: "log_frontend_url", backKey: "log_backend_url",
			frontURL: cfg.LogFrontendURL, backURL: cfg.LogBackendURL},
	} {
		b.chans = append(b.chans, c) // first, so that teardown closes what open created
		if err := c.open(zctx, o.hwm); err != nil {
			return nil, err
		}
	}
	b.addrs = config.Server{
		CommandFrontendURL: b.chans[0].frontAddr,
		CommandBackendURL:  b.chans[0].backAddr,
		LogFrontendURL:     b.chans[1].frontAddr,
		LogBackendURL:      b.chans[1].backAddr,
	}
	bound = true
	return b, nil
}

// validate applies config's rules, which know nothing of the ephemeral
// ports a program (a test, a local cluster) may ask New for, and checks
// what only the broker cares about.
func validate(cfg config.Server) error {
	if cfg.IsZero() {
		return errors.New("broker: [server] sets no URL: the broker binds command_frontend_url, command_backend_url, log_frontend_url and log_backend_url")
	}
	// Validate a copy with the ephemeral ports replaced by a real one, and
	// put the URLs as given back into its errors.
	check := cfg
	swapped := map[string]string{}
	for i, u := range []*string{&check.CommandFrontendURL, &check.CommandBackendURL, &check.LogFrontendURL, &check.LogBackendURL} {
		if v := withFixedPort(*u, 65531+i); v != *u {
			swapped[v] = *u
			*u = v
		}
	}
	if err := check.Validate(); err != nil {
		if len(swapped) == 0 {
			return fmt.Errorf("broker: %w", err) // errors.As finds the *config.Error values
		}
		msg := err.Error()
		for v, u := range swapped {
			msg = strings.ReplaceAll(msg, v, u)
		}
		return errors.New("broker: " + msg)
	}
	for _, u := range []struct{ key, url string }{
		{"command_frontend_url", cfg.CommandFrontendURL}, {"command_backend_url", cfg.CommandBackendURL},
		{"log_frontend_url", cfg.LogFrontendURL}, {"log_backend_url", cfg.LogBackendURL},
	} {
		if strings.HasPrefix(u.url, "inproc://") {
			// An inproc endpoint lives in one ZeroMQ context, and the
			// broker's is its own: no peer could ever reach it.
			return fmt.Errorf("broker: [server] %s: %q: inproc endpoints are private to the broker's ZeroMQ context; use tcp:// or ipc://", u.key, u.url)
		}
	}
	return nil
}

// withFixedPort turns tcp://host:0 and tcp://host:* into tcp://host:port.
func withFixedPort(u string, port int) string {
	rest, ok := strings.CutPrefix(u, "tcp://")
	if !ok {
		return u
	}
	host, p, err := net.SplitHostPort(rest)
	if err != nil || (p != "0" && p != "*") {
		return u
	}
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// open creates and binds the channel's sockets.
func (c *channel) open(zctx *zmq.Context, hwm int) error {
	var err error
	if c.xsub, err = newSocket(zctx, zmq.XSUB, hwm, c.frontURL); err != nil {
		return fmt.Errorf("broker: %s channel: %w", c.name, err)
	}
	if c.frontAddr, err = bind(c.xsub, c.frontKey, c.frontURL); err != nil {
		return err
	}
	if c.xpub, err = newSocket(zctx, zmq.XPUB, hwm, c.backURL); err != nil {
		return fmt.Errorf("broker: %s channel: %w", c.name, err)
	}
	if c.backAddr, err = bind(c.xpub, c.backKey, c.backURL); err != nil {
		return err
	}
	// inproc names are per context, and the context is this broker's.
	ctlURL := "inproc://glimpse-broker-" + c.name + "-control"
	if c.control, err = newSocket(zctx, zmq.PAIR, 0, ""); err != nil {
		return fmt.Errorf("broker: %s channel control socket: %w", c.name, err)
	}
	if err := c.control.Bind(ctlURL); err != nil {
		return fmt.Errorf("broker: %s channel control socket: bind %s: %w", c.name, ctlURL, err)
	}
	if c.ctlClient, err = newSocket(zctx, zmq.PAIR, 0, ""); err != nil {
		return fmt.Errorf("broker: %s channel control socket: %w", c.name, err)
	}
	if err := c.ctlClient.SetRcvtimeo(controlTimeout); err != nil {
		return fmt.Errorf("broker: %s channel control socket: %w", c.name, err)
	}
	if err := c.ctlClient.Connect(ctlURL); err != nil {
		return fmt.Errorf("broker: %s channel control socket: connect %s: %w", c.name, ctlURL, err)
	}
	return nil
}

// newSocket makes a socket for url ("" for an inproc control socket)
// with LINGER 0 (closing it never waits, so terminating the context
// cannot hang on queued messages), the given high-water marks, TCP
// keepalive, and IPv6 on when url's host is an IPv6 address (ZeroMQ
// refuses those otherwise).
func newSocket(zctx *zmq.Context, t zmq.Type, hwm int, url string) (*zmq.Socket, error) {
	s, err := zctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("create %v socket: %w", t, err)
	}
	set := []func() error{
		func() error { return s.SetLinger(0) },
		func() error { return s.SetSndhwm(hwm) },
		func() error { return s.SetRcvhwm(hwm) },
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

// bind binds s to url and returns the endpoint ZeroMQ bound, which tells
// the port chosen for port 0 or "*".
func bind(s *zmq.Socket, key, url string) (string, error) {
	if err := s.Bind(url); err != nil {
		return "", fmt.Errorf("broker: bind %s %s: %w", key, url, err)
	}
	addr, err := s.GetLastEndpoint()
	if err != nil {
		return "", fmt.Errorf("broker: bind %s %s: read the bound endpoint: %w", key, url, err)
	}
	return addr, nil
}

// Addrs returns the endpoints the broker is bound to, as ZeroMQ reports
// them (ZMQ_LAST_ENDPOINT): with the ports chosen for port 0 or "*", and
// 0.0.0.0 for host "*". An endpoint bound on a specific address, such as
// tcp://127.0.0.1:41234, is also the URL a peer connects to.
func (b *Broker) Addrs() config.Server { return b.addrs }

// Serve forwards both channels until Shutdown or Close, then returns
// ErrClosed. If a channel's forwarding fails, Serve closes the broker and
// returns the error. Serve may be called once.
func (b *Broker) Serve() error {
	b.mu.Lock()
	switch b.state {
	case stateClosed:
		b.mu.Unlock()
		return ErrClosed
	case stateServing:
		b.mu.Unlock()
		return errors.New("broker: Serve called twice")
	}
	b.state = stateServing
	b.mu.Unlock()

	b.log.Info("broker serving",
		"command_frontend", b.addrs.CommandFrontendURL, "command_backend", b.addrs.CommandBackendURL,
		"log_frontend", b.addrs.LogFrontendURL, "log_backend", b.addrs.LogBackendURL)

	type exit struct {
		c   *channel
		err error
	}
	exited := make(chan exit, len(b.chans))
	running := len(b.chans)      // proxies that have not returned
	alive := map[*channel]bool{} // proxies that answer on their control socket
	for _, c := range b.chans {
		alive[c] = true
		go func() { exited <- exit{c, c.proxy()} }()
	}
	var failure error
loop:
	for {
		select {
		case req := <-b.statsReq:
			b.refresh(alive)
			close(req)
		case <-b.quit:
			break loop
		case e := <-exited:
			// Only TERMINATE, which Serve has not sent yet, ends a proxy
			// cleanly.
			running--
			delete(alive, e.c)
			if e.err == nil {
				e.err = errors.New("stopped")
			}
			failure = fmt.Errorf("broker: %s channel: %w", e.c.name, e.err)
			b.log.Error("broker failed", "channel", e.c.name, "err", e.err)
			break loop
		}
	}
	b.refresh(alive) // the final counts
	close(b.loopDone)

	for c := range alive {
		if err := c.sendControl("TERMINATE"); err != nil {
			b.log.Warn("broker: cannot stop the proxy", "channel", c.name, "err", err)
		}
	}
	timeout := time.After(terminateTimeout)
wait:
	for running > 0 {
		select {
		case e := <-exited:
			running--
			if e.err != nil && failure == nil {
				failure = fmt.Errorf("broker: %s channel: %w", e.c.name, e.err)
			}
		case <-timeout:
			b.log.Warn("broker: proxies slow to stop; terminating the ZeroMQ context under them", "running", running)
			break wait
		}
	}
	b.mu.Lock()
	b.state = stateClosed
	b.mu.Unlock()
	// Terminating the context makes a proxy still running (one that missed
	// TERMINATE) return ETERM and close its sockets, which Term waits for.
	b.teardown()
	for ; running > 0; running-- {
		<-exited
	}
	close(b.done)
	st := b.Stats()
	b.log.Info("broker stopped",
		"command_messages", st.Command.Down.Messages, "command_bytes", st.Command.Down.Bytes,
		"log_messages", st.Log.Down.Messages, "log_bytes", st.Log.Down.Bytes,
		"subscription_messages", st.Command.Up.Messages+st.Log.Up.Messages)
	if failure != nil {
		return failure
	}
	return ErrClosed
}

// proxy forwards the channel until TERMINATE (nil) or a failure, then
// closes the sockets it used: they belong to this goroutine.
func (c *channel) proxy() error {
	defer func() {
		c.xsub.Close()
		c.xpub.Close()
		c.control.Close()
	}()
	// zmq_proxy_steerable gives up with EINTR when a signal lands on its
	// thread, and pebbe/zmq4 then silently starts it again with its
	// counters at zero; so no signal may land there. Signals go to the
	// process's other threads instead.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	restore := blockSignals()
	defer restore()
	c.tid.Store(int64(threadID()))
	err := zmq.ProxySteerable(c.xsub, c.xpub, nil, c.control)
	// pebbe/zmq4 closes a socket from a GC finalizer once it is
	// unreachable, and a socket handed to C counts as unreachable: keep
	// them alive for the whole proxy (the deferred Close does too, but
	// say so here, where it matters).
	runtime.KeepAlive(c.xsub)
	runtime.KeepAlive(c.xpub)
	runtime.KeepAlive(c.control)
	return err
}

// sendControl sends a proxy command. Only PAUSE, RESUME, TERMINATE and
// STATISTICS may be sent: libzmq aborts the process on any other.
func (c *channel) sendControl(cmd string) error {
	_, err := c.ctlClient.Send(cmd, zmq.DONTWAIT)
	return err
}

// refresh reads the counters of the running proxies into the atomics.
func (b *Broker) refresh(alive map[*channel]bool) {
	for c := range alive {
		if err := c.refresh(); err != nil {
			// A proxy that does not answer is dead or wedged; Serve
			// learns which from its exit, or stops it with the context.
			b.log.Warn("broker: cannot read the proxy's statistics", "channel", c.name, "err", err)
			delete(alive, c)
		}
	}
}

func (c *channel) refresh() error {
	if err := c.sendControl("STATISTICS"); err != nil {
		return err
	}
	reply, err := c.ctlClient.RecvMessageBytes(0)
	if err != nil {
		return err
	}
	// Eight native-endian uint64: the frontend's (XSUB's) messages in,
	// bytes in, messages out, bytes out, then the backend's (XPUB's).
	if len(reply) != 8 {
		return fmt.Errorf("STATISTICS reply has %d parts, want 8", len(reply))
	}
	v := make([]uint64, 8)
	for i, p := range reply {
		if len(p) != 8 {
			return fmt.Errorf("STATISTICS reply part %d has %d bytes, want 8", i, len(p))
		}
		v[i] = binary.NativeEndian.Uint64(p)
	}
	c.downMsgs.Store(v[0])
	c.downBytes.Store(v[1])
	c.upMsgs.Store(v[4])
	c.upBytes.Store(v[5])
	return nil
}

// teardown closes every socket Serve's goroutines do not own and
// terminates the context. With LINGER 0 everywhere, Term waits only for
// sockets still open in proxies that are stopping.
func (b *Broker) teardown() {
	for _, c := range b.chans {
		if c.ctlClient != nil {
			c.ctlClient.Close()
		}
	}
	if err := b.zctx.Term(); err != nil {
		b.log.Warn("broker: terminate the ZeroMQ context", "err", err)
	}
}

// teardownIdle is teardown for a broker that never served: its proxies'
// sockets are nobody's, so they are closed here.
func (b *Broker) teardownIdle() {
	for _, c := range b.chans {
		for _, s := range []*zmq.Socket{c.xsub, c.xpub, c.control} {
			if s != nil {
				s.Close()
			}
		}
	}
	b.teardown()
}

// Stats returns the traffic forwarded so far. While the broker serves it
// asks the proxies for their counts, so they are current; after Close they
// are the final ones.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	serving := b.state == stateServing
	b.mu.Unlock()
	if serving {
		req := make(chan struct{})
		select {
		case b.statsReq <- req:
			<-req
		case <-b.loopDone:
		}
	}
	var st Stats
	for i, c := range b.chans {
		cs := ChannelStats{
			Down: Traffic{Messages: c.downMsgs.Load(), Bytes: c.downBytes.Load()},
			Up:   Traffic{Messages: c.upMsgs.Load(), Bytes: c.upBytes.Load()},
		}
		if i == 0 {
			st.Command = cs
		} else {
			st.Log = cs
		}
	}
	return st
}

// Shutdown stops forwarding, closes every socket (messages still queued
// are dropped: there is nothing to drain in publish-subscribe) and
// terminates the ZeroMQ context, so that the URLs are free again when it
// returns nil. It returns ctx's error if ctx ends first; the broker still
// closes, in the background.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	switch b.state {
	case stateIdle:
		// No Serve: nobody uses the sockets, close them here.
		b.state = stateClosed
		b.quitOnce.Do(func() { close(b.quit) })
		close(b.loopDone)
		b.mu.Unlock()
		b.teardownIdle()
		close(b.done)
		return nil
	case stateServing:
		b.quitOnce.Do(func() { close(b.quit) })
	}
	b.mu.Unlock()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline: it too returns once the broker is
// closed, which takes milliseconds.
func (b *Broker) Close() error { return b.Shutdown(context.Background()) }
