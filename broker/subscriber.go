package broker

import (
	"context"
	"fmt"

	zmq "github.com/pebbe/zmq4"
)

// Subscriber receives the messages of a broker's backend: workers
// subscribe to command_backend_url, clients (glimpse-cluster logs, ping)
// to log_backend_url.
//
// A Subscriber is not safe for concurrent use, because a ZeroMQ socket is
// not: use it from one goroutine at a time.
//
// It receives the messages whose topic starts with one of its
// subscriptions, published after the subscription reached the publisher
// (see Publisher.WaitSubscribed), in the order each publisher sent them.
// While it does not read, messages queue up to DefaultHWM here and as
// many again in the broker; beyond that they are dropped.
//
// ZeroMQ does a socket's housekeeping only while the socket is in use, so
// after the broker restarts, a Subscriber sends its subscriptions again
// (and receives anything) only once it is in Recv again. A Subscriber
// meant to hear everything should sit in Recv.
type Subscriber struct {
	url    string
	ep     *endpoint // the socket's context and ZAP handler
	sock   *zmq.Socket
	poller *zmq.Poller
	closed bool
}

// NewSubscriber connects a Subscriber to url, a broker backend, subscribed
// to the topic prefixes topics; "" subscribes to every message, and with
// no topics nothing is received until Subscribe. Connecting is
// asynchronous and retried, as for NewPublisher, and the subscriptions
// are sent again on every reconnection. It is Peers{}.NewSubscriber: no
// key.
func NewSubscriber(url string, topics ...string) (*Subscriber, error) {
	return Peers{}.NewSubscriber(url, topics...)
}

// NewSubscriber is the package's NewSubscriber with c's key and limits.
func (c Peers) NewSubscriber(url string, topics ...string) (*Subscriber, error) {
	ep, err := c.dial(url, zmq.SUB, DefaultHWM, 0)
	if err != nil {
		return nil, fmt.Errorf("broker: subscriber: %w", err)
	}
	return wrapSubscriber(url, ep, topics)
}

// BindSubscriber is NewSubscriber for a cluster with no broker: it binds
// url itself, and publishers (workers) connect to it and receive its
// subscriptions when they do. A TCP port of 0 or "*" binds a free port
// (see URL). A port another process holds gives an error that wraps
// ErrAddrInUse. It is Peers{}.BindSubscriber: no key.
func BindSubscriber(url string, topics ...string) (*Subscriber, error) {
	return Peers{}.BindSubscriber(url, topics...)
}

// BindSubscriber is the package's BindSubscriber with c's key and limits:
// with a key, only key holders can connect.
func (c Peers) BindSubscriber(url string, topics ...string) (*Subscriber, error) {
	ep, err := c.listen(url, zmq.SUB, DefaultHWM, 0)
	if err != nil {
		return nil, fmt.Errorf("broker: subscriber: %w", err)
	}
	return wrapSubscriber(lastEndpoint(ep.sock, url), ep, topics)
}

func wrapSubscriber(url string, ep *endpoint, topics []string) (*Subscriber, error) {
	s := &Subscriber{url: url, ep: ep, sock: ep.sock, poller: zmq.NewPoller()}
	s.poller.Add(ep.sock, zmq.POLLIN)
	for _, t := range topics {
		if err := s.Subscribe(t); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// URL is the URL the Subscriber connected to, or for one made by
// BindSubscriber the endpoint it bound (with the port chosen for port 0
// or "*").
func (s *Subscriber) URL() string { return s.url }

// Subscribe adds a topic prefix; "" matches every message.
func (s *Subscriber) Subscribe(topic string) error {
	if s.closed {
		return ErrClosed
	}
	if err := s.sock.SetSubscribe(topic); err != nil {
		return fmt.Errorf("broker: subscribe to %q on %s: %w", topic, s.url, err)
	}
	return nil
}

// Unsubscribe removes a topic prefix added by Subscribe (or NewSubscriber).
func (s *Subscriber) Unsubscribe(topic string) error {
	if s.closed {
		return ErrClosed
	}
	if err := s.sock.SetUnsubscribe(topic); err != nil {
		return fmt.Errorf("broker: unsubscribe from %q on %s: %w", topic, s.url, err)
	}
	return nil
}

// Recv waits for the next message and returns its topic and parts. It
// returns ctx's error if ctx ends first, noticed within 50ms.
func (s *Subscriber) Recv(ctx context.Context) (topic string, parts [][]byte, err error) {
	if s.closed {
		return "", nil, ErrClosed
	}
	for {
		first, err := s.sock.RecvBytes(zmq.DONTWAIT)
		if err == nil {
			parts, err := s.recvRest()
			if err != nil {
				return "", nil, err
			}
			return string(first), parts, nil
		}
		if !isEAGAIN(err) {
			return "", nil, fmt.Errorf("broker: receive from %s: %w", s.url, err)
		}
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		if err := waitReadable(ctx, s.poller); err != nil {
			return "", nil, fmt.Errorf("broker: receive from %s: %w", s.url, err)
		}
	}
}

// recvRest reads the parts after the topic: ZeroMQ delivers a message's
// parts together, so they are there already.
func (s *Subscriber) recvRest() ([][]byte, error) {
	var parts [][]byte
	for {
		more, err := s.sock.GetRcvmore()
		if err != nil {
			return nil, fmt.Errorf("broker: receive from %s: %w", s.url, err)
		}
		if !more {
			return parts, nil
		}
		part, err := s.sock.RecvBytes(0)
		if err != nil {
			return nil, fmt.Errorf("broker: receive from %s: %w", s.url, err)
		}
		parts = append(parts, part)
	}
}

// Close closes the Subscriber. Closing again does nothing.
func (s *Subscriber) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.ep.close()
}

// RefusedHandshakes counts the peers that a Subscriber made by
// Peers.BindSubscriber with a key refused because they do not hold it.
func (s *Subscriber) RefusedHandshakes() uint64 { return s.ep.zap.Refused() }
