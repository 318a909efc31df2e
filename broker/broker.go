package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
)

// DefaultHWM is the default high-water mark, in messages, of every socket
// of the broker and of Publisher and Subscriber: generous, because PUB and
// XPUB drop what does not fit (ZeroMQ's default of 1000 loses a worker's
// burst of log records). See WithHWM for what happens at the mark.
const DefaultHWM = 100000

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
	log    *slog.Logger
	hwm    int
	maxMsg int64
	key    *auth.Key
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

// WithMaxMessageSize sets the largest message frame, in bytes, that the
// broker accepts from a publisher or a subscriber (default
// DefaultMaxMessageSize); -1 means no limit. A peer that sends a larger
// frame is disconnected before the frame is allocated, and the frame goes
// nowhere.
func WithMaxMessageSize(n int64) Option { return func(o *options) { o.maxMsg = n } }

// WithKey sets the cluster key (config.Client.KeyFile). With one, the
// broker's four sockets are CURVE servers whose keys derive from it, and
// a ZAP handler admits only peers that hold it (Peers with the same Key):
// a peer without the key reads nothing and publishes nothing. The
// handshakes it refuses are counted (Stats.RefusedHandshakes) and logged,
// rate-limited, as WARNs with the peer's address. Nil: no key, plain
// ZeroMQ for a trusted network.
func WithKey(k *auth.Key) Option { return func(o *options) { o.key = k } }

// Broker forwards the command channel and the log channel. Make one with
// New, run it with Serve, stop it with Shutdown or Close. Its methods are
// safe for concurrent use.
//
// Each channel is forwarded by zmq_proxy_steerable, on a goroutine of its
// own that owns the channel's XSUB and XPUB sockets, rather than by a Go
// loop: a Go loop costs several cgo calls and a copy per frame, and
// measured at half the proxy's rate (about 360,000 against 800,000
// two-frame messages/s on two cores). The proxy counts messages and bytes
// per direction itself; the broker holds the other end of each proxy's
// control socket, asks for these counts (STATISTICS) when Stats is
// called, and sends TERMINATE to stop it.
type Broker struct {
	log   *slog.Logger
	zctx  *zmq.Context
	chans []*channel // command, log
	addrs config.Server
	zap   *zapHandler // with a key: admits the key holders' handshakes
	hwm   int         // every socket's high-water mark (HighWaterMark)

	// Serve is its Run. Done closes once every socket is closed and the
	// context terminated, so that the URLs are free.
	life lifecycle.Lifecycle
}

// New validates cfg, creates the broker's ZeroMQ context and binds its four
// sockets: an XSUB on CommandFrontendURL and LogFrontendURL, where
// publishers connect, and an XPUB on CommandBackendURL and LogBackendURL,
// where subscribers connect. A TCP port of 0 or "*" binds a free port
// (see Addrs). If anything fails, nothing stays bound; a URL that cannot
// be bound gives a *BindError, an invalid cfg a *config.Error.
func New(cfg config.Server, opts ...Option) (*Broker, error) {
	o := options{log: slog.New(slog.DiscardHandler), hwm: DefaultHWM, maxMsg: DefaultMaxMessageSize}
	for _, opt := range opts {
		opt(&o)
	}
	if o.hwm < 0 {
		return nil, fmt.Errorf("broker: high-water mark %d: must be 0 (no limit) or more", o.hwm)
	}
	if o.maxMsg < -1 || o.maxMsg == 0 {
		return nil, fmt.Errorf("broker: maximum message size %d: must be -1 (no limit) or more than 0", o.maxMsg)
	}
	if err := validate(cfg); err != nil {
		return nil, err
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("broker: create ZeroMQ context: %w", err)
	}
	b := &Broker{log: o.log, zctx: zctx, hwm: o.hwm}
	keys, err := b.secure(o)
	if err == nil {
		err = b.open(cfg, o, keys)
	}
	if err != nil {
		b.teardownIdle()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return b, nil
}

// secure derives the CURVE keys from o's key and starts the ZAP handler
// that checks them; nil keys without a key.
func (b *Broker) secure(o options) (*curveKeys, error) {
	keys, err := deriveCurveKeys(o.key)
	if err != nil || keys == nil {
		return nil, err
	}
	b.zap, err = startZAP(b.zctx, keys, b.log)
	return keys, err
}

// open creates and binds the channels' sockets, CURVE servers with keys.
// On failure the caller closes what it created, with teardownIdle.
func (b *Broker) open(cfg config.Server, o options, keys *curveKeys) error {
	for _, c := range []*channel{
		{name: "command", frontKey: "command_frontend_url", backKey: "command_backend_url",
			frontURL: cfg.CommandFrontendURL, backURL: cfg.CommandBackendURL},
		{name: "log", frontKey: "log_frontend_url", backKey: "log_backend_url",
			frontURL: cfg.LogFrontendURL, backURL: cfg.LogBackendURL},
	} {
		b.chans = append(b.chans, c) // first, so that teardownIdle closes what open created
		if err := c.open(b.zctx, o.hwm, o.maxMsg, keys); err != nil {
			return err
		}
	}
	b.addrs = config.Server{
		CommandFrontendURL: b.chans[0].frontAddr,
		CommandBackendURL:  b.chans[0].backAddr,
		LogFrontendURL:     b.chans[1].frontAddr,
		LogBackendURL:      b.chans[1].backAddr,
	}
	return nil
}

// Addrs returns the endpoints the broker is bound to, as ZeroMQ reports
// them (ZMQ_LAST_ENDPOINT): with the ports chosen for port 0 or "*", and
// 0.0.0.0 for host "*". An endpoint bound on a specific address, such as
// tcp://127.0.0.1:41234, is also the URL a peer connects to.
func (b *Broker) Addrs() config.Server { return b.addrs }

// Serve forwards both channels until Shutdown or Close, then returns
// ErrClosed. If a channel's forwarding fails, Serve closes the broker and
// returns a *ChannelError. Serve runs once: a second Serve while one is
// going fails with an error wrapping lifecycle.ErrRunning, and Serve after
// Shutdown or Close returns ErrClosed.
func (b *Broker) Serve() error {
	if err := b.life.Begin(); err != nil {
		if errors.Is(err, lifecycle.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("broker: %w", err)
	}
	defer b.life.End()
	b.log.Info("broker serving",
		"command_frontend", b.addrs.CommandFrontendURL, "command_backend", b.addrs.CommandBackendURL,
		"log_frontend", b.addrs.LogFrontendURL, "log_backend", b.addrs.LogBackendURL)

	run := startProxies(b.chans, b.log)
	failure := run.wait(b.life.Context().Done())
	if err := run.terminate(); failure == nil {
		failure = err
	}
	// Terminating the context makes a proxy still running (one that missed
	// TERMINATE) return ETERM and close its sockets, which Term waits for.
	b.teardown()
	run.drain()
	b.logStopped()
	if failure != nil {
		return fmt.Errorf("broker: %w", failure)
	}
	return ErrClosed
}

func (b *Broker) logStopped() {
	st := b.Stats()
	b.log.Info("broker stopped",
		"command_messages", st.Command.Down.Messages, "command_bytes", st.Command.Down.Bytes,
		"log_messages", st.Log.Down.Messages, "log_bytes", st.Log.Down.Bytes,
		"subscription_messages", st.Command.Up.Messages+st.Log.Up.Messages, "refused_handshakes", st.RefusedHandshakes)
}

// Shutdown stops forwarding, closes every socket (messages still queued
// are dropped: there is nothing to drain in publish-subscribe) and
// terminates the ZeroMQ context, so that the URLs are free again when it
// returns nil. It returns ctx's error if ctx ends first; the broker still
// closes, in the background.
func (b *Broker) Shutdown(ctx context.Context) error {
	if b.life.StopIdle() {
		// No Serve: nobody uses the sockets, close them here, in its place.
		b.teardownIdle()
		b.life.End()
		return nil
	}
	b.life.Stop() // Serve stops the proxies and closes the sockets
	return b.life.Wait(ctx)
}

// Close is Shutdown without a deadline: it too returns once the broker is
// closed, which takes milliseconds.
func (b *Broker) Close() error { return b.Shutdown(context.Background()) }

// teardown closes the broker's ends of the control sockets and terminates
// the context. With LINGER 0 everywhere, Term waits only for sockets still
// open in proxies that are stopping.
func (b *Broker) teardown() {
	for _, c := range b.chans {
		c.closeControl()
	}
	if err := b.zctx.Term(); err != nil {
		b.log.Warn("broker: terminate the ZeroMQ context", "err", err)
	}
	b.zap.wait() // the termination stopped it
}

// teardownIdle is teardown for a broker that never served: its proxies'
// sockets are nobody's, so they are closed here.
func (b *Broker) teardownIdle() {
	for _, c := range b.chans {
		c.closeProxySockets()
	}
	b.teardown()
}
