package broker

import (
	"errors"
	"fmt"
	"syscall"

	zmq "github.com/pebbe/zmq4"

	"github.com/glimpse-go/glimpse/internal/lifecycle"
)

// ErrClosed is what Serve returns after Shutdown or Close, and what the
// methods of a closed Publisher or Subscriber return. It wraps
// lifecycle.ErrClosed, like the "closed" of every glimpse service.
var ErrClosed = fmt.Errorf("broker: %w", lifecycle.ErrClosed)

// ErrAddrInUse matches the error of BindPublisher and BindSubscriber when
// another socket holds the URL's port (with no broker, another client
// holds the channel), and that of New when the broker's own URL is held.
var ErrAddrInUse = errors.New("address in use")

// errProxyStopped is why a channel failed when its proxy returned
// although nobody sent it TERMINATE.
var errProxyStopped = errors.New("forwarding stopped unexpectedly")

// BindError is a URL that could not be bound: one of the broker's in New,
// or that of BindPublisher or BindSubscriber. It matches ErrAddrInUse when
// another socket holds the port.
type BindError struct {
	Key string // the broker's config key ("log_backend_url"); "" for a Publisher or Subscriber
	URL string // as given
	Err error
}

func (e *BindError) Error() string {
	if e.Key == "" {
		return "bind " + e.URL + ": " + e.Err.Error()
	}
	return "bind " + e.Key + " " + e.URL + ": " + e.Err.Error()
}

func (e *BindError) Unwrap() error { return e.Err }

// Is makes ZeroMQ's EADDRINUSE match ErrAddrInUse.
func (e *BindError) Is(target error) bool {
	return target == ErrAddrInUse && zmq.AsErrno(e.Err) == zmq.Errno(syscall.EADDRINUSE)
}

// ChannelError is a failure of one of the broker's two channels: its
// sockets could not be set up (New), or its forwarding stopped (Serve).
type ChannelError struct {
	Channel string // "command" or "log"
	Err     error
}

func (e *ChannelError) Error() string { return e.Channel + " channel: " + e.Err.Error() }

func (e *ChannelError) Unwrap() error { return e.Err }
