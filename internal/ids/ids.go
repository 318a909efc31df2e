// Package ids makes the random ids of glimpse-go: map ids, command ids,
// worker and fanout ids, namespace prefixes. One place, so that they all
// come from crypto/rand and read the same (lower-case hex).
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns n random bytes as 2n lower-case hex digits.
func New(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics instead
	return hex.EncodeToString(b)
}
