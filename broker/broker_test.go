package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv(brokerChildEnv) != "" {
		runBrokerChild()
		return
	}
	goleak.VerifyTestMain(m)
}

// ephemeral binds every channel on a free loopback port.
var ephemeral = config.Server{
	CommandFrontendURL: "tcp://127.0.0.1:*",
	CommandBackendURL:  "tcp://127.0.0.1:*",
	LogFrontendURL:     "tcp://127.0.0.1:*",
	LogBackendURL:      "tcp://127.0.0.1:*",
}

// startBroker serves a broker on free ports until the test ends, and
// checks that Serve then returns ErrClosed.
func startBroker(t testing.TB, cfg config.Server, opts ...Option) *Broker {
	t.Helper()
	b, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return b
}

func newPublisher(t testing.TB, url string, opts ...PublisherOption) *Publisher {
	t.Helper()
	p, err := NewPublisher(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newSubscriber(t testing.TB, url string, topics ...string) *Subscriber {
	t.Helper()
	s, err := NewSubscriber(url, topics...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitSubscribed(t testing.TB, ctx context.Context, p *Publisher, topic string) {
	t.Helper()
	if err := p.WaitSubscribed(ctx, topic); err != nil {
		t.Fatalf("wait for a subscription to %q: %v", topic, err)
	}
}

// waitSubscription waits until p has the subscription sub itself, not
// only one that matches it as waitSubscribed does: with a subscription to
// everything (""), every probe topic matches at once.
func waitSubscription(t testing.TB, ctx context.Context, p *Publisher, sub string) {
	t.Helper()
	for {
		if err := p.drain(); err != nil {
			t.Fatalf("wait for the subscription %q: %v", sub, err)
		}
		if p.subs[sub] {
			return
		}
		if err := waitReadable(ctx, p.poller); err != nil {
			t.Fatalf("wait for the subscription %q: %v", sub, err)
		}
	}
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	testenv.Eventually(t, ctx, what, func() (bool, error) { return cond(), nil })
}

func recv(t *testing.T, ctx context.Context, s *Subscriber) (string, [][]byte) {
	t.Helper()
	topic, parts, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return topic, parts
}

// expectNothing checks that no message arrives for a while.
func expectNothing(t *testing.T, s *Subscriber) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if topic, parts, err := s.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %q %q (err %v), want no message", topic, parts, err)
	}
}

type channelURLs struct{ name, front, back string }

func channels(a config.Server) []channelURLs {
	return []channelURLs{
		{"command", a.CommandFrontendURL, a.CommandBackendURL},
		{"log", a.LogFrontendURL, a.LogBackendURL},
	}
}

// TestForward sends through each channel: topics are filtered by prefix
// through the broker, and multi-part messages arrive whole.
func TestForward(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b := startBroker(t, ephemeral)
	for _, ch := range channels(b.Addrs()) {
		t.Run(ch.name, func(t *testing.T) {
			pub := newPublisher(t, ch.front)
			sub := newSubscriber(t, ch.back, "a.")
			waitSubscribed(t, ctx, pub, "a.x")
			all := newSubscriber(t, ch.back, "")
			waitSubscribed(t, ctx, pub, "z") // only the subscription to everything matches

			big := bytes.Repeat([]byte("x"), 1<<20)
			sends := []struct {
				topic string
				parts [][]byte
			}{
				{"b.1", [][]byte{[]byte("filtered")}},
				{"a.1", [][]byte{[]byte("one"), {}, []byte("three")}},
				{"a.2", nil},
				{"b.2", nil},
				{"a.3", [][]byte{big}},
			}
			for _, m := range sends {
				if err := pub.Send(m.topic, m.parts...); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range sends {
				topic, parts := recv(t, ctx, all)
				if topic != m.topic || !equalParts(parts, m.parts) {
					t.Errorf("subscriber to everything got %q with %d parts, want %q with %d", topic, len(parts), m.topic, len(m.parts))
				}
				if !strings.HasPrefix(m.topic, "a.") {
					continue
				}
				topic, parts = recv(t, ctx, sub)
				if topic != m.topic || !equalParts(parts, m.parts) {
					t.Errorf("got %q with %d parts, want %q with %d", topic, len(parts), m.topic, len(m.parts))
				}
			}
			expectNothing(t, sub)
		})
	}
}

func equalParts(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestOrder sends 10,000 multi-part messages through the log channel:
// all arrive, in order, whole.
func TestOrder(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b := startBroker(t, ephemeral)
	sub := newSubscriber(t, b.Addrs().LogBackendURL, "log.")
	pub := newPublisher(t, b.Addrs().LogFrontendURL)
	waitSubscribed(t, ctx, pub, "log.w1")
	const n = 10000
	for i := range n {
		if err := pub.Send("log.w1", seq(i), []byte("record "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		topic, parts := recv(t, ctx, sub)
		if topic != "log.w1" || len(parts) != 2 || binary.BigEndian.Uint64(parts[0]) != uint64(i) ||
			string(parts[1]) != "record "+strconv.Itoa(i) {
			t.Fatalf("message %d: got %q %q", i, topic, parts)
		}
	}
	expectNothing(t, sub)
}

func seq(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

// TestSubscriptionsReachPublishers: subscribing, unsubscribing and
// closing a subscriber reach the publishers through the broker (XPUB to
// XSUB), and a publisher that connects later learns the subscriptions
// already there.
func TestSubscriptionsReachPublishers(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b := startBroker(t, ephemeral)
	for _, ch := range channels(b.Addrs()) {
		t.Run(ch.name, func(t *testing.T) {
			early := newPublisher(t, ch.front)
			if early.Subscribed("x.1") {
				t.Fatal("subscribed before any subscriber")
			}
			sub := newSubscriber(t, ch.back, "x.")
			waitSubscribed(t, ctx, early, "x.1")
			if early.Subscribed("y.1") {
				t.Error(`a subscription to "x." matches "y.1"`)
			}
			late := newPublisher(t, ch.front)
			waitSubscribed(t, ctx, late, "x.1")

			if err := sub.Subscribe("y."); err != nil {
				t.Fatal(err)
			}
			if err := sub.Unsubscribe("x."); err != nil {
				t.Fatal(err)
			}
			for _, p := range []*Publisher{early, late} {
				waitSubscribed(t, ctx, p, "y.1")
				eventually(t, "the unsubscription to reach the publisher", func() bool { return !p.Subscribed("x.1") })
			}
			sub.Close()
			for _, p := range []*Publisher{early, late} {
				eventually(t, "the closed subscriber's subscription to go", func() bool { return !p.Subscribed("y.1") })
			}
		})
	}
}

// TestManyPeers: three publishers and three subscribers on one channel;
// every subscriber gets what it subscribed to from every publisher, each
// publisher's messages in order.
func TestManyPeers(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b := startBroker(t, ephemeral)
	a := b.Addrs()
	const nPub, nMsg = 3, 1000
	topics := [][]string{{""}, {""}, {"p1."}}
	var subs []*Subscriber
	for i, ts := range topics {
		s := newSubscriber(t, a.LogBackendURL, ts...)
		// Subscriptions travel in order: once a publisher has this
		// subscriber's last one, the broker has the others (it forwards
		// one only once it took it), and so does the publisher.
		if err := s.Subscribe(fmt.Sprintf("probe.s%d.", i)); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	var pubs []*Publisher
	for range nPub {
		p := newPublisher(t, a.LogFrontendURL)
		for i := range subs {
			// Not waitSubscribed: the first subscriber's "" matches the
			// probes of the others before theirs arrive (a subscriber then
			// missed the first messages).
			waitSubscription(t, ctx, p, fmt.Sprintf("probe.s%d.", i))
		}
		pubs = append(pubs, p)
	}
	// The publishers send at once, each from its own goroutine.
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() {
			for j := range nMsg {
				if err := p.Send(fmt.Sprintf("p%d.", i), seq(j)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var rg sync.WaitGroup
	for i, s := range subs {
		want := nPub * nMsg
		if i == 2 {
			want = nMsg
		}
		rg.Go(func() {
			next := map[string]uint64{}
			for range want {
				topic, parts, err := s.Recv(ctx)
				if err != nil {
					t.Errorf("subscriber %d: %v after %v", i, err, next)
					return
				}
				if got := binary.BigEndian.Uint64(parts[0]); got != next[topic] {
					t.Errorf("subscriber %d: %s message %d, want %d", i, topic, got, next[topic])
					return
				}
				next[topic]++
			}
			if i == 2 && (len(next) != 1 || next["p1."] != nMsg) {
				t.Errorf("subscriber to p1. got %v", next)
			}
		})
	}
	wg.Wait()
	rg.Wait()
	for _, s := range subs {
		expectNothing(t, s)
	}
}

// TestShutdownPrompt stops a broker with peers connected, a subscriber
// that does not read and messages queued everywhere: Shutdown returns
// within a second, Serve returns ErrClosed, no goroutine is left, and the
// URLs can be bound again.
func TestShutdownPrompt(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b, err := New(ephemeral)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	a := b.Addrs()
	body := make([]byte, 100)
	for i, ch := range channels(a) {
		newSubscriber(t, ch.back, "") // never reads
		p := newPublisher(t, ch.front, WithLinger(0))
		waitSubscribed(t, ctx, p, "flood")
		// Flood until the broker has forwarded more than the subscriber
		// and the kernel's buffers can hold, so that its own queue fills;
		// the publisher drops what it cannot send on time.
		for {
			st := b.Stats()
			if cs := []ChannelStats{st.Command, st.Log}[i]; cs.Down.Messages > 2*DefaultHWM {
				break
			}
			if err := ctx.Err(); err != nil {
				t.Fatalf("the %s channel's queues never filled: %v", ch.name, err)
			}
			for range 10000 {
				if err := p.Send("flood", body); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v after %v", err, time.Since(start))
	}
	took := time.Since(start)
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve returned %v, want ErrClosed", err)
	}
	t.Logf("Shutdown took %v", took)
	goleak.VerifyNone(t)

	// Closed means closed, and the URLs are free.
	if err := b.Serve(); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Shutdown: %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
	again, err := New(a)
	if err != nil {
		t.Fatalf("bind the same URLs again: %v", err)
	}
	again.Close()
}

// TestShutdownWithoutServe closes a broker that never served.
func TestShutdownWithoutServe(t *testing.T) {
	b, err := New(ephemeral)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Shutdown: %v, want ErrClosed", err)
	}
	if st := b.Stats(); st != (Stats{}) {
		t.Errorf("Stats %+v, want zero", st)
	}
	again, err := New(b.Addrs())
	if err != nil {
		t.Fatalf("bind the same URLs again: %v", err)
	}
	again.Close()
}

func TestServeTwice(t *testing.T) {
	b := startBroker(t, ephemeral)
	eventually(t, "Serve to start", func() bool { return b.life.State() == lifecycle.Running })
	if err := b.Serve(); err == nil || errors.Is(err, ErrClosed) {
		t.Errorf("second Serve: %v, want an error other than ErrClosed", err)
	}
}

// TestBindFailure: a URL already in use fails New with an error naming
// its key and URL, and leaves nothing bound: the same URLs bind once the
// port is free.
func TestBindFailure(t *testing.T) {
	keys := []string{"command_frontend_url", "command_backend_url", "log_frontend_url", "log_backend_url"}
	for i, key := range keys {
		t.Run(key, func(t *testing.T) {
			blocker, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer blocker.Close()
			urls := make([]string, len(keys))
			for j := range urls {
				urls[j] = "tcp://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
			}
			urls[i] = "tcp://" + blocker.Addr().String()
			cfg := config.Server{CommandFrontendURL: urls[0], CommandBackendURL: urls[1], LogFrontendURL: urls[2], LogBackendURL: urls[3]}

			b, err := New(cfg)
			if err == nil {
				b.Close()
				t.Fatal("New bound a port in use")
			}
			want := "broker: bind " + key + " " + urls[i] + ": "
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(strings.ToLower(err.Error()), "address already in use") {
				t.Errorf("error %q, want %q followed by address already in use", err, want)
			}
			// The URLs bound before the failure are free again.
			for j, u := range urls {
				if j == i {
					continue
				}
				l, err := net.Listen("tcp", strings.TrimPrefix(u, "tcp://"))
				if err != nil {
					t.Errorf("%s still bound after the failed New: %v", u, err)
					continue
				}
				l.Close()
			}
			blocker.Close()
			b, err = New(cfg)
			if err != nil {
				t.Fatalf("New once the port is free: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	ok := "tcp://127.0.0.1:*"
	for _, tc := range []struct {
		name string
		cfg  config.Server
		want []string
	}{
		{"empty", config.Server{}, []string{"[server] sets no URL"}},
		{"one missing", config.Server{CommandFrontendURL: ok, CommandBackendURL: ok, LogFrontendURL: ok},
			[]string{"[server] log_backend_url", "missing"}},
		{"bad scheme", config.Server{CommandFrontendURL: "udp://1.2.3.4:5", CommandBackendURL: ok, LogFrontendURL: ok, LogBackendURL: ok},
			[]string{"[server] command_frontend_url", "udp"}},
		{"ephemeral port shown as given", config.Server{CommandFrontendURL: ok, CommandBackendURL: "tcp://no host:*", LogFrontendURL: ok, LogBackendURL: ok},
			[]string{"[server] command_backend_url", `"tcp://no host:*"`}},
		{"inproc", config.Server{CommandFrontendURL: ok, CommandBackendURL: ok, LogFrontendURL: "inproc://logs", LogBackendURL: ok},
			[]string{"[server] log_frontend_url", "inproc"}},
		{"hwm", ephemeral, []string{"high-water mark -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.name == "hwm" {
				opts = append(opts, WithHWM(-1))
			}
			b, err := New(tc.cfg, opts...)
			if err == nil {
				b.Close()
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestConfigErrorType: config's errors keep their type through New, for
// errors.As.
func TestConfigErrorType(t *testing.T) {
	_, err := New(config.Server{CommandFrontendURL: "tcp://127.0.0.1:9000"})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Section != "server" {
		t.Errorf("error %v is not a *config.Error of [server]", err)
	}
}

func TestAddrs(t *testing.T) {
	b := startBroker(t, ephemeral)
	a := b.Addrs()
	seen := map[string]bool{}
	for _, u := range []string{a.CommandFrontendURL, a.CommandBackendURL, a.LogFrontendURL, a.LogBackendURL} {
		port, ok := strings.CutPrefix(u, "tcp://127.0.0.1:")
		if n, err := strconv.Atoi(port); !ok || err != nil || n == 0 || seen[u] {
			t.Errorf("bound endpoint %q: want tcp://127.0.0.1:PORT, each its own", u)
		}
		seen[u] = true
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Addrs is not a valid [server]: %v", err)
	}
}

// TestStats counts what the broker forwards, per channel and direction,
// and keeps the final counts after Close.
func TestStats(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b, err := New(ephemeral)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	a := b.Addrs()
	sub := newSubscriber(t, a.LogBackendURL, "t")
	pub := newPublisher(t, a.LogFrontendURL)
	waitSubscribed(t, ctx, pub, "t")
	const n = 100
	for range n {
		if err := pub.Send("t", make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		recv(t, ctx, sub)
	}
	want := Stats{Log: ChannelStats{
		Down: Traffic{Messages: n, Bytes: n * (1 + 10)},
		Up:   Traffic{Messages: 1, Bytes: 2}, // "\x01t"
	}}
	if st := b.Stats(); st != want {
		t.Errorf("Stats %+v, want %+v", st, want)
	}
	b.Close()
	<-served
	if st := b.Stats(); st != want {
		t.Errorf("Stats after Close %+v, want %+v", st, want)
	}
}

// TestStatsUnderSignals forwards while signals land on the log proxy's
// thread: the proxy must not give up with EINTR and be restarted by
// pebbe/zmq4, which would zero its counts.
func TestStatsUnderSignals(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b := startBroker(t, ephemeral)
	a := b.Addrs()
	sub := newSubscriber(t, a.LogBackendURL, "")
	pub := newPublisher(t, a.LogFrontendURL)
	waitSubscribed(t, ctx, pub, "s")
	tid := int(b.chans[1].tid.Load())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			// SIGURG: the Go runtime's preemption signal, which it
			// ignores when it did not send it.
			syscall.Tgkill(os.Getpid(), tid, syscall.SIGURG)
			time.Sleep(100 * time.Microsecond)
		}
	})
	const n = 100000
	var got atomic.Int64
	wg.Go(func() {
		for range n {
			if _, _, err := sub.Recv(ctx); err != nil {
				t.Error(err)
				return
			}
			got.Add(1)
		}
	})
	for i := range n {
		for int64(i)-got.Load() > 10000 {
			time.Sleep(50 * time.Microsecond)
		}
		if err := pub.Send("s", make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
	}
	for got.Load() < n && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if st := b.Stats(); st.Log.Down.Messages != n {
		t.Errorf("the broker counted %d messages, want %d", st.Log.Down.Messages, n)
	}
}

// TestPeersSurviveBrokerRestart: publishers and subscribers reconnect to
// a broker that comes back on the same URLs, and subscriptions are sent
// again.
func TestPeersSurviveBrokerRestart(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	b, err := New(ephemeral)
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve()
	a := b.Addrs()
	sub := newSubscriber(t, a.CommandBackendURL, "cmd.")
	pub := newPublisher(t, a.CommandFrontendURL)
	waitSubscribed(t, ctx, pub, "cmd.ping")
	b.Close()
	eventually(t, "the publisher to lose the subscription", func() bool { return !pub.Subscribed("cmd.ping") })

	// The subscriber sends its subscription again from within Recv: a
	// ZeroMQ socket does its housekeeping only while it is being used.
	type message struct {
		topic string
		parts [][]byte
		err   error
	}
	got := make(chan message, 1)
	go func() {
		topic, parts, err := sub.Recv(ctx)
		got <- message{topic, parts, err}
	}()
	startBroker(t, a)
	waitSubscribed(t, ctx, pub, "cmd.ping")
	if err := pub.Send("cmd.ping", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m.err != nil || m.topic != "cmd.ping" || len(m.parts) != 1 || string(m.parts[0]) != "1" {
		t.Errorf("got %q %q, error %v", m.topic, m.parts, m.err)
	}
}

func TestPeerContextAndClose(t *testing.T) {
	b := startBroker(t, ephemeral)
	a := b.Addrs()
	sub := newSubscriber(t, a.LogBackendURL, "x")
	pub := newPublisher(t, a.LogFrontendURL)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := sub.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Recv: %v, want DeadlineExceeded", err)
	}
	if err := pub.WaitSubscribed(ctx, "nobody"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitSubscribed: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a 100ms deadline took %v", d)
	}

	// Cancelled while waiting, with no deadline to poll toward.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	if _, _, err := sub.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Recv: %v, want Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancelling took %v", d)
	}

	sub.Close()
	pub.Close()
	if _, _, err := sub.Recv(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
	if err := sub.Subscribe("y"); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	if err := pub.Send("x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	if err := pub.WaitSubscribed(context.Background(), "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitSubscribed after Close: %v, want ErrClosed", err)
	}
	if err := pub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPeerBadURL(t *testing.T) {
	if _, err := NewPublisher("nonsense"); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("NewPublisher: %v, want an error naming the URL", err)
	}
	if _, err := NewSubscriber("tcp://"); err == nil {
		t.Error("NewSubscriber: no error")
	}
}

// BenchmarkLogForwarding measures small messages (a 9-byte topic and a
// 100-byte body) through the log channel on loopback: publisher, broker
// and subscriber in this process. The publisher keeps at most 50,000
// messages in flight, under every high-water mark, so that none is
// dropped.
func BenchmarkLogForwarding(b *testing.B) {
	ctx := testenv.ContextWithin(b, time.Minute)
	br := startBroker(b, ephemeral)
	a := br.Addrs()
	sub := newSubscriber(b, a.LogBackendURL, "log.")
	pub := newPublisher(b, a.LogFrontendURL)
	waitSubscribed(b, ctx, pub, "log.bench")
	body := make([]byte, 100)
	const window = 50000
	var got atomic.Int64
	errc := make(chan error, 1)
	b.SetBytes(int64(len("log.bench") + len(body)))
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, _, err := sub.Recv(ctx); err != nil {
				errc <- err
				return
			}
			got.Add(1)
		}
		errc <- nil
	}()
	for i := range b.N {
		for int64(i)-got.Load() >= window {
			time.Sleep(20 * time.Microsecond)
		}
		if err := pub.Send("log.bench", body); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if st := br.Stats(); st.Log.Down.Messages != uint64(b.N) {
		b.Errorf("broker forwarded %d messages, want %d", st.Log.Down.Messages, b.N)
	}
}
