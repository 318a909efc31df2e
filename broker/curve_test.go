package broker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

func newKey(t testing.TB) *auth.Key {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func peerSubscriber(t testing.TB, c Peers, url string, bind bool, topics ...string) *Subscriber {
	t.Helper()
	open := c.NewSubscriber
	if bind {
		open = c.BindSubscriber
	}
	s, err := open(url, topics...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func peerPublisher(t testing.TB, c Peers, url string, bind bool) *Publisher {
	t.Helper()
	open := c.NewPublisher
	if bind {
		open = c.BindPublisher
	}
	p, err := open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// impostor returns a Peers-like CURVE client that knows the cluster's
// server public key (as if it had leaked) but not the client key: only
// the ZAP handler can refuse it.
func impostorSubscriber(t *testing.T, k *auth.Key, url string) *Subscriber {
	t.Helper()
	real, err := deriveCurveKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	public, secret, err := zmq.NewCurveKeypair()
	if err != nil {
		t.Fatal(err)
	}
	fake := &curveKeys{serverPublic: real.serverPublic, clientPublic: public, clientSecret: secret}
	ep, err := Peers{}.dial(url, zmq.SUB, DefaultHWM, 0, fake.connect)
	if err != nil {
		t.Fatal(err)
	}
	s, err := wrapSubscriber(url, ep, []string{""})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pump sends real on the keyed publisher and forged on the outsiders'
// until the keyed subscriber has received n real messages; it fails the
// test if the keyed subscriber gets a forged one or an outsider's
// subscriber gets anything.
func pump(t *testing.T, ctx context.Context, keyed *Publisher, forgers []*Publisher, sub *Subscriber, spies []*Subscriber, n int) {
	t.Helper()
	for got := 0; got < n; {
		if err := keyed.Send("log.w1", []byte("real")); err != nil {
			t.Fatal(err)
		}
		for _, f := range forgers {
			if err := f.Send("log.w1", []byte("forged")); err != nil {
				t.Fatal(err)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, parts, err := sub.Recv(rctx)
		cancel()
		switch {
		case err == nil && string(parts[0]) != "real":
			t.Fatalf("the keyed subscriber received %q from a peer without the key", parts[0])
		case err == nil:
			got++
		case ctx.Err() != nil:
			t.Fatalf("the keyed subscriber received %d of %d messages: %v", got, n, err)
		}
	}
	for i, s := range spies {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		topic, parts, err := s.Recv(rctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("outsider %d received %q %q (err %v)", i, topic, parts, err)
		}
	}
}

// TestKeyedBrokerRefusesOutsiders: with a key, the broker forwards the
// key holders' messages, while plain ZeroMQ peers, CURVE peers of another
// key and a CURVE peer that learned the server key but lacks the client
// key read nothing and publish nothing, on both channels.
func TestKeyedBrokerRefusesOutsiders(t *testing.T) {
	ctx := testenv.ContextWithin(t, 30*time.Second)
	k := newKey(t)
	logged := testenv.NewOutput()
	b := startBroker(t, ephemeral, WithKey(k), WithLogger(slog.New(slog.NewTextHandler(logged, nil))))
	keyed, other := Peers{Key: k}, Peers{Key: newKey(t)}
	for _, ch := range channels(b.Addrs()) {
		t.Run(ch.name, func(t *testing.T) {
			sub := peerSubscriber(t, keyed, ch.back, false, "log.")
			spies := []*Subscriber{
				peerSubscriber(t, Peers{}, ch.back, false, ""),
				peerSubscriber(t, other, ch.back, false, ""),
				impostorSubscriber(t, k, ch.back),
			}
			pub := peerPublisher(t, keyed, ch.front, false)
			waitSubscribed(t, ctx, pub, "log.w1")
			forgers := []*Publisher{peerPublisher(t, Peers{}, ch.front, false), peerPublisher(t, other, ch.front, false)}
			pump(t, ctx, pub, forgers, sub, spies, 20)
			for i, f := range forgers {
				if f.Subscribed("log.w1") {
					t.Errorf("outsider publisher %d received the keyed subscriber's subscription", i)
				}
			}
		})
	}
	eventually(t, "the impostors' refused handshakes", func() bool { return b.Stats().RefusedHandshakes >= 2 })
	// Rate-limited: the first refusal is logged, the next within
	// refusalWarnEvery are only counted.
	if n := strings.Count(logged.String(), "refused a ZeroMQ peer without the cluster key"); n != 1 ||
		!strings.Contains(logged.String(), "address=127.0.0.1") {
		t.Errorf("the broker logged %d WARNs about refused peers, want 1 naming the address:\n%s", n, logged)
	}
}

// TestKeyedBoundPeers is TestKeyedBrokerRefusesOutsiders with no broker:
// the client's bound peers admit only key holders.
func TestKeyedBoundPeers(t *testing.T) {
	ctx := testenv.ContextWithin(t, 30*time.Second)
	k := newKey(t)
	keyed, other := Peers{Key: k}, Peers{Key: newKey(t)}

	logs := peerSubscriber(t, keyed, "tcp://127.0.0.1:*", true, "log.")
	pub := peerPublisher(t, keyed, logs.URL(), false)
	// No WaitSubscribed: a bound subscriber sends its subscriptions while
	// in Recv, which pump calls between its sends.
	forgers := []*Publisher{peerPublisher(t, Peers{}, logs.URL(), false), peerPublisher(t, other, logs.URL(), false)}
	time.Sleep(100 * time.Millisecond) // let the forgers try to connect
	pump(t, ctx, pub, forgers, logs, nil, 20)

	cmds := peerPublisher(t, keyed, "tcp://127.0.0.1:*", true)
	worker := peerSubscriber(t, keyed, cmds.URL(), false, "log.")
	spies := []*Subscriber{
		peerSubscriber(t, Peers{}, cmds.URL(), false, ""),
		peerSubscriber(t, other, cmds.URL(), false, ""),
		impostorSubscriber(t, k, cmds.URL()),
	}
	waitSubscribed(t, ctx, cmds, "log.w1")
	pump(t, ctx, cmds, nil, worker, spies, 20)
	if n := cmds.Subscriptions(""); n != 0 {
		t.Errorf("the bound publisher counts %d subscriptions to everything, want 0: outsiders joined", n)
	}
	eventually(t, "the impostor's refused handshake", func() bool { return cmds.RefusedHandshakes() >= 1 })
}
