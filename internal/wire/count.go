package wire

// Cheap looks at a chunk's head and a result's, for a worker's metrics:
// a few bytes read, nothing decoded or allocated.

// ChunkStart returns the input index of a chunk payload's first item
// (ChunkMessage.Start); false if the payload does not start as a chunk.
func ChunkStart(payload []byte) (int, bool) {
	if len(payload) < 3 || payload[0] != version || payload[1] != 0x95 { // fixarray of 5
		return 0, false
	}
	return readUint(payload[2:])
}

// ResultItems returns how many items a chunk result (ChunkResult) holds;
// false if the data does not start as a result.
func ResultItems(result []byte) (int, bool) {
	if len(result) < 3 || result[0] != version || result[1] != 0x91 { // fixarray of 1
		return 0, false
	}
	b := result[2:]
	switch c := b[0]; {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), true
	case c == 0xc0: // a nil slice
		return 0, true
	case c == 0xdc || c == 0xdd:
		return readBig(b[1:], 2<<(c-0xdc))
	}
	return 0, false
}

// readUint reads a non-negative msgpack integer of at most 32 bits.
func readUint(b []byte) (int, bool) {
	switch c := b[0]; {
	case c <= 0x7f:
		return int(c), true
	case c == 0xcc || c == 0xd0:
		return readBig(b[1:], 1)
	case c == 0xcd || c == 0xd1:
		return readBig(b[1:], 2)
	case c == 0xce || c == 0xd2:
		return readBig(b[1:], 4)
	}
	return 0, false
}

// readBig reads a size-byte big-endian number off b.
func readBig(b []byte, size int) (int, bool) {
	if len(b) < size {
		return 0, false
	}
	return bigEndian(b[:size]), true
}
