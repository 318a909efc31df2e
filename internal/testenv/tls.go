package testenv

import (
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/glimpse-go/glimpse/internal/certs"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/tlsproxy"
)

// TLSJobServer is a real gearmand on loopback behind a TLS proxy, with a
// throwaway CA: a job server that clients reach over TLS only.
type TLSJobServer struct {
	Gearmand *gearmand.Process // plaintext, on 127.0.0.1
	Proxy    *tlsproxy.Proxy   // TLS, on 127.0.0.1, forwarding to Gearmand
	CA       *certs.CA         // signed the proxy's certificate (127.0.0.1, localhost)
	CAFile   string            // the CA's certificate, PEM, in the test's temp dir
}

// Addr is the proxy's "host:port", where clients connect over TLS.
func (s *TLSJobServer) Addr() string { return s.Proxy.Addr() }

// ClientTLS is a client config that trusts the CA only.
func (s *TLSJobServer) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.CA.Pool(), ClientSessionCache: tls.NewLRUClientSessionCache(0)}
}

// TLSGearmand starts gearmand (with extra flags args, as Gearmand) and a
// TLS proxy in front of it; t.Cleanup closes the proxy, then gearmand.
func TLSGearmand(t testing.TB, args ...string) *TLSJobServer {
	t.Helper()
	gd := Gearmand(t, args...)
	ca, err := certs.NewCA("testenv CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteCA(t.TempDir(), "ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Server("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	p := TLSProxy(t, gd.Addr(), &tls.Config{Certificates: []tls.Certificate{cert}})
	return &TLSJobServer{Gearmand: gd, Proxy: p, CA: ca, CAFile: filepath.Clean(caFile)}
}

// TLSProxy starts a TLS proxy on a free loopback port in front of backend;
// t.Cleanup closes it (registered after the backend's, so it runs first).
func TLSProxy(t testing.TB, backend string, conf *tls.Config) *tlsproxy.Proxy {
	t.Helper()
	return TLSProxyAt(t, "127.0.0.1:0", backend, conf)
}

// TLSProxyAt is TLSProxy listening on addr.
func TLSProxyAt(t testing.TB, addr, backend string, conf *tls.Config) *tlsproxy.Proxy {
	t.Helper()
	p, err := tlsproxy.Listen(addr, tlsproxy.Config{TLS: conf, Backend: backend})
	if err != nil {
		t.Fatalf("testenv: TLS proxy: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil { // closing twice is harmless
			t.Errorf("testenv: close TLS proxy: %v", err)
		}
	})
	return p
}
