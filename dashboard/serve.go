package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/glimpse-go/glimpse/internal/hostcheck"
)

// ShutdownWait bounds how long Serve waits for requests to end once its
// context ends; then it closes their connections.
const ShutdownWait = 2 * time.Second

// Listen opens addr for Serve. An empty host is refused, as is any
// unspecified address ("0.0.0.0", "::"): the dashboard has no login, so
// it is served on loopback or on an explicit address of this host.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return nil, fmt.Errorf("dashboard: listen address %q: %w", addr, ErrEveryInterface)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return ln, nil
}

// ErrEveryInterface refuses a listen address on every interface.
var ErrEveryInterface = errors.New("it would listen on every interface; give 127.0.0.1 or an address of this host")

// URL is the address of a dashboard served on ln.
func URL(ln net.Listener) string { return "http://" + ln.Addr().String() + "/" }

// checkHost refuses requests whose Host is a name other than localhost
// (see hostcheck).
func checkHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, ok := hostcheck.Allowed(r.Host); !ok {
			http.Error(w, "dashboard: host "+host+" not served: use the address it listens on", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Serve serves h on ln until ctx ends, then stops within about
// ShutdownWait: requests in progress (the log streams among them) are
// told to end, and connections still open after that are closed. A
// request whose Host is a name other than localhost is refused (421), so
// that no other site's page can read the dashboard through DNS rebinding.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	reqCtx, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	srv := &http.Server{Handler: checkHost(h), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return reqCtx }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
	}
	endRequests()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownWait)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-served
	return nil
}
