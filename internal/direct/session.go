package direct

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/glimpse-go/glimpse/internal/nozero"
)

// serve answers one connection: the hello, the payload, then the
// result. Any error ends it; a partial result is dropped.
func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		s.answer(c, StatusBusy)
		return
	}
	c.SetDeadline(time.Now().Add(BudgetFloor))
	token, err := readHello(c)
	if errors.Is(err, ErrBadFrame) {
		s.answer(c, StatusBadFrame)
		return
	}
	if err != nil {
		return
	}
	o := s.lookup(token)
	if o == nil {
		s.answer(c, StatusGone)
		return
	}
	parts, ok := o.attach(c)
	if !ok {
		s.answer(c, StatusGone)
		return
	}
	defer o.detach(c)
	if s.sendPayload(c, o, parts) != nil {
		return
	}
	s.takeResult(c, o)
}

// answer sends a status, within the floor's time.
func (s *Server) answer(c net.Conn, st Status) error {
	c.SetWriteDeadline(time.Now().Add(BudgetFloor))
	_, err := c.Write([]byte{byte(st)})
	return err
}

// sendPayload sends StatusOK, the length and the payload in one writev
// (two around ServerConfig.Pause).
func (s *Server) sendPayload(c net.Conn, o *Offer, parts [][]byte) error {
	c.SetWriteDeadline(time.Now().Add(Budget(o.size)))
	head := append([]byte{byte(StatusOK)}, lengthHeader(o.size)...)
	bufs := append(net.Buffers{head}, parts...)
	if s.cfg.Pause != nil {
		first, rest := splitBuffers(bufs, int64(len(head))+o.size/2)
		if _, err := first.WriteTo(c); err != nil {
			return err
		}
		s.cfg.Pause(StagePayload)
		bufs = rest
	}
	if _, err := bufs.WriteTo(c); err != nil {
		return err
	}
	o.fetches.Add(1)
	return nil
}

// takeResult waits for the result as long as the job runs (the Offer's
// Drop, or the peer's end, ends the wait), reads it within its budget
// into one buffer of its length, stores it, and acknowledges.
func (s *Server) takeResult(c net.Conn, o *Offer) {
	c.SetReadDeadline(time.Time{})
	n, err := readLength(c, s.cfg.MaxResult)
	if errors.Is(err, ErrTooLarge) {
		s.answer(c, StatusTooLarge)
		return
	}
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(Budget(n)))
	if o.hasResult() { // a second copy's: the first one won
		if _, err := io.CopyN(io.Discard, c, n); err == nil {
			s.answer(c, StatusOK)
		}
		return
	}
	buf := nozero.Bytes(int(n)) // read over in full before anyone reads it
	if err := s.readResult(c, buf); err != nil {
		return
	}
	o.store(buf)
	s.answer(c, StatusOK)
}

// readResult fills buf from c (in two reads around ServerConfig.Pause).
func (s *Server) readResult(c net.Conn, buf []byte) error {
	if s.cfg.Pause != nil {
		half := len(buf) / 2
		if err := readFull(c, buf[:half]); err != nil {
			return err
		}
		s.cfg.Pause(StageResult)
		buf = buf[half:]
	}
	return readFull(c, buf)
}

// splitBuffers cuts bufs at byte n.
func splitBuffers(bufs net.Buffers, n int64) (net.Buffers, net.Buffers) {
	var first net.Buffers
	for i, b := range bufs {
		if int64(len(b)) >= n {
			first = append(first, b[:n])
			return first, append(net.Buffers{b[n:]}, bufs[i+1:]...)
		}
		first = append(first, b)
		n -= int64(len(b))
	}
	return first, nil
}
