package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where a Server serves the metrics.
const Path = "/metrics"

// scrapeTimeout bounds one scrape, and readHeaderTimeout a client that
// connects and sends nothing: every network wait has a bound.
const (
	scrapeTimeout     = 10 * time.Second
	readHeaderTimeout = 5 * time.Second
)

// AddrError is a -metrics address that cannot be served: it does not
// parse, or it cannot be bound.
type AddrError struct {
	Addr string
	Err  error
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("metrics address %q: %v", e.Addr, e.Err)
}

func (e *AddrError) Unwrap() error { return e.Err }

// ErrBadAddr is wrapped by the AddrError of an address that does not
// parse as [HOST]:PORT or PORT.
var ErrBadAddr = errors.New("want [HOST]:PORT or PORT, PORT 0-65535")

// ResolveAddr returns the address a Server listens on for addr: "PORT"
// and ":PORT" mean loopback (127.0.0.1:PORT), so that metrics are not
// offered to the network unless a host is named ("0.0.0.0:9464" for every
// interface).
func ResolveAddr(addr string) (string, error) {
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", &AddrError{Addr: addr, Err: fmt.Errorf("%w: %v", ErrBadAddr, err)}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", &AddrError{Addr: addr, Err: fmt.Errorf("%w: port %q", ErrBadAddr, port)}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Server serves a gatherer's metrics over HTTP at Path. Start one with
// Listen; Shutdown or Close stops it.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	err  error // Serve's, once done is closed

}

// ProfilesPath is where a Server started WithProfiles serves the Go
// runtime's profiles (net/http/pprof's index, /debug/pprof/profile for
// CPU, heap, goroutine...), which `go tool pprof URL` reads.
const ProfilesPath = "/debug/pprof/"

// ListenOption changes what a Server serves besides the metrics.
type ListenOption func(*http.ServeMux)

// WithProfiles also serves the Go runtime's profiles at ProfilesPath.
// They are off by default: a CPU profile costs its process a few per cent
// while it runs, and stacks tell more than metrics, so an operator turns
// them on where the endpoint is not open to the world.
func WithProfiles() ListenOption {
	return func(mux *http.ServeMux) {
		mux.HandleFunc(ProfilesPath, pprof.Index)
		mux.HandleFunc(ProfilesPath+"cmdline", pprof.Cmdline)
		mux.HandleFunc(ProfilesPath+"profile", pprof.Profile)
		mux.HandleFunc(ProfilesPath+"symbol", pprof.Symbol)
		mux.HandleFunc(ProfilesPath+"trace", pprof.Trace)
	}
}

// Listen binds addr (see ResolveAddr: loopback unless a host is named) and
// serves g's metrics there, and what opts add, until Shutdown or Close. An
// address that does not parse or cannot be bound is an *AddrError.
func Listen(addr string, g prometheus.Gatherer, opts ...ListenOption) (*Server, error) {
	resolved, err := ResolveAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", resolved)
	if err != nil {
		return nil, &AddrError{Addr: addr, Err: err}
	}
	s := &Server{ln: ln, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("/", Handler(g))
	for _, o := range opts {
		o(mux)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s, nil
}

// Handler is the HTTP handler a Server serves: g's metrics at Path, and a
// line pointing there at "/". A gateway mounts it the same way.
func Handler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: scrapeTimeout}))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "glimpse metrics: %s\n", Path)
	})
	return mux
}

// Addr is the address the server listens on (its port chosen if addr's
// was 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the metrics' URL, http://ADDR/metrics.
func (s *Server) URL() string { return "http://" + s.Addr() + Path }

// Shutdown stops accepting scrapes and waits for those under way, or for
// ctx, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	return errors.Join(err, s.err)
}

// Close stops the server at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return errors.Join(err, s.err)
}
