package gearman_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/certs"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// TestTLSClientWorkerAdmin: a Worker, a Client and an Admin given WithTLS
// reach gearmand through a TLS proxy: a job makes the round trip, the
// admin port lists the worker, and after the proxy drops every
// connection (a restart on the same port) the worker and the client
// redial over TLS and the next job goes through too.
func TestTLSClientWorkerAdmin(t *testing.T) {
	srv := testenv.TLSGearmand(t)
	conf := srv.ClientTLS()
	ctx := testenv.ContextWithin(t, time.Minute)
	backoff := gearman.WithBackoff(5*time.Millisecond, 50*time.Millisecond)
	runWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"tls.echo": echo},
		gearman.WithTLS(conf), gearman.WithClientID("tls-worker"), backoff)
	waitWorkers(t, srv.Gearmand.Addr(), "tls.echo", 1)

	a, err := gearman.DialAdmin(ctx, srv.Addr(), gearman.WithTLS(conf))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ws, err := a.Workers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ws, func(w gearman.WorkerInfo) bool { return w.ClientID == "tls-worker" }) {
		t.Fatalf("admin over TLS: workers %+v, want tls-worker", ws)
	}

	c, err := gearman.NewClient(ctx, []string{srv.Addr()}, gearman.WithTLS(conf), backoff)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := c.Call(ctx, "tls.echo", []byte("over tls")); err != nil || string(out) != "over tls" {
		t.Fatalf("Call over TLS = %q, %v", out, err)
	}

	restartProxy(t, srv)
	waitWorkers(t, srv.Gearmand.Addr(), "tls.echo", 1)
	testenv.Eventually(t, ctx, "a job after the proxy's restart", func() (bool, error) {
		out, err := c.Call(ctx, "tls.echo", []byte("again"))
		return err == nil && string(out) == "again", nil
	})
	// The admin's first question finds its connection gone; the next one
	// dials again.
	testenv.Eventually(t, ctx, "an admin answer after the proxy's restart", func() (bool, error) {
		_, err := a.Status(ctx)
		return err == nil, nil
	})
}

// restartProxy closes the proxy, which ends every connection through it,
// and starts a new one on the same port with the same certificate.
func restartProxy(t *testing.T, srv *testenv.TLSJobServer) {
	t.Helper()
	addr := srv.Addr()
	if err := srv.Proxy.Close(); err != nil {
		t.Fatal(err)
	}
	cert, err := srv.CA.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv.Proxy = testenv.TLSProxyAt(t, addr, srv.Gearmand.Addr(), &tls.Config{Certificates: []tls.Certificate{cert}})
}

// TestTLSWrongCA: a Client or an Admin that does not trust the proxy's CA
// fails at once with a *gearman.TLSError naming the server, which wraps
// crypto/tls's certificate error.
func TestTLSWrongCA(t *testing.T) {
	srv := testenv.TLSGearmand(t)
	other, err := certs.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{RootCAs: other.Pool()}
	ctx := testenv.ContextWithin(t, time.Minute)
	err = returnsWithin(t, "NewClient", func() error {
		c, err := gearman.NewClient(ctx, []string{srv.Addr()}, gearman.WithTLS(conf))
		if err == nil {
			c.Close()
		}
		return err
	})
	checkUntrusted(t, "NewClient", err, srv.Addr())
	err = returnsWithin(t, "DialAdmin", func() error {
		a, err := gearman.DialAdmin(ctx, srv.Addr(), gearman.WithTLS(conf))
		if err == nil {
			a.Close()
		}
		return err
	})
	checkUntrusted(t, "DialAdmin", err, srv.Addr())
}

func checkUntrusted(t *testing.T, what string, err error, addr string) {
	t.Helper()
	var te *gearman.TLSError
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &te) || te.Server != addr || !errors.As(err, &ve) || !errors.As(err, &ua) {
		t.Fatalf("%s: err = %v; want a *gearman.TLSError for %s wrapping an unknown authority", what, err, addr)
	}
	if !strings.Contains(err.Error(), "TLS handshake with "+addr) {
		t.Errorf("%s: %q does not name the handshake with %s", what, err, addr)
	}
}

// TestTLSPlaintextClientRefused: a Client or an Admin without WithTLS
// against the TLS port fails at once with an error that says the server
// expects TLS (the proxy's alert), not with a timeout or a generic
// protocol error.
func TestTLSPlaintextClientRefused(t *testing.T) {
	srv := testenv.TLSGearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	err := returnsWithin(t, "NewClient", func() error {
		c, err := gearman.NewClient(ctx, []string{srv.Addr()})
		if err == nil {
			c.Close()
		}
		return err
	})
	if !errors.Is(err, gearman.ErrTLSRequired) || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("plaintext NewClient: err = %v; want ErrTLSRequired naming %s", err, srv.Addr())
	}
	a, err := gearman.DialAdmin(ctx, srv.Addr())
	if err != nil {
		t.Fatal(err) // plaintext TCP connects; the first reply tells
	}
	defer a.Close()
	err = returnsWithin(t, "Admin.Status", func() error { _, err := a.Status(ctx); return err })
	if !errors.Is(err, gearman.ErrTLSRequired) || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("plaintext admin: err = %v; want ErrTLSRequired naming %s", err, srv.Addr())
	}
}

// TestTLSHandshakeBounded: a server that accepts and never answers the
// ClientHello fails the dial within the dial timeout, with a *TLSError.
func TestTLSHandshakeBounded(t *testing.T) {
	addr := testenv.SilentServer(t)
	conf := &tls.Config{RootCAs: x509.NewCertPool()}
	ctx := testenv.ContextWithin(t, time.Minute)
	start := time.Now()
	err := returnsWithin(t, "NewClient", func() error {
		c, err := gearman.NewClient(ctx, []string{addr}, gearman.WithTLS(conf), gearman.WithDialTimeout(requestBound))
		if err == nil {
			c.Close()
		}
		return err
	})
	var te *gearman.TLSError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want a *gearman.TLSError wrapping the deadline", err)
	}
	if d := time.Since(start); d < requestBound {
		t.Errorf("gave up after %v, before the dial timeout %v", d, requestBound)
	}
	err = returnsWithin(t, "DialAdmin", func() error {
		a, err := gearman.DialAdmin(ctx, addr, gearman.WithTLS(conf), gearman.WithDialTimeout(requestBound))
		if err == nil {
			a.Close()
		}
		return err
	})
	if !errors.As(err, &te) {
		t.Fatalf("DialAdmin: err = %v; want a *gearman.TLSError", err)
	}
}

// TestTLSClientCertificate: behind a proxy that requires client
// certificates, a client holding one signed by the required CA gets
// through, and one without is refused with an error that says why.
func TestTLSClientCertificate(t *testing.T) {
	srv := testenv.TLSGearmand(t)
	clientCA, err := certs.NewCA("client CA")
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := srv.CA.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.TLSProxy(t, srv.Gearmand.Addr(), &tls.Config{Certificates: []tls.Certificate{serverCert},
		ClientCAs: clientCA.Pool(), ClientAuth: tls.RequireAndVerifyClientCert})
	runWorker(t, []string{srv.Gearmand.Addr()}, map[string]gearman.JobFunc{"tls.echo": echo})
	waitWorkers(t, srv.Gearmand.Addr(), "tls.echo", 1)
	ctx := testenv.ContextWithin(t, time.Minute)

	err = returnsWithin(t, "NewClient without a certificate", func() error {
		c, err := gearman.NewClient(ctx, []string{p.Addr()}, gearman.WithTLS(srv.ClientTLS()))
		if err == nil {
			c.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "certificate required") || !strings.Contains(err.Error(), p.Addr()) {
		t.Fatalf("without a client certificate: err = %v; want \"certificate required\" naming %s", err, p.Addr())
	}

	cert, err := clientCA.Client("a worker")
	if err != nil {
		t.Fatal(err)
	}
	conf := srv.ClientTLS()
	conf.Certificates = []tls.Certificate{cert}
	c, err := gearman.NewClient(ctx, []string{p.Addr()}, gearman.WithTLS(conf))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := c.Call(ctx, "tls.echo", []byte("mtls")); err != nil || string(out) != "mtls" {
		t.Fatalf("Call with a client certificate = %q, %v", out, err)
	}
}
