package gearman

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// conn is one TCP connection to a job server. Its owner reads packets with
// read; any goroutine may send. Writes are combined: a sender that finds
// no write in progress writes everything queued itself, once, and hands
// what piled up meanwhile to the writer goroutine; senders that find a
// write in progress only queue. So concurrent senders share system calls,
// and an uncontended send costs no goroutine switch.
type conn struct {
	nc   net.Conn
	pr   *PacketReader
	addr string

	mu  sync.Mutex
	out []byte // encoded packets not yet being written, after big's
	// big holds what was queued before out: encoded packets and the large
	// data arguments between them, written from where they are (writev),
	// so that a chunk of megabytes is not copied into the queue.
	big     net.Buffers
	spare   []byte // the other buffer, reused between writes
	writing bool   // someone owns the socket's write side
	closing bool   // refuse new sends; flushClose is draining
	err     error  // why the conn died; set once

	handoff    chan struct{} // buffered(1): the writer goroutine now owns writing
	done       chan struct{} // closed when the conn is dead
	writerDone chan struct{}

	held heldWrites // a worker's outcomes left for a later write (batch.go)
}

// errConnClosed is the cause recorded when we close a conn ourselves.
var errConnClosed = errors.New("connection closed")

// connKeepAlive probes a silent connection. An idle worker (asleep until
// NOOP) or a client waiting for results hears nothing from a job server
// whose host vanished, or that dropped the connection while the network
// was cut. Probes after 5s of silence, every 5s, 3 unanswered: a vanished
// server is found in 20s (5m with the former 30s and 9 probes), and a
// connection the server dropped within 5s of the network coming back (the
// probe meets a RST; formerly 30s).
var connKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3}

func dialConn(ctx context.Context, addr string, o dialOptions, maxPacket int) (*conn, error) {
	nc, err := dial(ctx, addr, o, connKeepAlive)
	if err != nil {
		return nil, err
	}
	c := &conn{
		nc:         nc,
		pr:         NewPacketReader(nc, maxPacket),
		addr:       addr,
		handoff:    make(chan struct{}, 1),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go c.writeLoop()
	return c, nil
}

// send queues one packet and, if nobody is writing, writes. It fails only
// if the conn is dead or the packet cannot be encoded. The reader
// goroutine must use sendAsync instead: a reader blocked in a write while
// the server is blocked writing to it would deadlock.
func (c *conn) send(t PacketType, args ...[]byte) error {
	own, err := c.enqueue(t, args...)
	if own {
		c.flush()
	}
	return err
}

// sendAsync queues one packet for the writer goroutine; it never blocks on
// the socket.
func (c *conn) sendAsync(t PacketType, args ...[]byte) error {
	own, err := c.enqueue(t, args...)
	if own {
		c.handoff <- struct{}{}
	}
	return err
}

// enqueue appends one packet to the queue. If nobody was writing, the
// caller now owns the write side and must flush or hand it off.
func (c *conn) enqueue(t PacketType, args ...[]byte) (own bool, err error) {
	return c.enqueueMore(t, nil, args...)
}

// enqueueMore is enqueue for a packet whose data, the last argument, goes
// on with the bytes of more: all written from where they are (writev).
func (c *conn) enqueueMore(t PacketType, more [][]byte, args ...[]byte) (own bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.closing {
		err := c.err
		if err == nil {
			err = errConnClosed
		}
		return false, fmt.Errorf("gearman: send %s to %s: %w", t, c.addr, err)
	}
	if n := len(args); len(more) > 0 || hasLargeArg(args) {
		c.out, err = appendPacketHeadMore(c.out, MagicReq, t, totalLen(more), args...)
		if err == nil {
			c.big = append(append(c.big, c.out, args[n-1]), more...)
			c.out = nil
		}
	} else {
		c.out, err = AppendPacket(c.out, MagicReq, t, args...)
	}
	if err != nil || c.writing {
		return false, err
	}
	c.writing = true
	return true, nil
}

// enqueueLazy appends one packet to the queue without taking the write
// side: it goes out with the next write on the conn, whoever makes it, or
// at kick.
func (c *conn) enqueueLazy(t PacketType, args ...[]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.closing {
		return fmt.Errorf("gearman: send %s to %s: %w", t, c.addr, errConnClosed)
	}
	var err error
	c.out, err = AppendPacket(c.out, MagicReq, t, args...)
	return err
}

// totalLen is the bytes of bufs together.
func totalLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// hasLargeArg says whether a packet's data argument is written from where
// it is (enqueue) rather than copied into the queue.
func hasLargeArg(args [][]byte) bool {
	n := len(args)
	return n > 0 && len(args[n-1]) >= largeArg
}

// flushQueued writes what is queued on the caller's goroutine, if nobody
// is writing; a write in progress takes it along otherwise.
func (c *conn) flushQueued() {
	if c.takeIdleWriteSide() {
		c.flush()
	}
}

// kick has the writer goroutine write what is queued, if nobody is
// writing: for packets queued with enqueueLazy that no other write took.
func (c *conn) kick() {
	if c.takeIdleWriteSide() {
		c.handoff <- struct{}{}
	}
}

// takeIdleWriteSide takes the write side if something is queued, nobody
// is writing and the conn is alive; the caller then owns the write.
func (c *conn) takeIdleWriteSide() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	own := c.err == nil && !c.writing && c.queuedLocked()
	if own {
		c.writing = true
	}
	return own
}

// flush is called by the owner of the write side: it writes what is queued
// once, then hands what piled up meanwhile to the writer goroutine, so a
// sender never pays for more than its share under load.
func (c *conn) flush() {
	c.mu.Lock()
	segs, buf := c.takeLocked()
	c.mu.Unlock()
	if !c.write(segs, buf) {
		return // dead; writing stays set so nobody tries again
	}
	c.mu.Lock()
	more := c.queuedLocked()
	if !more {
		c.writing = false
	}
	c.mu.Unlock()
	if more {
		c.handoff <- struct{}{} // writing stays set: ownership moves
	}
}

// largeArg: a packet's data argument of this size or more is written from
// where it is rather than copied into the queue.
const largeArg = 64 << 10

// queuedLocked says whether anything waits to be written.
func (c *conn) queuedLocked() bool { return len(c.out) > 0 || len(c.big) > 0 }

// takeLocked swaps the queue out for writing: the segments, then buf.
func (c *conn) takeLocked() (net.Buffers, []byte) {
	segs, buf := c.big, c.out
	c.big = nil
	c.out, c.spare = c.spare[:0], nil
	return segs, buf
}

// write writes segs then buf and recycles buf; false if the conn died.
func (c *conn) write(segs net.Buffers, buf []byte) bool {
	var err error
	if len(segs) == 0 {
		_, err = c.nc.Write(buf)
	} else {
		segs = append(segs, buf)
		_, err = segs.WriteTo(c.nc)
	}
	if err != nil {
		c.close(err)
		return false
	}
	c.mu.Lock()
	// Keep the buffer for the next batch unless one big job grew it.
	if cap(buf) <= 1<<20 && c.spare == nil {
		c.spare = buf[:0]
	}
	c.mu.Unlock()
	return true
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	for {
		select {
		case <-c.handoff:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			if !c.queuedLocked() {
				c.writing = false
				c.mu.Unlock()
				break
			}
			segs, buf := c.takeLocked()
			c.mu.Unlock()
			if !c.write(segs, buf) {
				return
			}
		}
	}
}

// read returns the next packet; only the owning goroutine calls it. A
// skipped oversize packet comes back as its *PacketTooLargeError, with the
// conn still alive; any other error kills the conn.
func (c *conn) read() (*Packet, error) {
	p, err := c.pr.ReadPacket()
	if tooLarge, ok := err.(*PacketTooLargeError); ok && tooLarge.Skipped {
		return nil, tooLarge
	}
	if err != nil {
		c.close(err)
		c.mu.Lock()
		err = c.err
		c.mu.Unlock()
		return nil, err
	}
	return p, nil
}

// close kills the conn at once; the first cause is kept.
func (c *conn) close(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = cause
	c.mu.Unlock()
	c.nc.Close()
	close(c.done)
}

// flushClose sends what is queued, then closes; it gives up after timeout.
func (c *conn) flushClose(timeout time.Duration) {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.kick() // what was queued lazily goes too
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		idle := !c.writing && !c.queuedLocked() || c.err != nil
		c.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.close(errConnClosed)
	<-c.writerDone
}

// alive says whether the conn can still send.
func (c *conn) alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err == nil && !c.closing
}

// cause says why the conn died (nil while alive).
func (c *conn) cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
