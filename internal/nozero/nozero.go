// Package nozero allocates large byte slices without zeroing them first,
// for buffers that are filled before they are read: a packet body read
// from the network, a message encoded into it. Zeroing a megabyte costs
// about a third of reading it from a loopback socket; for a map of large
// items the memory is cleared four times over (two reads, two encodings)
// for nothing.
package nozero

import (
	"strings"
	"unsafe"
)

// minSize: smaller slices come from make; zeroing them costs little.
const minSize = 64 << 10

// Bytes returns a slice of length and capacity n. Unless n is small, its
// bytes are whatever the memory held: the caller must write every byte it
// reads (or sends) later.
func Bytes(n int) []byte {
	if n < minSize {
		return make([]byte, n)
	}
	// strings.Builder grows its buffer without zeroing it (the runtime's
	// MakeNoZero). The builder is dropped here, so the buffer is ours
	// alone: writing to it changes no string anyone holds.
	var sb strings.Builder
	sb.Grow(n)
	sb.WriteByte(0)
	return unsafe.Slice(unsafe.StringData(sb.String()), n)
}
