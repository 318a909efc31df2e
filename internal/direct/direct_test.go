package direct

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(t *testing.T, cfg ServerConfig) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func offer(t *testing.T, s *Server, parts ...[]byte) *Offer {
	t.Helper()
	o, err := s.Offer(parts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestRoundTrip: a payload offered in parts arrives whole, the result
// sent back is the Offer's, and a second fetch of the same token (a
// retry, a backup copy) gets the payload again while the first result
// stays.
func TestRoundTrip(t *testing.T) {
	s := listen(t, ServerConfig{})
	big := bytes.Repeat([]byte{7}, 3<<20)
	o := offer(t, s, []byte("head"), big, []byte("tail"))
	ref, err := ParseRef(o.Ref().Encode())
	if err != nil || ref != o.Ref() {
		t.Fatalf("the reference came back as %+v, %v; want %+v", ref, err, o.Ref())
	}
	for i, result := range [][]byte{[]byte("first"), []byte("second")} {
		f, err := Open(ctx(t), ref, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(append([]byte("head"), big...), "tail"...); !bytes.Equal(f.Payload, want) {
			t.Fatalf("fetch %d: the payload came back different (%d bytes of %d)", i, len(f.Payload), len(want))
		}
		if err := f.Deliver([][]byte{result[:2], result[2:]}); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if res, ok := o.Result(); !ok || string(res) != "first" {
		t.Fatalf("result %q, %v; want the first one", res, ok)
	}
	if o.Fetches() != 2 {
		t.Fatalf("%d fetches, want 2", o.Fetches())
	}
}

// TestGone: a dropped offer's token, and one never offered, get ErrGone;
// so does a connection that waits for its result when the offer is
// dropped (its map ended).
func TestGone(t *testing.T) {
	s := listen(t, ServerConfig{})
	o := offer(t, s, []byte("payload"))
	f, err := Open(ctx(t), o.Ref(), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o.Drop()
	if err := f.Deliver([][]byte{[]byte("late")}); err == nil {
		t.Fatal("a result delivered after the offer was dropped")
	}
	if _, err := Open(ctx(t), o.Ref(), 100); !errors.Is(err, ErrGone) {
		t.Fatalf("a fetch of a dropped token: %v, want %v", err, ErrGone)
	}
	never := o.Ref()
	never.Token = NewToken()
	if _, err := Open(ctx(t), never, 100); !errors.Is(err, ErrGone) {
		t.Fatalf("a fetch of an unknown token: %v, want %v", err, ErrGone)
	}
	if s.Offers() != 0 {
		t.Fatalf("the server holds %d offers", s.Offers())
	}
}

// TestPartialResultDropped: a worker that dies halfway through its result
// leaves no result; the next complete one is stored.
func TestPartialResultDropped(t *testing.T) {
	s := listen(t, ServerConfig{})
	o := offer(t, s, []byte("payload"))
	f, err := Open(ctx(t), o.Ref(), 100)
	if err != nil {
		t.Fatal(err)
	}
	f.conn.Write(append(lengthHeader(10), "half"...))
	f.Close()
	time.Sleep(50 * time.Millisecond)
	if res, ok := o.Result(); ok {
		t.Fatalf("a partial result was stored: %q", res)
	}
	f, err = Open(ctx(t), o.Ref(), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Deliver([][]byte{[]byte("0123456789")}); err != nil {
		t.Fatal(err)
	}
	if res, ok := o.Result(); !ok || string(res) != "0123456789" {
		t.Fatalf("result %q, %v", res, ok)
	}
}

// TestBadFrames: a connection that says anything but a hello gets
// StatusBadFrame and is closed; the server goes on serving.
func TestBadFrames(t *testing.T) {
	s := listen(t, ServerConfig{})
	for _, junk := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"} {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(junk))
		reply, _ := io.ReadAll(c)
		c.Close()
		if len(reply) != 1 || Status(reply[0]) != StatusBadFrame {
			t.Fatalf("%q: answered %q, want StatusBadFrame", junk, reply)
		}
	}
	o := offer(t, s, []byte("still serving"))
	f, err := Open(ctx(t), o.Ref(), 100)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ParseRef([]byte(magic + "r" + "short")); !errors.Is(err, ErrBadRef) {
		t.Fatalf("a cut reference: %v", err)
	}
}

// TestLimits: connections past MaxConns get ErrBusy; a result over
// MaxResult gets ErrTooLarge; a payload over the worker's limit is
// refused before it dials.
func TestLimits(t *testing.T) {
	s := listen(t, ServerConfig{MaxConns: 1, MaxResult: 4})
	o := offer(t, s, []byte("payload"))
	f, err := Open(ctx(t), o.Ref(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx(t), o.Ref(), 100); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second connection past MaxConns 1: %v, want %v", err, ErrBusy)
	}
	if err := f.Deliver([][]byte{[]byte("too long")}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a result over MaxResult: %v, want %v", err, ErrTooLarge)
	}
	f.Close()
	if _, err := Open(ctx(t), o.Ref(), 3); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a payload over the worker's limit: %v, want %v", err, ErrTooLarge)
	}
}

// TestUnreachable: a reference to a closed port fails at once with an
// *UnreachableError, and the reason a worker gives is ReasonUnreachable.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Open(ctx(t), Ref{Addr: addr, Token: NewToken(), Len: 1}, 100)
	var ue *UnreachableError
	if !errors.As(err, &ue) || ReasonOf(err) != ReasonUnreachable {
		t.Fatalf("a closed port: %v", err)
	}
}

// TestServe: Serve runs plain data as it is, and answers a reference with
// ResultSent once the result is delivered, or with Failed when the
// payload cannot be fetched.
func TestServe(t *testing.T) {
	s := listen(t, ServerConfig{})
	upper := func(p []byte) ([][]byte, error) { return [][]byte{bytes.ToUpper(p)}, nil }
	parts, err := Serve(ctx(t), []byte("plain"), 100, upper)
	if err != nil || string(parts[0]) != "PLAIN" {
		t.Fatalf("plain data: %q, %v", parts, err)
	}
	o := offer(t, s, []byte("direct"))
	parts, err = Serve(ctx(t), o.Ref().Encode(), 100, upper)
	if a, ok := ParseAnswer(parts[0]); err != nil || !ok || !a.Sent {
		t.Fatalf("a reference: %q, %v", parts, err)
	}
	if res, _ := o.Result(); string(res) != "DIRECT" {
		t.Fatalf("result %q", res)
	}
	o.Drop()
	parts, _ = Serve(ctx(t), o.Ref().Encode(), 100, upper)
	if a, ok := ParseAnswer(parts[0]); !ok || a.Sent || a.Reason != ReasonGone {
		t.Fatalf("a dropped reference: %q, want Failed(ReasonGone)", parts)
	}
}
