package gearman_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/certs"
	"github.com/glimpse-go/glimpse/internal/tlsproxy"
)

// WithTLS applies to a Client, a Worker and an Admin alike. gearmand has
// no working TLS of its own, so it listens on loopback behind a TLS proxy
// (glimpse-cluster tls-proxy), and the parties connect to the proxy. A
// party that does not trust the proxy's CA fails with a *TLSError, and a
// plaintext one with ErrTLSRequired.
func ExampleWithTLS() {
	srv := exampleServer()
	defer srv.Stop()
	ca, err := certs.NewCA("example CA") // your cluster's CA; a throwaway one here
	if err != nil {
		log.Fatal(err)
	}
	cert, err := ca.Server("127.0.0.1")
	if err != nil {
		log.Fatal(err)
	}
	proxy, err := tlsproxy.Listen("127.0.0.1:0", tlsproxy.Config{
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Backend: srv.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer proxy.Close()

	// One config for every connection, so that redials resume the session.
	conf := &tls.Config{RootCAs: ca.Pool(), ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	w, err := gearman.NewWorker([]string{proxy.Addr()}, gearman.WithTLS(conf))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Register("upper", func(_ context.Context, j *gearman.Job) ([]byte, error) { return bytes.ToUpper(j.Data), nil })
	go w.Run()

	ctx := context.Background()
	c, err := gearman.NewClient(ctx, []string{proxy.Addr()}, gearman.WithTLS(conf))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	out, err := c.Call(ctx, "upper", []byte("over tls"))
	fmt.Println(string(out), err)

	a, err := gearman.DialAdmin(ctx, proxy.Addr(), gearman.WithTLS(conf))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	version, err := a.Version(ctx)
	fmt.Println(version != "", err)

	_, err = gearman.DialAdmin(ctx, proxy.Addr(), gearman.WithTLS(&tls.Config{RootCAs: x509.NewCertPool()}))
	var te *gearman.TLSError
	var unknown x509.UnknownAuthorityError
	fmt.Println(errors.As(err, &te) && te.Server == proxy.Addr(), errors.As(err, &unknown))

	_, err = gearman.NewClient(ctx, []string{proxy.Addr()}) // plaintext, to the TLS port
	fmt.Println(errors.Is(err, gearman.ErrTLSRequired))
	// Output:
	// OVER TLS <nil>
	// true <nil>
	// true true
	// true
}
