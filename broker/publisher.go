package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"
)

const (
	// DefaultLinger is how long Publisher.Close waits for queued messages
	// to leave.
	DefaultLinger = time.Second
	// drainEvery is how many sends go by between two reads of the
	// subscriptions queued in a Publisher's socket.
	drainEvery = 1024
)

// PublisherOption configures a Publisher.
type PublisherOption func(*pubOptions)

type pubOptions struct {
	hwm    int
	linger time.Duration
}

// WithSendHWM sets the Publisher's high-water mark (default DefaultHWM, in
// messages): messages beyond it, while the broker is slow or unreachable,
// are dropped.
func WithSendHWM(n int) PublisherOption { return func(o *pubOptions) { o.hwm = n } }

// WithLinger sets how long Close waits for queued messages to reach the
// broker (default DefaultLinger); 0 drops them at once.
func WithLinger(d time.Duration) PublisherOption { return func(o *pubOptions) { o.linger = d } }

// Publisher publishes messages to a broker's frontend: clients publish
// commands to command_frontend_url, workers publish log records,
// heartbeats and replies to log_frontend_url.
//
// A Publisher is not safe for concurrent use, because a ZeroMQ socket is
// not: use it from one goroutine at a time, for example under a
// sync.Mutex (whose happens-before edges are the memory barrier ZeroMQ
// asks for when a socket moves between threads).
//
// A message is a topic frame followed by any number of parts; subscribers
// filter on the topic by prefix. Publish-subscribe drops messages instead
// of waiting: nothing is sent while no subscriber's subscription has
// reached the Publisher (right after NewPublisher, the subscriptions have
// not arrived yet), and a queue over its high-water mark drops. Use
// WaitSubscribed before sending what must not be lost to a slow start.
//
// The socket is an XPUB rather than a PUB, so that the subscriptions the
// broker forwards upstream can be read: that is what WaitSubscribed and
// Subscribed look at.
type Publisher struct {
	url    string
	ep     *endpoint // the socket's context and ZAP handler
	sock   *zmq.Socket
	poller *zmq.Poller
	subs   map[string]bool // subscribed topic prefixes, as the broker forwarded them
	joins  map[string]int  // bound only: subscribe messages received, by topic prefix
	sends  int
	closed bool
}

// NewPublisher connects a Publisher to url, a broker frontend. Connecting
// is asynchronous and retried: a broker that is not up yet is not an
// error, and one that restarts is reconnected to. It is Peers{}.NewPublisher:
// no key.
func NewPublisher(url string, opts ...PublisherOption) (*Publisher, error) {
	return Peers{}.NewPublisher(url, opts...)
}

// NewPublisher is the package's NewPublisher with c's key and limits.
func (c Peers) NewPublisher(url string, opts ...PublisherOption) (*Publisher, error) {
	o := pubOptions{hwm: DefaultHWM, linger: DefaultLinger}
	for _, opt := range opts {
		opt(&o)
	}
	// IMMEDIATE: without it the connection's queue, and the subscriptions
	// it carried, outlive a broker restart, so the Publisher would go on
	// believing in subscriptions the new broker never had. With it they
	// go with the connection, and messages published while there is none
	// are dropped, as they would be with no subscriber.
	ep, err := c.dial(url, zmq.XPUB, o.hwm, o.linger, func(s *zmq.Socket) error { return s.SetImmediate(true) })
	if err != nil {
		return nil, fmt.Errorf("broker: publisher: %w", err)
	}
	return wrapPublisher(url, ep, false), nil
}

// BindPublisher is NewPublisher for a cluster with no broker: it binds url
// itself, and subscribers (workers) connect to it. A TCP port of 0 or "*"
// binds a free port (see URL). A port another process holds gives an error
// that wraps ErrAddrInUse.
//
// Each subscriber's subscriptions reach it, not only the first of a topic
// (ZMQ_XPUB_VERBOSE), so Subscriptions counts the subscribers that joined.
// It is Peers{}.BindPublisher: no key.
func BindPublisher(url string, opts ...PublisherOption) (*Publisher, error) {
	return Peers{}.BindPublisher(url, opts...)
}

// BindPublisher is the package's BindPublisher with c's key and limits:
// with a key, only key holders can connect.
func (c Peers) BindPublisher(url string, opts ...PublisherOption) (*Publisher, error) {
	o := pubOptions{hwm: DefaultHWM, linger: DefaultLinger}
	for _, opt := range opts {
		opt(&o)
	}
	ep, err := c.listen(url, zmq.XPUB, o.hwm, o.linger, func(s *zmq.Socket) error { return s.SetXpubVerbose(1) })
	if err != nil {
		return nil, fmt.Errorf("broker: publisher: %w", err)
	}
	return wrapPublisher(lastEndpoint(ep.sock, url), ep, true), nil
}

func wrapPublisher(url string, ep *endpoint, bound bool) *Publisher {
	p := &Publisher{url: url, ep: ep, sock: ep.sock, poller: zmq.NewPoller(), subs: map[string]bool{}}
	if bound {
		// Counted only here: a worker's Publisher lives for months and
		// sees a new reply topic per command.
		p.joins = map[string]int{}
	}
	p.poller.Add(ep.sock, zmq.POLLIN)
	return p
}

// URL is the URL the Publisher connected to, or for one made by
// BindPublisher the endpoint it bound, as ZeroMQ reports it (with the port
// chosen for port 0 or "*").
func (p *Publisher) URL() string { return p.url }

// Send publishes a message: topic, then parts. It does not wait: a message
// nobody is subscribed to, or that does not fit under the high-water mark,
// is dropped without an error. The parts arrive together or not at all.
func (p *Publisher) Send(topic string, parts ...[]byte) error {
	if p.closed {
		return ErrClosed
	}
	flags := zmq.DONTWAIT
	if len(parts) > 0 {
		flags |= zmq.SNDMORE
	}
	if _, err := p.sock.Send(topic, flags); err != nil {
		return fmt.Errorf("broker: publish to %s: %w", p.url, err)
	}
	for i, part := range parts {
		if i == len(parts)-1 {
			flags = zmq.DONTWAIT
		}
		if _, err := p.sock.SendBytes(part, flags); err != nil {
			return fmt.Errorf("broker: publish to %s: %w", p.url, err)
		}
	}
	// Subscription changes queue up in the socket until read; read them
	// now and then so that a Publisher that never waits does not hoard
	// them.
	if p.sends++; p.sends%drainEvery == 0 {
		return p.drain()
	}
	return nil
}

// WaitSubscribed waits until some subscriber's subscription matching topic
// has reached the Publisher through the broker, so that a message on
// topic sent next is delivered to it rather than dropped. It returns
// ctx's error if ctx ends first. It cannot tell how many subscribers
// there are: the broker forwards a subscription once, however many
// subscribers share it.
//
// Messages sent before any subscription arrives are lost: this is the
// "slow joiner" of publish-subscribe. A subscription takes a few
// milliseconds to travel from a new Subscriber to the Publishers, and a
// new Publisher receives the current subscriptions a few milliseconds
// after it connects.
//
// To wait for one subscriber in particular, have it subscribe last to a
// topic of its own (its id, say) and wait for that topic: one
// subscriber's subscriptions travel in order, so the others have arrived
// by then.
func (p *Publisher) WaitSubscribed(ctx context.Context, topic string) error {
	for {
		if err := p.drain(); err != nil {
			return err
		}
		if p.subscribed(topic) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := waitReadable(ctx, p.poller); err != nil {
			return fmt.Errorf("broker: publisher %s: %w", p.url, err)
		}
	}
}

// Subscribed reports whether a subscription matching topic has reached the
// Publisher: whether a message on topic would go anywhere now.
func (p *Publisher) Subscribed(topic string) bool {
	return p.drain() == nil && p.subscribed(topic)
}

func (p *Publisher) subscribed(topic string) bool {
	for s := range p.subs {
		if strings.HasPrefix(topic, s) {
			return true
		}
	}
	return false
}

// Subscriptions returns how many subscriptions matching topic have reached
// a Publisher made by BindPublisher since it was made: one per subscriber
// that joined (one that reconnects counts again), so a rise means a new
// subscriber, to which what was sent before it joined never went. A
// Publisher connected to a broker, which forwards a topic once however
// many subscribe to it, cannot count them: it returns 1 while subscribed
// (see Subscribed), else 0.
func (p *Publisher) Subscriptions(topic string) int {
	if p.drain() != nil {
		return 0
	}
	if p.joins == nil {
		if p.subscribed(topic) {
			return 1
		}
		return 0
	}
	n := 0
	for s, c := range p.joins {
		if strings.HasPrefix(topic, s) {
			n += c
		}
	}
	return n
}

// drain reads the subscribe (1, topic) and unsubscribe (0, topic) messages
// the XPUB has queued.
func (p *Publisher) drain() error {
	if p.closed {
		return ErrClosed
	}
	for {
		msg, err := p.sock.RecvBytes(zmq.DONTWAIT)
		if isEAGAIN(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("broker: publisher %s: read subscriptions: %w", p.url, err)
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case 1:
			p.subs[string(msg[1:])] = true
			if p.joins != nil {
				p.joins[string(msg[1:])]++
			}
		case 0:
			delete(p.subs, string(msg[1:]))
		}
	}
}

// Close closes the Publisher, waiting at most its linger (WithLinger) for
// queued messages to reach the broker. Closing again does nothing.
func (p *Publisher) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	return p.ep.close()
}

// RefusedHandshakes counts the peers that a Publisher made by
// Peers.BindPublisher with a key refused because they do not hold it.
func (p *Publisher) RefusedHandshakes() uint64 { return p.ep.zap.Refused() }
