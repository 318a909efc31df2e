package wire

import (
	"encoding/binary"
	"math"
)

// A chunk of int64 or float64 items (a trivial map's, a sum's) is read by
// DecodeScalarChunk in one pass over its bytes, every length checked as
// it is read: no walk first (walkMsgpack), no msgpack decoder, no
// reflection. On a chunk of a hundred thousand int64 the walks and the
// decoder were most of a worker's time for a function as cheap as x*x.

// scalarChunkHead reads the head of a chunk message, version byte
// excluded: [Start, TaskTimeout, InType, OutType, Items...] with integers
// and strings where msgpack puts them. It returns the fields, the item
// count (-1: nil items) and where the items start; ok false: another
// shape, or a length past the message (Decode says what is wrong).
func scalarChunkHead(data []byte) (h chunkHead, ok bool) {
	if len(data) == 0 || data[0] != 0x95 {
		return h, false
	}
	pos := 1
	var size int
	if h.start, size = intAt(data[pos:]); size == 0 {
		return h, false
	}
	pos += size
	if h.timeout, size = intAt(data[pos:]); size == 0 {
		return h, false
	}
	pos += size
	if h.in, size = strAt(data[pos:]); size == 0 {
		return h, false
	}
	pos += size
	if h.out, size = strAt(data[pos:]); size == 0 {
		return h, false
	}
	pos += size
	if h.items, size = arrayLenAt(data[pos:]); size == 0 {
		return h, false
	}
	h.pos = pos + size
	// A value takes a byte at least: a count the message cannot hold is
	// a lie.
	return h, h.items <= len(data)-h.pos
}

type chunkHead struct {
	start, timeout int64
	in, out        []byte // slices of the message
	items, pos     int
}

// DecodeScalarChunk reads a chunk of int64 or float64 items that Encode
// wrote into msg, without msgpack. agree is called with the chunk's
// shapes before any item is read: if it says no, msg gets the shapes but
// no items. ok false: the message is not such a chunk (another version,
// other codes, bytes left over, a length past its end), and msg is
// untouched: Decode it, which says what is wrong if anything is.
func DecodeScalarChunk[T int64 | float64](data []byte, msg *ChunkMessage[[]T], agree func(in, out string) bool) (ok bool) {
	if len(data) < 2 || data[0] != version {
		return false
	}
	data = data[1:]
	h, ok := scalarChunkHead(data)
	if !ok || int64(int(h.start)) != h.start {
		return false
	}
	if h.items < 0 && h.pos != len(data) { // nil items, then bytes left over
		return false
	}
	in, out := string(h.in), string(h.out)
	var items []T
	if h.items >= 0 && agree(in, out) {
		items = make([]T, h.items)
		var end int
		switch xs := any(items).(type) {
		case []int64:
			end, ok = readInts(data, h.pos, xs)
		case []float64:
			end, ok = readFloats(data, h.pos, xs)
		}
		if !ok || end != len(data) {
			return false
		}
	}
	*msg = ChunkMessage[[]T]{Start: int(h.start), TaskTimeout: h.timeout, InType: in, OutType: out, Items: items}
	return true
}

// readInts fills xs with the integers from data[pos:]; ok false if one is
// not an integer or runs past data. It returns where they end.
func readInts(data []byte, pos int, xs []int64) (end int, ok bool) {
	for i := range xs {
		if pos >= len(data) {
			return pos, false
		}
		// Non-negative ints inline (most items; a call each cost as much
		// as the rest of the loop), the others through intAt.
		switch c := data[pos]; {
		case c <= 0x7f:
			xs[i] = int64(c)
			pos++
		case c == 0xce && len(data)-pos >= 5:
			xs[i] = int64(binary.BigEndian.Uint32(data[pos+1:]))
			pos += 5
		case c == 0xcd && len(data)-pos >= 3:
			xs[i] = int64(binary.BigEndian.Uint16(data[pos+1:]))
			pos += 3
		case c == 0xcc && len(data)-pos >= 2:
			xs[i] = int64(data[pos+1])
			pos += 2
		default:
			x, size := intAt(data[pos:])
			if size == 0 {
				return pos, false
			}
			xs[i] = x
			pos += size
		}
	}
	return pos, true
}

// readFloats fills xs with the float64 values (msgpack's 0xcb) from
// data[pos:]; ok false if one is of another code or runs past data.
func readFloats(data []byte, pos int, xs []float64) (end int, ok bool) {
	for i := range xs {
		if pos+9 > len(data) || data[pos] != 0xcb {
			return pos, false
		}
		xs[i] = math.Float64frombits(binary.BigEndian.Uint64(data[pos+1:]))
		pos += 9
	}
	return pos, true
}

// intAt reads the integer that b starts with as msgpack's DecodeInt64
// would, and its size in bytes (0: b does not start with a whole one).
func intAt(b []byte) (x int64, size int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c <= 0x7f || c >= 0xe0:
		return int64(int8(c)), 1
	case c == 0xcc && len(b) >= 2:
		return int64(b[1]), 2
	case c == 0xd0 && len(b) >= 2:
		return int64(int8(b[1])), 2
	case c == 0xcd && len(b) >= 3:
		return int64(binary.BigEndian.Uint16(b[1:])), 3
	case c == 0xd1 && len(b) >= 3:
		return int64(int16(binary.BigEndian.Uint16(b[1:]))), 3
	case c == 0xce && len(b) >= 5:
		return int64(binary.BigEndian.Uint32(b[1:])), 5
	case c == 0xd2 && len(b) >= 5:
		return int64(int32(binary.BigEndian.Uint32(b[1:]))), 5
	case (c == 0xcf || c == 0xd3) && len(b) >= 9:
		return int64(binary.BigEndian.Uint64(b[1:])), 9
	}
	return 0, 0
}

// strAt returns the str value that b starts with (a slice of b) and its
// size with its header (0: b does not start with a whole str).
func strAt(b []byte) (s []byte, size int) {
	if len(b) == 0 {
		return nil, 0
	}
	var n, hdr int
	switch c := b[0]; {
	case c >= 0xa0 && c <= 0xbf:
		n, hdr = int(c&0x1f), 1
	case c == 0xd9 && len(b) >= 2:
		n, hdr = int(b[1]), 2
	case c == 0xda && len(b) >= 3:
		n, hdr = int(binary.BigEndian.Uint16(b[1:])), 3
	case c == 0xdb && len(b) >= 5:
		n, hdr = int(binary.BigEndian.Uint32(b[1:])), 5
	default:
		return nil, 0
	}
	if n > len(b)-hdr {
		return nil, 0
	}
	return b[hdr : hdr+n], hdr + n
}

// arrayLenAt reads the array header (or nil: -1) that b starts with, and
// its size (0: b does not start with one).
func arrayLenAt(b []byte) (n, size int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c == 0xc0:
		return -1, 1
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), 1
	case c == 0xdc && len(b) >= 3:
		return int(binary.BigEndian.Uint16(b[1:])), 3
	case c == 0xdd && len(b) >= 5:
		return int(binary.BigEndian.Uint32(b[1:])), 5
	}
	return 0, 0
}
