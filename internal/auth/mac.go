package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// Purpose says what a MAC vouches for. It is inside the MAC, so bytes
// sealed as one purpose never open as another.
type Purpose string

// The purposes glimpse-go seals.
const (
	PurposeCommand Purpose = "command" // a broadcast command (pool.Command)
	PurposeReply   Purpose = "reply"   // a worker's answer to a command
	PurposeChunk   Purpose = "chunk"   // a chunk job's payload, bound to its function and unique id
	PurposeResult  Purpose = "result"  // a chunk's result or error, bound likewise
	PurposeNotice  Purpose = "notice"  // a worker's "chunk started" WORK_DATA
	PurposeLog     Purpose = "log"     // a log record or heartbeat on the log channel
	// PurposeFanout is a request to the fanout worker (subscribe_fanout,
	// unsubscribe_fanout, fanout), so that with a key an outsider can
	// neither unsubscribe a worker nor have a forgery copied to all.
	PurposeFanout Purpose = "fanout request"
)

// MACSize is the length of a MAC in bytes (HMAC-SHA256).
const MACSize = sha256.Size

// Sum returns the MAC of parts for purpose p. Each part is length-prefixed,
// so ("ab", "c") and ("a", "bc") differ.
func (k *Key) Sum(p Purpose, parts ...[]byte) [MACSize]byte {
	m := k.mac(p)
	var n [binary.MaxVarintLen64]byte
	for _, part := range parts {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
		m.Write(part)
	}
	var out [MACSize]byte
	m.Sum(out[:0])
	return out
}

// Verify reports whether mac is the MAC of parts for purpose p, in
// constant time.
func (k *Key) Verify(p Purpose, mac []byte, parts ...[]byte) bool {
	want := k.Sum(p, parts...)
	return hmac.Equal(mac, want[:])
}

func (k *Key) mac(p Purpose) hash.Hash {
	m := hmac.New(sha256.New, k.secret[:])
	m.Write([]byte("glimpse v1\x00"))
	m.Write([]byte(p))
	m.Write([]byte{0})
	return m
}
