package direct

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/glimpse-go/glimpse/internal/nozero"
)

// DialTimeout bounds a worker's dial of a Ref's address.
const DialTimeout = 5 * time.Second

// Fetch is a payload a worker fetched, and the connection its result
// goes back on.
type Fetch struct {
	Payload []byte
	conn    net.Conn
	stop    func() bool // ends the watch on the job's context
}

// Open fetches ref's payload, refusing one over maxLen bytes before it
// dials. The connection stays open for Deliver until Close; ctx's end
// breaks it.
func Open(ctx context.Context, ref Ref, maxLen int64) (*Fetch, error) {
	if ref.Len > maxLen {
		return nil, fmt.Errorf("%w: a payload of %d bytes, the limit is %d", ErrTooLarge, ref.Len, maxLen)
	}
	d := net.Dialer{Timeout: DialTimeout, Control: bigBuffers}
	conn, err := d.DialContext(ctx, "tcp", ref.Addr)
	if err != nil {
		return nil, &UnreachableError{Addr: ref.Addr, Err: err}
	}
	f := &Fetch{conn: conn}
	f.stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	if err := f.read(ref); err != nil {
		f.Close()
		if errors.Is(err, ErrGone) || errors.Is(err, ErrBusy) || errors.Is(err, ErrBadFrame) {
			return nil, err
		}
		return nil, &UnreachableError{Addr: ref.Addr, Err: err}
	}
	return f, nil
}

// read sends the hello and reads the payload, within its budget.
func (f *Fetch) read(ref Ref) error {
	f.conn.SetDeadline(time.Now().Add(Budget(ref.Len)))
	if _, err := f.conn.Write(putHello(ref.Token)); err != nil {
		return err
	}
	if err := expectOK(f.conn); err != nil {
		return err
	}
	n, err := readLength(f.conn, ref.Len)
	if err != nil || n != ref.Len {
		return fmt.Errorf("%w: a payload of %d bytes, its reference said %d (%v)", ErrBadFrame, n, ref.Len, err)
	}
	f.Payload = nozero.Bytes(int(n))
	if err := readFull(f.conn, f.Payload); err != nil {
		return err
	}
	f.conn.SetDeadline(time.Time{}) // the job runs now, as long as it takes
	return nil
}

// Deliver sends the result, whose concatenation is parts, in one writev,
// and waits for the server to say it stored it, within its budget.
func (f *Fetch) Deliver(parts [][]byte) error {
	n := Size(parts)
	f.conn.SetDeadline(time.Now().Add(Budget(n)))
	bufs := append(net.Buffers{lengthHeader(n)}, parts...)
	if _, err := bufs.WriteTo(f.conn); err != nil {
		return err
	}
	return expectOK(f.conn)
}

// Close closes the connection. The Payload stays usable. A nil Fetch
// closes nothing.
func (f *Fetch) Close() error {
	if f == nil {
		return nil
	}
	f.stop()
	return f.conn.Close()
}

// ReasonOf is the Reason a worker gives for a fetch's error.
func ReasonOf(err error) Reason {
	switch {
	case errors.Is(err, ErrGone):
		return ReasonGone
	case errors.Is(err, ErrBusy):
		return ReasonBusy
	case errors.Is(err, ErrBadFrame), errors.Is(err, ErrTooLarge), errors.Is(err, ErrBadRef):
		return ReasonRefused
	}
	return ReasonUnreachable
}
