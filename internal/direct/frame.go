package direct

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// hello is what a worker sends first: the protocol's name and version,
// then the token.
const hello = "GLD1"

const helloSize = len(hello) + TokenSize

// Status is the server's one-byte answer to a hello or to a result.
type Status byte

const (
	StatusOK       Status = 0 // the payload follows; or: the result is stored
	StatusGone     Status = 1 // no such token
	StatusBusy     Status = 2 // too many connections
	StatusBadFrame Status = 3 // the hello was not one
	StatusTooLarge Status = 4 // the result is over the server's limit
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusGone:
		return "gone: no such token (its map has ended)"
	case StatusBusy:
		return "busy: too many connections"
	case StatusBadFrame:
		return "bad frame"
	case StatusTooLarge:
		return "result too large"
	}
	return fmt.Sprintf("status %d", byte(s))
}

// Errors a fetch ends with, as errors.Is finds them.
var (
	ErrGone     = errors.New("direct: gone: the server knows no such token")
	ErrBusy     = errors.New("direct: the server is busy")
	ErrBadFrame = errors.New("direct: bad frame")
	ErrTooLarge = errors.New("direct: too large")
)

// err is the error a worker gets for a status other than StatusOK.
func (s Status) err() error {
	switch s {
	case StatusGone:
		return ErrGone
	case StatusBusy:
		return ErrBusy
	case StatusTooLarge:
		return ErrTooLarge
	}
	return fmt.Errorf("%w: the server answered %v", ErrBadFrame, s)
}

func putHello(t Token) []byte {
	return append([]byte(hello), t[:]...)
}

// readHello reads a hello and returns its token.
func readHello(r io.Reader) (Token, error) {
	var b [helloSize]byte
	var t Token
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return t, err
	}
	if string(b[:len(hello)]) != hello {
		return t, fmt.Errorf("%w: %q is no hello", ErrBadFrame, b[:len(hello)])
	}
	copy(t[:], b[len(hello):])
	return t, nil
}

// lengthHeader is a length on the wire.
func lengthHeader(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// readLength reads a length and checks it against most.
func readLength(r io.Reader, most int64) (int64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint64(b[:])
	if n > uint64(most) {
		return int64(min(n, maxPayload)), fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, most)
	}
	return int64(n), nil
}

// expectOK reads a status byte: nil for StatusOK, else its error.
func expectOK(r io.Reader) error {
	st, err := readStatus(r)
	if err != nil {
		return err
	}
	if st != StatusOK {
		return st.err()
	}
	return nil
}

// readStatus reads a status byte.
func readStatus(r io.Reader) (Status, error) {
	var b [1]byte
	_, err := io.ReadFull(r, b[:])
	return Status(b[0]), err
}

// Size is the total length of parts: a payload or result in pieces.
func Size(parts [][]byte) int64 {
	var n int64
	for _, p := range parts {
		n += int64(len(p))
	}
	return n
}
