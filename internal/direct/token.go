package direct

import (
	"crypto/rand"
	"encoding/hex"
)

// TokenSize is the size of a Token: 128 bits.
const TokenSize = 16

// Token names one Offer to its server. It is random (crypto/rand), so it
// cannot be guessed from other tokens.
type Token [TokenSize]byte

// NewToken returns a fresh random token.
func NewToken() Token {
	var t Token
	rand.Read(t[:]) // never fails (crypto/rand.Read's contract)
	return t
}

// String is the token's first bytes in hex, for logs: not enough to use it.
func (t Token) String() string { return hex.EncodeToString(t[:4]) }
