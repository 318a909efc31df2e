package direct

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// magic starts every job data and answer of this package: a byte no
// versioned msgpack message, shared value header or sealed frame starts
// with, then "GLD". Job data that does not start with it is no Ref.
const magic = "\xd7GLD"

// Kinds of message after the magic.
const (
	kindRef        = 'r'
	kindResultSent = 's'
	kindFailed     = 'f'
)

// MaxAddr bounds a Ref's address.
const MaxAddr = 255

// Ref is what a job carries instead of its payload: where to fetch it,
// the token to present and the payload's length, which the worker checks
// against its limits before it fetches anything.
type Ref struct {
	Addr  string // host:port of the Server
	Token Token
	Len   int64 // the payload's length in bytes
}

// ErrBadRef is job data that starts as a Ref but is not a valid one.
var ErrBadRef = errors.New("direct: malformed reference")

// Encode returns the Ref as job data.
func (r Ref) Encode() []byte {
	b := make([]byte, 0, len(magic)+1+TokenSize+binary.MaxVarintLen64+len(r.Addr))
	b = append(b, magic...)
	b = append(b, kindRef)
	b = append(b, r.Token[:]...)
	b = binary.AppendUvarint(b, uint64(r.Len))
	return append(b, r.Addr...)
}

// IsRef says whether job data is a Ref (valid or not): data of any other
// kind is left to its usual reader.
func IsRef(data []byte) bool {
	return len(data) > len(magic) && string(data[:len(magic)]) == magic && data[len(magic)] == kindRef
}

// ParseRef reads job data that IsRef.
func ParseRef(data []byte) (Ref, error) {
	var r Ref
	if !IsRef(data) {
		return r, ErrBadRef
	}
	p := data[len(magic)+1:]
	if len(p) < TokenSize {
		return r, fmt.Errorf("%w: cut short", ErrBadRef)
	}
	copy(r.Token[:], p)
	n, k := binary.Uvarint(p[TokenSize:])
	if k <= 0 || n > maxPayload {
		return r, fmt.Errorf("%w: bad length", ErrBadRef)
	}
	r.Len = int64(n)
	addr := p[TokenSize+k:]
	if len(addr) == 0 || len(addr) > MaxAddr {
		return r, fmt.Errorf("%w: address of %d bytes", ErrBadRef, len(addr))
	}
	r.Addr = string(addr)
	return r, nil
}

// maxPayload bounds any length on the wire (1 TiB), so that arithmetic on
// it cannot overflow; the peers' own limits are far lower.
const maxPayload = 1 << 40
