package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/hostcheck"
	"github.com/glimpse-go/glimpse/webhook"
)

// The built-in webhook function is exposed by every gateway: Miyamoto's
// /queue enqueues its tasks.
var _ = Expose(webhook.Deliver)

// Timeouts bound Serve's connections and its shutdown; zero fields take
// the [http] defaults.
type Timeouts struct {
	Read, Write, Shutdown time.Duration
}

// TimeoutsFrom reads the [http] timeouts.
func TimeoutsFrom(h config.HTTP) Timeouts {
	return Timeouts{Read: h.ReadTimeout, Write: h.WriteTimeout, Shutdown: h.ShutdownTimeout}
}

// Listen opens addr for Serve ("" is config.DefaultHTTPListen, loopback).
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = config.DefaultHTTPListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return ln, nil
}

// URL is the address of a gateway served on ln.
func URL(ln net.Listener) string { return "http://" + ln.Addr().String() + "/" }

// Serve serves g on ln until ctx ends, then shuts down: /readyz answers
// 503, no new connection is accepted, and the requests in flight have
// t.Shutdown to finish (their contexts stay alive meanwhile); then their
// connections are closed and their contexts cancelled. On a loopback
// listener, requests whose Host is a name other than localhost are
// refused (421): another site's page cannot reach the gateway through DNS
// rebinding.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, t Timeouts) error {
	def := config.DefaultHTTP()
	t.Read, t.Write, t.Shutdown = orDefault(t.Read, def.ReadTimeout), orDefault(t.Write, def.WriteTimeout), orDefault(t.Shutdown, def.ShutdownTimeout)
	reqCtx, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	var h http.Handler = g
	if isLoopback(ln.Addr()) {
		h = checkHost(g)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: min(t.Read, 10*time.Second), ReadTimeout: t.Read,
		WriteTimeout: t.Read + t.Write, IdleTimeout: 2 * time.Minute, ErrorLog: nil,
		BaseContext: func(net.Listener) context.Context { return reqCtx }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}
	g.draining.Store(true)
	g.endDrain()
	sctx, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	defer cancel()
	err := srv.Shutdown(sctx)
	endRequests()
	if err != nil {
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// checkHost refuses requests whose Host is a name other than localhost.
func checkHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, ok := hostcheck.Allowed(r.Host); !ok {
			errorf(w, http.StatusMisdirectedRequest, "host %q not served: use the address the gateway listens on", host)
			return
		}
		h.ServeHTTP(w, r)
	})
}
