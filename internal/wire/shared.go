package wire

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// A map's shared value (pool.RegisterWith) travels as a header in front
// of a chunk's payload, inside what a cluster key seals:
//
//	'S' | flags | SHA-256 of the encoded value (32 bytes) | uvarint len(shape) | shape | [uvarint len(value) | value]
//
// The value itself (a versioned msgpack message) is there only when flag
// sharedInline is set; otherwise the chunk names it by its hash, and a
// worker takes it from its cache or answers CodeNeedShared. A chunk
// without a shared value starts with the version byte, never with 'S', so
// the header is optional and chunks without one are unchanged.

const (
	sharedMagic  = 'S'
	sharedInline = 1 << 0
)

// SharedHashSize is the size of a shared value's hash.
const SharedHashSize = sha256.Size

// CodeNeedShared is the TaskError.Code of a worker's answer to a chunk
// that names a shared value by its hash only, when the worker does not
// hold it: the client sends the chunk again with the value inline.
const CodeNeedShared = "glimpse.need-shared"

// CodeSharedDropped is CodeNeedShared from a worker that had the value and
// dropped it (evicted it, or failed to load it): the client cannot take
// the worker's earlier start notice as a sign that it holds the value.
const CodeSharedDropped = "glimpse.need-shared-again"

// SharedRef is the header of a chunk that carries a shared value.
type SharedRef struct {
	Hash  [SharedHashSize]byte // SHA-256 of Value
	Shape string               // the wire shape of the value's type
	Value []byte               // the encoded value; nil if only the hash travels
}

// HashShared is the hash a shared value's encoding travels under.
func HashShared(encoded []byte) [SharedHashSize]byte { return sha256.Sum256(encoded) }

// SharedHeaderSize is the size of ref's header, its value included if it
// is inline.
func SharedHeaderSize(ref SharedRef) int {
	n := 2 + SharedHashSize + uvarintLen(uint64(len(ref.Shape))) + len(ref.Shape)
	if ref.Value != nil {
		n += uvarintLen(uint64(len(ref.Value))) + len(ref.Value)
	}
	return n
}

// PutSharedHeader writes ref's header at the start of dst, which must
// hold SharedHeaderSize(ref) bytes, and returns what follows it.
func PutSharedHeader(dst []byte, ref SharedRef) []byte {
	dst[0] = sharedMagic
	dst[1] = 0
	if ref.Value != nil {
		dst[1] = sharedInline
	}
	n := 2 + copy(dst[2:], ref.Hash[:])
	n += binary.PutUvarint(dst[n:], uint64(len(ref.Shape)))
	n += copy(dst[n:], ref.Shape)
	if ref.Value != nil {
		n += binary.PutUvarint(dst[n:], uint64(len(ref.Value)))
		n += copy(dst[n:], ref.Value)
	}
	return dst[n:]
}

// ErrBadSharedHeader is a chunk whose shared value header is cut short or
// malformed.
var ErrBadSharedHeader = errors.New("malformed shared value header")

// SplitShared reads the shared value header of a chunk payload: ok is
// false, and rest the whole payload, if it has none. ref.Value aliases
// payload.
func SplitShared(payload []byte) (ref SharedRef, rest []byte, ok bool, err error) {
	if len(payload) == 0 || payload[0] != sharedMagic {
		return ref, payload, false, nil
	}
	if len(payload) < 2+SharedHashSize || payload[1]&^sharedInline != 0 {
		return ref, nil, true, ErrBadSharedHeader
	}
	copy(ref.Hash[:], payload[2:])
	p := payload[2+SharedHashSize:]
	shape, p, err := cutBytes(p)
	if err != nil {
		return ref, nil, true, err
	}
	ref.Shape = string(shape)
	if payload[1]&sharedInline != 0 {
		if ref.Value, p, err = cutBytes(p); err != nil {
			return ref, nil, true, err
		}
		if ref.Value == nil {
			ref.Value = []byte{}
		}
	}
	return ref, p, true, nil
}

// cutBytes reads a uvarint length and that many bytes.
func cutBytes(p []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, ErrBadSharedHeader
	}
	return p[k : k+int(n)], p[k+int(n):], nil
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// SharedFunction is a Function whose chunks carry a shared value: the
// worker runtime decodes the value once (DecodeShared) and caches it, and
// hands it to RunChunk in the chunk's context (WithSharedValue).
type SharedFunction interface {
	Function
	// SharedShape is the wire shape of the shared value's type; a chunk
	// whose header names another is not decoded (RunChunk then refuses
	// it with a type mismatch).
	SharedShape() string
	// DecodeShared decodes an encoded shared value.
	DecodeShared(encoded []byte) (any, error)
}

type sharedValueKey struct{}

// WithSharedValue returns ctx carrying a chunk's decoded shared value.
func WithSharedValue(ctx context.Context, v any) context.Context {
	return context.WithValue(ctx, sharedValueKey{}, sharedBox{v})
}

// sharedBox tells a nil shared value from none.
type sharedBox struct{ v any }

// SharedValue returns the decoded shared value that ctx carries.
func SharedValue(ctx context.Context) (any, bool) {
	b, ok := ctx.Value(sharedValueKey{}).(sharedBox)
	return b.v, ok
}

// SharedHashError is an inline shared value that does not match the hash
// it travels under.
type SharedHashError struct{ Want, Got [SharedHashSize]byte }

func (e *SharedHashError) Error() string {
	return fmt.Sprintf("the shared value's SHA-256 is %x, not the %x its chunk names", e.Got[:8], e.Want[:8])
}

// maxAliasWorker bounds the worker id in a SharedAlias; a worker's own
// ids are far shorter.
const maxAliasWorker = 96

// IsSharedAlias says whether a Gearman function is a SharedAlias:
// registered names have no '@'.
func IsSharedAlias(gearmanName string) bool {
	return strings.HasPrefix(gearmanName, GearmanPrefix) && strings.Contains(gearmanName, "@")
}

// SharedAlias is the Gearman function under which one worker process
// alone serves a function that takes a shared value: the client sends it
// the chunk that brings the value inline, so that the copy reaches the
// worker that asked for it and not one that holds it already. The chunk is
// sealed for, and run as, the function itself. "" if worker cannot name
// one (empty, too long, or not printable ASCII without spaces).
func SharedAlias(gearmanName, worker string) string {
	if worker == "" || len(worker) > maxAliasWorker {
		return ""
	}
	for i := range len(worker) {
		if worker[i] <= ' ' || worker[i] > '~' {
			return ""
		}
	}
	return gearmanName + "@" + worker
}

// BytesView is the []byte that encoded (a message of Encode) holds, in
// place, not copied; false if encoded holds anything else than one byte
// string (msgpack's bin format). A worker's 50 MB shared table is used
// where it came, in the job's data, instead of copied out of it.
func BytesView(encoded []byte) ([]byte, bool) {
	if len(encoded) < 1 || encoded[0] != version {
		return nil, false
	}
	encoded = encoded[1:]
	if len(encoded) < 2 {
		return nil, false
	}
	var n, head int
	switch encoded[0] {
	case 0xc4: // bin 8
		n, head = int(encoded[1]), 2
	case 0xc5: // bin 16
		if len(encoded) < 3 {
			return nil, false
		}
		n, head = int(binary.BigEndian.Uint16(encoded[1:])), 3
	case 0xc6: // bin 32
		if len(encoded) < 5 {
			return nil, false
		}
		n, head = int(binary.BigEndian.Uint32(encoded[1:])), 5
	default:
		return nil, false
	}
	if len(encoded)-head != n {
		return nil, false
	}
	return encoded[head:len(encoded):len(encoded)], true
}
