package wire

import (
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/glimpse-go/glimpse/internal/nozero"
)

// version is the first byte of every chunk payload, result and error.
// A peer that sees another version refuses the message instead of
// misreading it. Payloads are msgpack data only: a worker runs nothing
// but the functions compiled into it, so a job can never carry code.
//
// Version 2 added the type shapes to chunks. A client and its workers
// ship together (they import the same package of functions), so a peer
// of version 1 is refused with "message version 1, this program speaks
// version 2" rather than served without the type check.
const version = 2

var encoders = sync.Pool{New: func() any {
	w := &sliceWriter{}
	enc := msgpack.NewEncoder(w)
	enc.UseCompactInts(true)
	return &encoder{w: w, enc: enc}
}}

type encoder struct {
	w   *sliceWriter
	enc *msgpack.Encoder
}

// sliceWriter is what the msgpack encoder writes to: it appends to the
// slice that becomes the message itself, so a message is never copied
// out of an encoding buffer (a 100 MB chunk once cost a growing
// bytes.Buffer and a clone of it).
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *sliceWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *sliceWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

// Encode returns v as a versioned msgpack message.
func Encode(v any) ([]byte, error) { return EncodeSized(0, 0, v) }

// EncodeAfter is Encode with headroom zero bytes in front of the message,
// in the same allocation: room for a header (a cluster key's MAC frame,
// see auth.SealInPlace) without copying a large message once more.
func EncodeAfter(headroom int, v any) ([]byte, error) { return EncodeSized(headroom, 0, v) }

// EncodeSized is EncodeAfter into a buffer of headroom+sizeHint bytes
// allocated up front: with a hint near the message's size (a chunk's
// items times their measured size), the message is written once, with
// no regrowth. A low hint costs regrowth, a high one spare capacity.
func EncodeSized(headroom, sizeHint int, v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	// Only the bytes the encoder appends are ever read: the rest of the
	// buffer need not be zeroed first (a megabyte item's chunk paid for
	// clearing it as much as for a third of its socket read).
	buf := nozero.Bytes(headroom + 1 + max(sizeHint, 64))[:headroom+1]
	clear(buf[:headroom])
	buf[headroom] = version
	e.w.b = buf
	err := e.enc.Encode(v)
	buf, e.w.b = e.w.b, nil // the pooled encoder keeps no message alive
	if err != nil {
		return nil, err
	}
	return buf, nil
}

// PartMin: EncodeParts leaves a byte string of this size or more where it
// is, as a part of its own.
const PartMin = 64 << 10

var partEncoders = sync.Pool{New: func() any {
	w := &partsWriter{}
	enc := msgpack.NewEncoder(w)
	enc.UseCompactInts(true) // as encoders': the same bytes as Encode
	return &partsEncoder{w: w, enc: enc}
}}

type partsEncoder struct {
	w   *partsWriter
	enc *msgpack.Encoder
}

// partsWriter collects a message as parts: the encoder's small writes
// appended to one buffer, each large byte string (a []byte value's own
// bytes, as msgpack hands them over) a part of its own, not copied.
type partsWriter struct {
	parts [][]byte
	cur   []byte // small writes since the last large one
}

func (w *partsWriter) Write(p []byte) (int, error) {
	if len(p) < PartMin {
		w.cur = append(w.cur, p...)
		return len(p), nil
	}
	if len(w.cur) > 0 {
		w.parts = append(w.parts, w.cur)
	}
	w.parts = append(w.parts, p)
	w.cur = w.cur[len(w.cur):len(w.cur)] // later small writes go after, in the same buffer
	return len(p), nil
}

func (w *partsWriter) WriteByte(c byte) error {
	w.cur = append(w.cur, c)
	return nil
}

// EncodeParts returns v as Encode would, but in parts whose concatenation
// is the message: its byte strings of PartMin bytes or more are parts of
// their own, the values' own memory, not copies, and the rest is copied
// into a buffer of about smallHint bytes. The first part holds at least
// the version byte. A large message is then sent without being assembled
// (gearman.WithMoreData, Job.SetMoreResult, both by writev): the values
// must not change while the parts are in use.
func EncodeParts(smallHint int, v any) ([][]byte, error) {
	e := partEncoders.Get().(*partsEncoder)
	defer partEncoders.Put(e)
	e.w.cur = append(make([]byte, 0, max(smallHint, 64)), version)
	err := e.enc.Encode(v)
	parts := e.w.parts
	if len(e.w.cur) > 0 {
		parts = append(parts, e.w.cur)
	}
	e.w.parts, e.w.cur = nil, nil // the pooled encoder keeps no message alive
	if err != nil {
		return nil, err
	}
	return parts, nil
}

var decoders = sync.Pool{New: func() any { return msgpack.NewDecoder(nil) }}

// Decode reads a message that Encode made into v. It refuses another
// version, and checks the message's lengths and nesting before it
// decodes, so hostile data costs neither memory nor stack.
//
// The items of a [][]byte are slices of data, not copies (scalars.go):
// data must not be changed while they are in use.
func Decode(data []byte, v any) error {
	if len(data) == 0 {
		return errors.New("empty message")
	}
	if data[0] != version {
		return fmt.Errorf("message version %d, this program speaks version %d", data[0], version)
	}
	// A first pass that only walks the message: msgpack/v5 sizes a slice
	// from the length its header claims, and recurses once per level of
	// nesting, so a hostile header could make the worker allocate
	// gigabytes, and ten million nested arrays overflow its stack (a fatal
	// error, not a panic). The walk allocates next to nothing and fails on
	// a length the message does not hold or on nesting too deep.
	if err := walkMsgpack(data[1:]); err != nil {
		return fmt.Errorf("malformed message: %w", err)
	}
	dec := decoders.Get().(*msgpack.Decoder)
	defer decoders.Put(dec)
	defer dec.ResetReader(nil) // the pooled decoder keeps no message alive
	dec.Reset(&msgReader{b: data[1:]})
	return dec.Decode(v)
}
