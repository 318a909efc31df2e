package tlsproxy_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/internal/certs"
	"github.com/glimpse-go/glimpse/internal/tlsproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer is a plaintext backend that echoes each line it reads; it
// returns its address. t.Cleanup stops it.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

type fixture struct {
	ca    *certs.CA
	proxy *tlsproxy.Proxy
}

func start(t *testing.T, backend string) fixture {
	t.Helper()
	ca, err := certs.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := tlsproxy.Listen("127.0.0.1:0", tlsproxy.Config{
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Backend: backend, HandshakeTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return fixture{ca: ca, proxy: p}
}

func (f fixture) dial(t *testing.T) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", f.proxy.Addr(), &tls.Config{RootCAs: f.ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo through the proxy = %q, %v", got, err)
	}
}

// TestForwards: bytes go through both ways, and a client that stops
// sending (half-close) still gets the backend's answer.
func TestForwards(t *testing.T) {
	f := start(t, echoServer(t))
	c := f.dial(t)
	roundTrip(t, c, "hello")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "last words\n")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "last words\n" {
		t.Fatalf("after half-close: %q, %v", rest, err)
	}
}

// TestCloseEndsConnections: Close ends the connections in progress (their
// reads end), refuses new ones, returns promptly, and leaves no
// goroutine behind (goleak in TestMain).
func TestCloseEndsConnections(t *testing.T) {
	f := start(t, echoServer(t))
	conns := []*tls.Conn{f.dial(t), f.dial(t), f.dial(t)}
	for _, c := range conns {
		roundTrip(t, c, "up")
	}
	idle, err := net.Dial("tcp", f.proxy.Addr()) // connected, no handshake yet
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	closed := make(chan error, 1)
	go func() { closed <- f.proxy.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close still running after 5s")
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d: read %d bytes, %v after Close; want it ended", i, n, err)
		}
	}
	if c, err := net.DialTimeout("tcp", f.proxy.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("the proxy still accepts after Close")
	}
	if err := f.proxy.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPlaintextClientGetsAlert: a client that sends plaintext instead of
// a ClientHello reads a fatal TLS alert, then the end of the connection.
func TestPlaintextClientGetsAlert(t *testing.T) {
	f := start(t, echoServer(t))
	c, err := net.Dial("tcp", f.proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "\x00REQ\x00\x00\x00\x1a\x00\x00\x00\x0aexceptions")
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read the alert: %v", err)
	}
	if buf[0] != 0x15 || buf[5] != 2 {
		t.Fatalf("got % x; want a fatal TLS alert record", buf)
	}
	if n, err := c.Read(buf); err != io.EOF {
		t.Fatalf("after the alert: %d bytes, %v; want EOF", n, err)
	}
}

// TestBackendDown: with nothing at the backend address, a client's
// connection ends right after its handshake; the proxy keeps serving.
func TestBackendDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := start(t, addr)
	c := f.dial(t)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a proxy whose backend is down", n)
	}
}

// TestBadConfig: Listen refuses a config with no certificate or a
// backend that is no host:port, saying which.
func TestBadConfig(t *testing.T) {
	_, err := tlsproxy.Listen("127.0.0.1:0", tlsproxy.Config{TLS: &tls.Config{}, Backend: "127.0.0.1:4730"})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("no certificate: %v", err)
	}
	ca, _ := certs.NewCA("x")
	cert, _ := ca.Server("127.0.0.1")
	_, err = tlsproxy.Listen("127.0.0.1:0", tlsproxy.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Backend: "gearmand"})
	if err == nil || !strings.Contains(err.Error(), `"gearmand"`) {
		t.Errorf("bad backend: %v", err)
	}
}

// TestServerTLSFiles: ServerTLS reads a certificate, its key and a client
// CA bundle; with the bundle, a client without a certificate is refused
// and one with a certificate from that CA gets through. A missing file
// is named in the error.
func TestServerTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA("file CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteCA(dir, "ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	server, _ := ca.Server("127.0.0.1")
	certFile, keyFile, err := certs.WritePair(dir, "server", server)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsproxy.ServerTLS(certFile, keyFile, dir+"/missing.pem"); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing client CA file: %v", err)
	}
	conf, err := tlsproxy.ServerTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tlsproxy.Listen("127.0.0.1:0", tlsproxy.Config{TLS: conf, Backend: echoServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dial := func(certs ...tls.Certificate) (*tls.Conn, error) {
		return tls.Dial("tcp", p.Addr(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", Certificates: certs})
	}
	// TLS 1.3: the server checks the client's certificate after the
	// client's handshake is done; the refusal comes with the first read.
	c, err := dial()
	if err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "x\n")
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("without a client certificate: %v; want \"certificate required\"", err)
	}
	client, _ := ca.Client("client")
	c, err = dial(client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "with a certificate")
}
