package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// Slices of int64 and float64 (the items and results of trivial maps)
// have their own msgpack encoder and decoder: the same bytes as msgpack's
// (compact ints, 9-byte floats, nil as nil), written and read by a loop
// over the message's bytes instead of a reflective call per element,
// which was most of a trivial map's encoding and decoding.

func init() {
	msgpack.Register([]int64(nil), encodeInt64s, decodeInt64s)
	msgpack.Register([]float64(nil), encodeFloat64s, decodeFloat64s)
}

// appendArrayLen appends msgpack's array header for n values.
func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// appendInt appends n as msgpack's EncodeInt does with compact ints: in
// the fewest bytes.
func appendInt(b []byte, n int64) []byte {
	var buf [9]byte
	return append(b, buf[:putInt(&buf, n)]...)
}

// appendInts appends xs as appendInt would one by one, writing in place
// while b has room for the longest int (a capacity check and an append
// per item cost more than the writing).
func appendInts(b []byte, xs []int64) []byte {
	for i, x := range xs {
		if cap(b)-len(b) < 9 {
			b = slices.Grow(b, 9*(len(xs)-i)/2+9)
		}
		n := len(b)
		switch {
		case uint64(x) <= math.MaxInt8: // inline, the commonest sizes
			b = b[:n+1]
			b[n] = byte(x)
		case uint64(x)-(math.MaxUint16+1) <= math.MaxUint32-(math.MaxUint16+1):
			dst := b[n : n+5]
			dst[0] = 0xce
			binary.BigEndian.PutUint32(dst[1:], uint32(x))
			b = b[:n+5]
		default:
			b = b[:n+putInt((*[9]byte)(b[n:n+9]), x)]
		}
	}
	return b
}

// putInt writes n as msgpack's compact int into dst and returns its size.
// Non-negative values first, as a chunk's items mostly are.
func putInt(dst *[9]byte, n int64) int {
	if n >= 0 {
		switch {
		case n <= math.MaxInt8:
			dst[0] = byte(n)
			return 1
		case n <= math.MaxUint8:
			dst[0], dst[1] = 0xcc, byte(n)
			return 2
		case n <= math.MaxUint16:
			dst[0] = 0xcd
			binary.BigEndian.PutUint16(dst[1:], uint16(n))
			return 3
		case n <= math.MaxUint32:
			dst[0] = 0xce
			binary.BigEndian.PutUint32(dst[1:], uint32(n))
			return 5
		}
		dst[0] = 0xcf
		binary.BigEndian.PutUint64(dst[1:], uint64(n))
		return 9
	}
	switch {
	case n >= -32:
		dst[0] = byte(n)
		return 1
	case n >= math.MinInt8:
		dst[0], dst[1] = 0xd0, byte(n)
		return 2
	case n >= math.MinInt16:
		dst[0] = 0xd1
		binary.BigEndian.PutUint16(dst[1:], uint16(n))
		return 3
	case n >= math.MinInt32:
		dst[0] = 0xd2
		binary.BigEndian.PutUint32(dst[1:], uint32(n))
		return 5
	}
	dst[0] = 0xd3
	binary.BigEndian.PutUint64(dst[1:], uint64(n))
	return 9
}

func encodeInt64s(e *msgpack.Encoder, v reflect.Value) error {
	xs := v.Interface().([]int64)
	w, ok := e.Writer().(*sliceWriter)
	if !ok { // not Encode's own encoder: element by element
		return encodeEach(e, xs)
	}
	if xs == nil {
		w.b = append(w.b, 0xc0)
		return nil
	}
	w.b = appendInts(appendArrayLen(w.b, len(xs)), xs)
	return nil
}

func encodeFloat64s(e *msgpack.Encoder, v reflect.Value) error {
	xs := v.Interface().([]float64)
	w, ok := e.Writer().(*sliceWriter)
	if !ok {
		return encodeEach(e, xs)
	}
	if xs == nil {
		w.b = append(w.b, 0xc0)
		return nil
	}
	b := appendArrayLen(w.b, len(xs))
	for _, x := range xs {
		b = binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(x))
	}
	w.b = b
	return nil
}

// encodeEach encodes xs as msgpack would without the fast path.
func encodeEach[T int64 | float64](e *msgpack.Encoder, xs []T) error {
	if xs == nil {
		return e.EncodeNil()
	}
	if err := e.EncodeArrayLen(len(xs)); err != nil {
		return err
	}
	for _, x := range xs {
		if err := e.Encode(x); err != nil {
			return err
		}
	}
	return nil
}

// msgReader is what Decode reads a message from: a bytes.Reader whose
// bytes the slice decoders can read in place.
type msgReader struct {
	b   []byte
	pos int
}

func (r *msgReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.pos:])
	r.pos += n
	return n, nil
}

func (r *msgReader) ReadByte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, io.EOF
	}
	r.pos++
	return r.b[r.pos-1], nil
}

func (r *msgReader) UnreadByte() error {
	if r.pos == 0 {
		return errors.New("wire: UnreadByte at the start")
	}
	r.pos--
	return nil
}

// sliceHeader reads a slice's array header as msgpack does (-1: nil) and
// returns the slice to fill. With r, the count is bounded by the bytes
// left (a value takes one at least); without, the slice grows as values
// come. So a hostile count allocates nothing.
func sliceHeader[T int64 | float64](d *msgpack.Decoder, r *msgReader) (int, []T, error) {
	n, err := d.DecodeArrayLen()
	switch {
	case err != nil || n < 0:
		return n, nil, err
	case r == nil:
		return n, make([]T, 0, min(n, 1<<16)), nil
	case n > len(r.b)-r.pos:
		return n, nil, fmt.Errorf("wire: an array of %d values in the %d bytes left: %w", n, len(r.b)-r.pos, io.ErrUnexpectedEOF)
	}
	return n, make([]T, 0, n), nil
}

func decodeInt64s(d *msgpack.Decoder, v reflect.Value) error {
	r, _ := d.Buffered().(*msgReader)
	n, xs, err := sliceHeader[int64](d, r)
	if err != nil || n < 0 {
		v.SetZero()
		return err
	}
	for range n {
		x, ok := int64At(r)
		if !ok { // not an integer code, or not Decode's reader: msgpack decides
			if x, err = d.DecodeInt64(); err != nil {
				return err
			}
		}
		xs = append(xs, x)
	}
	v.Set(reflect.ValueOf(xs))
	return nil
}

// int64At reads an integer at r's position if it is one of msgpack's
// integer codes, as msgpack's DecodeInt64 would; ok false leaves r as it was.
func int64At(r *msgReader) (x int64, ok bool) {
	if r == nil || r.pos >= len(r.b) {
		return 0, false
	}
	b, c := r.b[r.pos:], r.b[r.pos]
	var size int
	switch {
	case c <= 0x7f || c >= 0xe0:
		r.pos++
		return int64(int8(c)), true
	case c == 0xcc || c == 0xd0:
		size = 1
	case c == 0xcd || c == 0xd1:
		size = 2
	case c == 0xce || c == 0xd2:
		size = 4
	case c == 0xcf || c == 0xd3:
		size = 8
	default:
		return 0, false
	}
	if len(b) < 1+size {
		return 0, false
	}
	r.pos += 1 + size
	switch c {
	case 0xcc:
		return int64(b[1]), true
	case 0xd0:
		return int64(int8(b[1])), true
	case 0xcd:
		return int64(binary.BigEndian.Uint16(b[1:])), true
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(b[1:]))), true
	case 0xce:
		return int64(binary.BigEndian.Uint32(b[1:])), true
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(b[1:]))), true
	}
	return int64(binary.BigEndian.Uint64(b[1:])), true // 0xcf, 0xd3
}

func decodeFloat64s(d *msgpack.Decoder, v reflect.Value) error {
	r, _ := d.Buffered().(*msgReader)
	n, xs, err := sliceHeader[float64](d, r)
	if err != nil || n < 0 {
		v.SetZero()
		return err
	}
	for range n {
		if r != nil && r.pos+9 <= len(r.b) && r.b[r.pos] == 0xcb {
			xs = append(xs, math.Float64frombits(binary.BigEndian.Uint64(r.b[r.pos+1:])))
			r.pos += 9
			continue
		}
		x, err := d.DecodeFloat64()
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	v.Set(reflect.ValueOf(xs))
	return nil
}

// Slices of byte slices (large items: files, images) decode in place: each
// item is a slice of the message, not a copy of its bytes, so a chunk of
// megabytes costs no second copy on the worker nor on the client. The
// message's memory lives as long as one of its items does.
func init() {
	msgpack.Register([][]byte(nil), nil, decodeByteSlices)
}

func decodeByteSlices(d *msgpack.Decoder, v reflect.Value) error {
	r, _ := d.Buffered().(*msgReader)
	n, err := d.DecodeArrayLen()
	switch {
	case err != nil || n < 0:
		v.SetZero()
		return err
	case r != nil && n > len(r.b)-r.pos:
		return fmt.Errorf("wire: an array of %d values in the %d bytes left: %w", n, len(r.b)-r.pos, io.ErrUnexpectedEOF)
	}
	xs := make([][]byte, 0, min(n, 1<<16))
	for range n {
		b, ok := binAt(r)
		if !ok { // str, nil, or not Decode's reader: msgpack decides
			if b, err = d.DecodeBytes(); err != nil {
				return err
			}
		}
		xs = append(xs, b)
	}
	v.Set(reflect.ValueOf(xs))
	return nil
}

// binAt returns the bin value at r's position as a slice of r's bytes
// (capped, so an append cannot write over the next value); ok false
// leaves r as it was.
func binAt(r *msgReader) (b []byte, ok bool) {
	if r == nil || r.pos >= len(r.b) {
		return nil, false
	}
	rest := r.b[r.pos:]
	var size, hdr int
	switch rest[0] {
	case 0xc4:
		hdr = 2
		if len(rest) >= hdr {
			size = int(rest[1])
		}
	case 0xc5:
		hdr = 3
		if len(rest) >= hdr {
			size = int(binary.BigEndian.Uint16(rest[1:]))
		}
	case 0xc6:
		hdr = 5
		if len(rest) >= hdr {
			size = int(binary.BigEndian.Uint32(rest[1:]))
		}
	default:
		return nil, false
	}
	if len(rest) < hdr || size > len(rest)-hdr {
		return nil, false
	}
	r.pos += hdr + size
	return rest[hdr : hdr+size : hdr+size], true
}
