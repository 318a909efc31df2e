package wire

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
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
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	return &encoder{buf: &buf, enc: enc}
}}

type encoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

// Encode returns v as a versioned msgpack message.
func Encode(v any) ([]byte, error) { return EncodeAfter(0, v) }

// EncodeAfter is Encode with headroom zero bytes in front of the message,
// in the same allocation: room for a header (a cluster key's MAC frame,
// see auth.SealInPlace) without copying a large message once more.
func EncodeAfter(headroom int, v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	e.buf.WriteByte(version)
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	out := make([]byte, headroom+e.buf.Len())
	copy(out[headroom:], e.buf.Bytes())
	return out, nil
}

var decoders = sync.Pool{New: func() any { return msgpack.NewDecoder(nil) }}

// Decode reads a message that Encode made into v. It refuses another
// version, and checks the message's lengths and nesting before it
// decodes, so hostile data costs neither memory nor stack.
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
	dec.Reset(bytes.NewReader(data[1:]))
	return dec.Decode(v)
}
