package direct

import (
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
