package broker

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// TestServeTwiceIsErrRunning: of two Serves at once, one serves and the
// other is refused with lifecycle.ErrRunning, under the package's name;
// the one that served returns ErrClosed, which is lifecycle.ErrClosed.
func TestServeTwiceIsErrRunning(t *testing.T) {
	b, err := New(ephemeral)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	for range 2 {
		go func() { served <- b.Serve() }()
	}
	refused := <-served // the other serves until Close
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(refused, lifecycle.ErrRunning) || !strings.HasPrefix(refused.Error(), "broker: ") {
		t.Errorf("the second Serve: %v, want broker: wrapping lifecycle.ErrRunning", refused)
	}
	closed := <-served
	if !errors.Is(closed, ErrClosed) || !errors.Is(closed, lifecycle.ErrClosed) {
		t.Errorf("Serve after Close: %v, want ErrClosed matching lifecycle.ErrClosed", closed)
	}
	if err := b.Serve(); !errors.Is(err, lifecycle.ErrClosed) {
		t.Errorf("Serve on a closed broker: %v, want lifecycle.ErrClosed", err)
	}
}

// TestProxyFailure: a channel whose forwarding stops by itself ends
// Serve with a *ChannelError naming it; the broker is then closed, its
// URLs free, and Close and Stats return at once.
func TestProxyFailure(t *testing.T) {
	b, err := New(ephemeral)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	log := b.chans[1]
	eventually(t, "Serve to start the proxies", func() bool {
		log.ctlMu.Lock()
		defer log.ctlMu.Unlock()
		return log.alive
	})
	// The proxy stops on TERMINATE, which only Serve's stop should send.
	log.ctlMu.Lock()
	err = log.sendControl("TERMINATE")
	log.ctlMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	err = <-served
	var ce *ChannelError
	if !errors.As(err, &ce) || ce.Channel != "log" || !errors.Is(err, errProxyStopped) || errors.Is(err, ErrClosed) {
		t.Fatalf("Serve: %v, want a *ChannelError of the log channel", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close after the failure: %v", err)
	}
	b.Stats() // must not wait for a Serve that has returned
	again, err := New(b.Addrs())
	if err != nil {
		t.Fatalf("bind the same URLs again: %v", err)
	}
	again.Close()
}

// TestBindErrorType: a held port fails New and BindSubscriber with a
// *BindError naming the key and URL, matching ErrAddrInUse.
func TestBindErrorType(t *testing.T) {
	blocker, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	held := "tcp://" + blocker.Addr().String()
	cfg := ephemeral
	cfg.LogBackendURL = held
	_, err = New(cfg)
	var be *BindError
	if !errors.As(err, &be) || be.Key != "log_backend_url" || be.URL != held || !errors.Is(err, ErrAddrInUse) {
		t.Errorf("New on a held port: %v, want a *BindError of log_backend_url %s matching ErrAddrInUse", err, held)
	}
	_, err = BindSubscriber(held)
	if !errors.As(err, &be) || be.Key != "" || be.URL != held || !errors.Is(err, ErrAddrInUse) {
		t.Errorf("BindSubscriber on a held port: %v, want a *BindError of %s matching ErrAddrInUse", err, held)
	}
}

// TestConfigErrorTypeWithEphemeralPort: a bad URL with an ephemeral port
// gives a *config.Error too, showing the URL as given.
func TestConfigErrorTypeWithEphemeralPort(t *testing.T) {
	for _, tc := range []struct{ key, url, want string }{
		{"command_backend_url", "tcp://no host:*", `[server] command_backend_url: "tcp://no host:*": host "no host"`},
		{"log_frontend_url", "inproc://logs", `[server] log_frontend_url: "inproc://logs": inproc`},
	} {
		cfg := ephemeral
		if tc.key == "command_backend_url" {
			cfg.CommandBackendURL = tc.url
		} else {
			cfg.LogFrontendURL = tc.url
		}
		_, err := New(cfg)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Section != "server" || ce.Key != tc.key || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with %s %s: %v, want a *config.Error containing %s", tc.key, tc.url, err, tc.want)
		}
	}
}

// TestStatsDuringShutdown: Stats called from several goroutines while the
// broker forwards and stops neither blocks nor races the stop, and ends
// with the final counts.
func TestStatsDuringShutdown(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b, err := New(ephemeral)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	sub := newSubscriber(t, b.Addrs().CommandBackendURL, "c")
	pub := newPublisher(t, b.Addrs().CommandFrontendURL)
	waitSubscribed(t, ctx, pub, "c")
	const n = 50
	for range n {
		if err := pub.Send("c"); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		recv(t, ctx, sub)
	}
	stop := make(chan struct{})
	readers := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { readers <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
					b.Stats()
				}
			}
		}()
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	for range 4 {
		<-readers
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve: %v, want ErrClosed", err)
	}
	if got := b.Stats().Command.Down.Messages; got != n {
		t.Errorf("final count %d messages, want %d", got, n)
	}
}
