package wire

import (
	"fmt"
	"io"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// DecodeStringsInPlace reads a msgpack array of strings into *xs, each
// string sharing the message's bytes instead of a copy of them, when dec
// reads a message that Decode was given (otherwise, or for a value that
// is no str, as msgpack would). A worker's chunk of texts then costs no
// second copy of its megabytes, nor an allocation per item.
//
// A Go string must never change: use it only on a message whose bytes
// nothing writes to afterwards (a job's payload, read into memory of its
// own), and know that the message's memory lives as long as one of the
// strings, or a substring of one, does.
func DecodeStringsInPlace(d *msgpack.Decoder, xs *[]string) error {
	r, _ := d.Buffered().(*msgReader)
	n, err := d.DecodeArrayLen()
	switch {
	case err != nil || n < 0:
		*xs = nil
		return err
	case r != nil && n > len(r.b)-r.pos:
		return fmt.Errorf("wire: an array of %d values in the %d bytes left: %w", n, len(r.b)-r.pos, io.ErrUnexpectedEOF)
	}
	out := make([]string, 0, min(n, 1<<16))
	for range n {
		s, ok := strInPlace(r)
		if !ok { // bin, nil, or not Decode's reader: msgpack decides
			if s, err = d.DecodeString(); err != nil {
				return err
			}
		}
		out = append(out, s)
	}
	*xs = out
	return nil
}

// DecodeStringInPlace reads a str as DecodeStringsInPlace reads each of
// its strings: over the message's bytes, on the same terms.
func DecodeStringInPlace(d *msgpack.Decoder) (string, error) {
	r, _ := d.Buffered().(*msgReader)
	if s, ok := strInPlace(r); ok {
		return s, nil
	}
	return d.DecodeString()
}

// DecodeInt64 reads an integer as msgpack's DecodeInt64 does, straight
// from the message's bytes when dec reads a message that Decode was given
// (a table of word counts reads one per key).
func DecodeInt64(d *msgpack.Decoder) (int64, error) {
	r, _ := d.Buffered().(*msgReader)
	if x, ok := int64At(r); ok {
		return x, nil
	}
	return d.DecodeInt64()
}

// BytesLeft is how many bytes of the message dec has yet to read, when
// it reads a message that Decode was given; -1 otherwise. A count of
// values that each take a byte or more is bounded by it, so a decoder can
// allocate for that many at once without trusting a hostile header.
func BytesLeft(d *msgpack.Decoder) int {
	if r, ok := d.Buffered().(*msgReader); ok {
		return len(r.b) - r.pos
	}
	return -1
}

// strInPlace returns the str value at r's position as a string over r's
// bytes; ok false leaves r as it was.
func strInPlace(r *msgReader) (s string, ok bool) {
	if r == nil || r.pos >= len(r.b) {
		return "", false
	}
	b, size := strAt(r.b[r.pos:])
	if size == 0 {
		return "", false
	}
	r.pos += size
	if len(b) == 0 {
		return "", true // no pointer past the message's end
	}
	return unsafe.String(&b[0], len(b)), true
}
