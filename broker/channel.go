package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	zmq "github.com/pebbe/zmq4"
)

// channel is one of the two forwarded channels: an XSUB where publishers
// connect, an XPUB where subscribers connect, and the zmq_proxy_steerable
// between them, steered through a pair of control sockets.
type channel struct {
	name              string // "command" or "log"
	frontKey, backKey string // config keys, for errors
	frontURL, backURL string
	frontAddr         string // endpoints actually bound
	backAddr          string
	xsub, xpub        *zmq.Socket // publishers connect to xsub, subscribers to xpub
	control           *zmq.Socket // PAIR: the proxy's end of its control socket

	// ctlMu guards the broker's end of the control socket, which Stats
	// and Serve use from different goroutines (the lock is also the
	// memory barrier ZeroMQ asks for when a socket changes threads).
	ctlMu     sync.Mutex
	ctlClient *zmq.Socket // PAIR: the broker's end; nil once closed
	alive     bool        // the proxy runs and answers on its control socket

	// Counters refreshed from the proxy's STATISTICS; atomics so that
	// Stats can read them from any goroutine, after Close too.
	downMsgs, downBytes, upMsgs, upBytes atomic.Uint64

	tid atomic.Int64 // the proxy's OS thread, for a test to aim signals at
}

// open creates and binds the channel's sockets, as CURVE servers when
// keys is not nil.
func (c *channel) open(zctx *zmq.Context, hwm int, maxMsg int64, keys *curveKeys) error {
	var err error
	if c.xsub, err = newServerSocket(zctx, zmq.XSUB, hwm, maxMsg, c.frontURL, keys); err != nil {
		return &ChannelError{Channel: c.name, Err: err}
	}
	if c.frontAddr, err = bind(c.xsub, c.frontKey, c.frontURL); err != nil {
		return err
	}
	if c.xpub, err = newServerSocket(zctx, zmq.XPUB, hwm, maxMsg, c.backURL, keys); err != nil {
		return &ChannelError{Channel: c.name, Err: err}
	}
	if c.backAddr, err = bind(c.xpub, c.backKey, c.backURL); err != nil {
		return err
	}
	if err := c.openControl(zctx); err != nil {
		return &ChannelError{Channel: c.name, Err: fmt.Errorf("control socket: %w", err)}
	}
	return nil
}

// newServerSocket is newSocket for a socket that binds, made a CURVE
// server when keys is not nil.
func newServerSocket(zctx *zmq.Context, t zmq.Type, hwm int, maxMsg int64, url string, keys *curveKeys) (*zmq.Socket, error) {
	s, err := newSocket(zctx, t, hwm, maxMsg, url)
	if err != nil || keys == nil {
		return s, err
	}
	if err := keys.serve(s); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openControl makes the pair of control sockets, joined in-process.
func (c *channel) openControl(zctx *zmq.Context) error {
	// inproc names are per context, and the context is this broker's.
	url := "inproc://glimpse-broker-" + c.name + "-control"
	var err error
	if c.control, err = newSocket(zctx, zmq.PAIR, 0, -1, ""); err != nil {
		return err
	}
	if err := c.control.Bind(url); err != nil {
		return fmt.Errorf("bind %s: %w", url, err)
	}
	if c.ctlClient, err = newSocket(zctx, zmq.PAIR, 0, -1, ""); err != nil {
		return err
	}
	if err := c.ctlClient.SetRcvtimeo(controlTimeout); err != nil {
		return err
	}
	if err := c.ctlClient.Connect(url); err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	return nil
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

// setAlive records whether the proxy runs, so that the control socket is
// used only while someone answers on the other end.
func (c *channel) setAlive(alive bool) {
	c.ctlMu.Lock()
	defer c.ctlMu.Unlock()
	c.alive = alive
}

// refresh reads the running proxy's counters into the atomics; it does
// nothing when no proxy runs. A proxy that does not answer is dead or
// wedged: it is not asked again, and Serve learns which from its exit, or
// stops it with the context.
func (c *channel) refresh() error {
	c.ctlMu.Lock()
	defer c.ctlMu.Unlock()
	if !c.alive {
		return nil
	}
	if err := c.readStatistics(); err != nil {
		c.alive = false
		return fmt.Errorf("read the proxy's statistics: %w", err)
	}
	return nil
}

// terminate reads the running proxy's final counters and tells it to stop.
func (c *channel) terminate() error {
	c.ctlMu.Lock()
	defer c.ctlMu.Unlock()
	if !c.alive {
		return nil
	}
	c.alive = false
	if err := c.readStatistics(); err != nil {
		return fmt.Errorf("read the proxy's statistics: %w", err)
	}
	return c.sendControl("TERMINATE")
}

// readStatistics asks the proxy for its counters (STATISTICS) and stores
// them. The caller holds ctlMu.
func (c *channel) readStatistics() error {
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

// sendControl sends a proxy command. Only PAUSE, RESUME, TERMINATE and
// STATISTICS may be sent: libzmq aborts the process on any other. The
// caller holds ctlMu.
func (c *channel) sendControl(cmd string) error {
	if c.ctlClient == nil {
		return errors.New("control socket closed")
	}
	_, err := c.ctlClient.Send(cmd, zmq.DONTWAIT)
	return err
}

// closeControl closes the broker's end of the control socket.
func (c *channel) closeControl() {
	c.ctlMu.Lock()
	defer c.ctlMu.Unlock()
	c.alive = false
	if c.ctlClient != nil {
		c.ctlClient.Close()
		c.ctlClient = nil
	}
}

// closeProxySockets closes the sockets a proxy would own, for a channel
// that was never forwarded.
func (c *channel) closeProxySockets() {
	for _, s := range []*zmq.Socket{c.xsub, c.xpub, c.control} {
		if s != nil {
			s.Close()
		}
	}
}
