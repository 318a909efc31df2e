package direct

import (
	"io"
	"net"
	"syscall"
)

// sockBuffer is the socket buffer size asked for each way: a chunk of
// megabytes then moves in a few large reads and writes, not in the 128
// KiB steps of a new connection's default buffers (the kernel caps it at
// net.core.rmem_max and wmem_max).
const sockBuffer = 4 << 20

// bigBuffers sets a socket's buffers before it connects or listens, so
// that TCP's window scale is agreed to match.
func bigBuffers(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, sockBuffer)
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, sockBuffer)
	})
}

// readLowat is the least a large read waits for: a reader of megabytes is
// woken once per this many bytes arrived (SO_RCVLOWAT), not for every
// segment. It is kept under a quarter of the socket's actual receive
// buffer (the kernel may cap sockBuffer), so that the sender can fill it.
const readLowat = 512 << 10

// readFull fills buf from c, asking the kernel to wake the reader only
// once readLowat bytes (or what is left) have arrived.
func readFull(c net.Conn, buf []byte) error {
	rc := rawConn(c)
	most := lowatFor(rc)
	lowat := 1
	defer func() {
		if lowat != 1 {
			setLowat(rc, 1) // the statuses and lengths after are small
		}
	}()
	for len(buf) > 0 {
		if want := min(len(buf), most); want != lowat && setLowat(rc, want) == nil {
			lowat = want
		}
		n, err := c.Read(buf)
		buf = buf[n:]
		if err != nil && len(buf) > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func rawConn(c net.Conn) syscall.RawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// lowatFor is the largest low mark for rc: 1 (none) if it is no TCP
// socket or its buffer is unknown.
func lowatFor(rc syscall.RawConn) int {
	if rc == nil {
		return 1
	}
	size := 0
	rc.Control(func(fd uintptr) {
		size, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return max(1, min(readLowat, size/4))
}

func setLowat(rc syscall.RawConn, n int) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	})
	if err != nil {
		return err
	}
	return serr
}
