package wire

// The exact msgpack size of a chunk of strings or byte slices, so that a
// chunk of them is encoded into one buffer of its size (see EncodeSized).

// ChunkHeaderSize bounds the msgpack bytes of a ChunkRequest besides
// its items: its array header, Start and TaskTimeout (9 bytes at most
// each), the two shape strings and the items' array header.
func ChunkHeaderSize(inType, outType string) int {
	return 1 + 9 + 9 + 5 + len(inType) + 5 + len(outType) + 5
}

// ItemsSize is the msgpack size of items if In is string or []byte
// (a length header and the bytes each); ok is false for other types.
func ItemsSize[In any](items []In) (n int, ok bool) {
	switch v := any(items).(type) {
	case []string:
		for _, s := range v {
			n += strHeaderSize(len(s)) + len(s)
		}
		return n, true
	case [][]byte:
		for _, b := range v {
			n += binHeaderSize(len(b)) + len(b)
		}
		return n, true
	}
	return 0, false
}

// strHeaderSize is the msgpack header of a string of l bytes.
func strHeaderSize(l int) int {
	switch {
	case l < 32:
		return 1
	case l < 1<<8:
		return 2
	case l < 1<<16:
		return 3
	}
	return 5
}

// binHeaderSize is the msgpack header of a byte slice of l bytes (nil
// encodes as a one-byte nil, under this bound).
func binHeaderSize(l int) int {
	switch {
	case l < 1<<8:
		return 2
	case l < 1<<16:
		return 3
	}
	return 5
}
