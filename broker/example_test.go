package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
)

// A broker on free loopback ports, a worker publishing a log record and a
// client receiving it.
func Example() {
	b, err := broker.New(config.Server{
		CommandFrontendURL: "tcp://127.0.0.1:*",
		CommandBackendURL:  "tcp://127.0.0.1:*",
		LogFrontendURL:     "tcp://127.0.0.1:*",
		LogBackendURL:      "tcp://127.0.0.1:*",
	})
	if err != nil {
		log.Fatal(err)
	}
	go b.Serve()
	defer b.Close()
	addrs := b.Addrs() // bound on 127.0.0.1, so also the URLs to connect to

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := broker.NewSubscriber(addrs.LogBackendURL, "log.")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	worker, err := broker.NewPublisher(addrs.LogFrontendURL)
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()

	// Without this wait the record would most likely be dropped: the
	// client's subscription has not reached the worker yet.
	if err := worker.WaitSubscribed(ctx, "log.w1"); err != nil {
		log.Fatal(err)
	}
	if err := worker.Send("log.w1", []byte("info"), []byte("worker started")); err != nil {
		log.Fatal(err)
	}
	topic, parts, err := client.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s: %s\n", topic, parts[0], parts[1])
	// Output: log.w1 info: worker started
}

// With no broker, a client binds both channels and the workers connect to
// it: here a worker's command socket joins, the client sees it join
// (Subscriptions rises by one per worker) and sends it a command.
func ExampleBindPublisher() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	commands, err := broker.BindPublisher("tcp://127.0.0.1:*") // a free port: see URL
	if err != nil {
		log.Fatal(err)
	}
	defer commands.Close()
	replies, err := broker.BindSubscriber("tcp://127.0.0.1:*", "reply.")
	if err != nil {
		log.Fatal(err)
	}
	defer replies.Close()

	worker, err := broker.NewSubscriber(commands.URL(), "cmd")
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	if err := commands.WaitSubscribed(ctx, "cmd"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("workers joined:", commands.Subscriptions("cmd"))
	if err := commands.Send("cmd", []byte("ping")); err != nil {
		log.Fatal(err)
	}
	_, parts, err := worker.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("worker got %s\n", parts[0])

	// A second client cannot bind a channel the first one holds.
	_, err = broker.BindSubscriber(replies.URL())
	fmt.Println(errors.Is(err, broker.ErrAddrInUse))
	// Output:
	// workers joined: 1
	// worker got ping
	// true
}

// onLoopback binds every channel on a free loopback port.
var onLoopback = config.Server{
	CommandFrontendURL: "tcp://127.0.0.1:*",
	CommandBackendURL:  "tcp://127.0.0.1:*",
	LogFrontendURL:     "tcp://127.0.0.1:*",
	LogBackendURL:      "tcp://127.0.0.1:*",
}

// serveBroker serves a broker on free loopback ports, for the examples of
// the peers; stop closes it.
func serveBroker(opts ...broker.Option) (b *broker.Broker, stop func()) {
	b, err := broker.New(onLoopback, opts...)
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	return b, func() {
		b.Close()
		<-served
	}
}

// pair connects a publisher to a broker's log frontend and a subscriber
// to its log backend, and waits until the subscriber's last topic has
// reached the publisher (subscriptions travel in order).
func pair(b *broker.Broker, topics ...string) (*broker.Publisher, *broker.Subscriber) {
	sub, err := broker.NewSubscriber(b.Addrs().LogBackendURL, topics...)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := broker.NewPublisher(b.Addrs().LogFrontendURL)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.WaitSubscribed(ctx, topics[len(topics)-1]); err != nil {
		log.Fatal(err)
	}
	return pub, sub
}

// until polls cond for up to ten seconds.
func until(what string, cond func() bool) {
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			log.Fatalf("timed out waiting for %s", what)
		}
	}
}

// New checks the [server] URLs before binding anything: a mistake is a
// *config.Error naming the key.
func ExampleNew() {
	_, err := broker.New(config.Server{
		CommandFrontendURL: "tcp://127.0.0.1:*",
		CommandBackendURL:  "tcp://127.0.0.1:*",
		LogFrontendURL:     "inproc://logs",
		LogBackendURL:      "tcp://127.0.0.1:*",
	})
	var ce *config.Error
	fmt.Println(errors.As(err, &ce), ce.Key)

	b, err := broker.New(onLoopback)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	fmt.Println("bound")
	// Output:
	// true log_frontend_url
	// bound
}

// A URL another socket holds fails New with a *BindError, which matches
// ErrAddrInUse.
func ExampleBindError() {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer held.Close()
	cfg := onLoopback
	cfg.CommandBackendURL = "tcp://" + held.Addr().String()
	_, err = broker.New(cfg)
	var be *broker.BindError
	fmt.Println(errors.As(err, &be), be.Key, errors.Is(err, broker.ErrAddrInUse))
	// Output: true command_backend_url true
}

// Serve runs once: a second call is refused while it forwards, and it
// returns ErrClosed after Close.
func ExampleBroker_Serve() {
	b, err := broker.New(onLoopback)
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	pub, sub := pair(b, "log.") // forwarded, so Serve is running
	defer pub.Close()
	defer sub.Close()

	fmt.Println(b.Serve())
	b.Close()
	err = <-served
	fmt.Println(err, errors.Is(err, broker.ErrClosed))
	// Output:
	// broker: already running
	// broker: closed true
}

// Shutdown returns once every socket is closed, so the URLs can be bound
// again at once.
func ExampleBroker_Shutdown() {
	b, err := broker.New(onLoopback)
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(b.Shutdown(ctx))
	fmt.Println(errors.Is(<-served, broker.ErrClosed))
	again, err := broker.New(b.Addrs())
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	fmt.Println("bound the same URLs again")
	// Output:
	// <nil>
	// true
	// bound the same URLs again
}

// Close is Shutdown without a deadline. Closing again does nothing, and a
// closed broker does not serve.
func ExampleBroker_Close() {
	b, err := broker.New(onLoopback)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Close(), b.Close())
	fmt.Println(b.Serve())
	// Output:
	// <nil> <nil>
	// broker: closed
}

// Addrs tells the ports bound for port "*".
func ExampleBroker_Addrs() {
	b, err := broker.New(onLoopback)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	a := b.Addrs()
	for _, u := range []string{a.CommandFrontendURL, a.CommandBackendURL, a.LogFrontendURL, a.LogBackendURL} {
		port := strings.TrimPrefix(u, "tcp://127.0.0.1:")
		n, err := strconv.Atoi(port)
		fmt.Print(err == nil && n > 0, " ")
	}
	fmt.Println()
	// Output: true true true true
}

// Stats counts what each channel forwarded, down (messages) and up
// (subscriptions), and keeps the final counts after Close.
func ExampleBroker_Stats() {
	b, stop := serveBroker()
	pub, sub := pair(b, "log.")
	defer pub.Close()
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		if err := pub.Send("log.w1", []byte("hello")); err != nil {
			log.Fatal(err)
		}
		if _, _, err := sub.Recv(ctx); err != nil {
			log.Fatal(err)
		}
	}
	st := b.Stats()
	fmt.Printf("log down: %+v\n", st.Log.Down) // 3 × len("log.w1" + "hello")
	fmt.Printf("log up: %+v\n", st.Log.Up)     // "\x01log."
	fmt.Printf("command: %+v\n", st.Command)
	stop()
	fmt.Println(b.Stats() == st)
	// Output:
	// log down: {Messages:3 Bytes:33}
	// log up: {Messages:1 Bytes:5}
	// command: {Down:{Messages:0 Bytes:0} Up:{Messages:0 Bytes:0}}
	// true
}

// WithLogger logs when the broker starts serving (with its endpoints) and
// when it stops (with its counts).
func ExampleWithLogger() {
	onlyMessage := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key != slog.MessageKey {
			return slog.Attr{} // the ports and counts vary
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: onlyMessage}))
	b, stop := serveBroker(broker.WithLogger(logger))
	pub, sub := pair(b, "log.") // forwarded, so Serve has logged
	pub.Close()
	sub.Close()
	stop()
	// Output:
	// msg="broker serving"
	// msg="broker stopped"
}

// WithHWM bounds each socket's queue in the broker; 0 is no limit.
func ExampleWithHWM() {
	b, err := broker.New(onLoopback, broker.WithHWM(1000))
	if err != nil {
		log.Fatal(err)
	}
	b.Close()
	_, err = broker.New(onLoopback, broker.WithHWM(-1))
	fmt.Println(err)
	// Output: broker: high-water mark -1: must be 0 (no limit) or more
}

// A broker whose log records may carry large attributes raises the limit
// on message size; 0 is refused, since it would refuse every message.
func ExampleWithMaxMessageSize() {
	b, err := broker.New(onLoopback, broker.WithMaxMessageSize(4*broker.DefaultMaxMessageSize))
	if err != nil {
		log.Fatal(err)
	}
	b.Close()
	_, err = broker.New(onLoopback, broker.WithMaxMessageSize(0))
	fmt.Println(err)
	// Output: broker: maximum message size 0: must be -1 (no limit) or more than 0
}

// A Publisher may connect before the broker is up: it connects when the
// broker comes. Here the channels are Unix sockets, whose names are known
// before binding.
func ExampleNewPublisher() {
	dir, err := os.MkdirTemp("", "broker-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	url := func(name string) string { return "ipc://" + filepath.Join(dir, name) }
	pub, err := broker.NewPublisher(url("log-frontend")) // no broker yet
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()

	b, err := broker.New(config.Server{CommandFrontendURL: url("command-frontend"), CommandBackendURL: url("command-backend"),
		LogFrontendURL: url("log-frontend"), LogBackendURL: url("log-backend")})
	if err != nil {
		log.Fatal(err)
	}
	go b.Serve()
	defer b.Close()
	sub, err := broker.NewSubscriber(url("log-backend"), "log.")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.WaitSubscribed(ctx, "log.w1"); err != nil {
		log.Fatal(err)
	}
	if err := pub.Send("log.w1", []byte("connected late")); err != nil {
		log.Fatal(err)
	}
	_, parts, err := sub.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", parts[0])
	// Output: connected late
}

// A Subscriber receives the messages whose topic starts with one of its
// prefixes.
func ExampleNewSubscriber() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "a.", "b.")
	defer pub.Close()
	defer sub.Close()
	for _, topic := range []string{"a.1", "c.1", "b.1"} {
		if err := pub.Send(topic); err != nil {
			log.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		topic, _, err := sub.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(topic)
	}
	// Output:
	// a.1
	// b.1
}

// With no broker, the client binds the log channel and the workers'
// publishers connect to it. The client's subscription reaches a worker
// only while the Subscriber is in use: it sits in Recv.
func ExampleBindSubscriber() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logs, err := broker.BindSubscriber("tcp://127.0.0.1:*", "log.")
	if err != nil {
		log.Fatal(err)
	}
	defer logs.Close()
	got := make(chan string, 1)
	go func() {
		_, parts, err := logs.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		got <- string(parts[0])
	}()

	worker, err := broker.NewPublisher(logs.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	if err := worker.WaitSubscribed(ctx, "log.w1"); err != nil {
		log.Fatal(err)
	}
	if err := worker.Send("log.w1", []byte("worker started")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	// Output: worker started
}

// A message is a topic and any number of parts, which arrive together.
func ExamplePublisher_Send() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "reply.")
	defer pub.Close()
	defer sub.Close()
	if err := pub.Send("reply.c1", []byte("w1"), []byte("pong"), nil); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic, parts, err := sub.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %q\n", topic, parts)
	// Output: reply.c1 ["w1" "pong" ""]
}

// WaitSubscribed waits for a subscription to reach the Publisher, within
// ctx: what is sent before it arrives goes nowhere.
func ExamplePublisher_WaitSubscribed() {
	b, stop := serveBroker()
	defer stop()
	pub, err := broker.NewPublisher(b.Addrs().CommandFrontendURL)
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	fmt.Println(pub.WaitSubscribed(short, "cmd.ping")) // no worker yet

	worker, err := broker.NewSubscriber(b.Addrs().CommandBackendURL, "cmd.")
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println(pub.WaitSubscribed(ctx, "cmd.ping"))
	// Output:
	// context deadline exceeded
	// <nil>
}

// Subscribed tells, without waiting, whether a message on a topic would
// go anywhere now.
func ExamplePublisher_Subscribed() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "log.")
	defer pub.Close()
	fmt.Println(pub.Subscribed("log.w1"), pub.Subscribed("heartbeat.w1"))
	sub.Close()
	until("the subscription to go", func() bool { return !pub.Subscribed("log.w1") })
	fmt.Println(pub.Subscribed("log.w1"))
	// Output:
	// true false
	// false
}

// A Publisher made by BindPublisher counts the subscribers that join, so
// that a client with no broker can tell that a worker joined late.
func ExamplePublisher_Subscriptions() {
	commands, err := broker.BindPublisher("tcp://127.0.0.1:*")
	if err != nil {
		log.Fatal(err)
	}
	defer commands.Close()
	for range 2 {
		worker, err := broker.NewSubscriber(commands.URL(), "cmd")
		if err != nil {
			log.Fatal(err)
		}
		defer worker.Close()
	}
	until("both workers to join", func() bool { return commands.Subscriptions("cmd") == 2 })
	fmt.Println(commands.Subscriptions("cmd"), commands.Subscriptions("other"))
	// Output: 2 0
}

// URL of a Publisher that binds tells the port bound for "*".
func ExamplePublisher_URL() {
	pub, err := broker.BindPublisher("tcp://127.0.0.1:*")
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	fmt.Println(strings.HasPrefix(pub.URL(), "tcp://127.0.0.1:"), strings.HasSuffix(pub.URL(), ":*"))
	// Output: true false
}

// A closed Publisher refuses to send; closing again does nothing.
func ExamplePublisher_Close() {
	pub, err := broker.NewPublisher("tcp://127.0.0.1:9")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pub.Close())
	fmt.Println(errors.Is(pub.Send("log.w1"), broker.ErrClosed), pub.Close())
	// Output:
	// <nil>
	// true <nil>
}

// WithLinger(0) makes Close drop what is still queued instead of waiting
// for the broker, here one that is not there.
func ExampleWithLinger() {
	pub, err := broker.NewPublisher("tcp://127.0.0.1:9", broker.WithLinger(0))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pub.Close())
	// Output: <nil>
}

// WithSendHWM bounds the Publisher's queue; 0 is no limit.
func ExampleWithSendHWM() {
	pub, err := broker.NewPublisher("tcp://127.0.0.1:9", broker.WithSendHWM(1000))
	if err != nil {
		log.Fatal(err)
	}
	pub.Close()
	_, err = broker.NewPublisher("tcp://127.0.0.1:9", broker.WithSendHWM(-1))
	fmt.Println(err)
	// Output: broker: publisher: high-water mark -1: must be 0 (no limit) or more
}

// Subscribe adds a prefix to a Subscriber's, at any time.
func ExampleSubscriber_Subscribe() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "log.")
	defer pub.Close()
	defer sub.Close()
	if err := sub.Subscribe("heartbeat."); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.WaitSubscribed(ctx, "heartbeat.w1"); err != nil {
		log.Fatal(err)
	}
	if err := pub.Send("heartbeat.w1"); err != nil {
		log.Fatal(err)
	}
	topic, _, err := sub.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(topic)
	// Output: heartbeat.w1
}

// Unsubscribe removes a prefix; the publishers learn it through the
// broker.
func ExampleSubscriber_Unsubscribe() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "log.", "heartbeat.")
	defer pub.Close()
	defer sub.Close()
	if err := sub.Unsubscribe("heartbeat."); err != nil {
		log.Fatal(err)
	}
	until("the unsubscription to arrive", func() bool { return !pub.Subscribed("heartbeat.w1") })
	for _, topic := range []string{"heartbeat.w1", "log.w1"} {
		if err := pub.Send(topic); err != nil {
			log.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic, _, err := sub.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(topic)
	// Output: log.w1
}

// Recv waits for the next message within ctx.
func ExampleSubscriber_Recv() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "log.")
	defer pub.Close()
	defer sub.Close()

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := sub.Recv(short)
	fmt.Println(err) // nothing was sent

	if err := pub.Send("log.w1", []byte("info"), []byte("ready")); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic, parts, err := sub.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s: %s\n", topic, parts[0], parts[1])
	// Output:
	// context deadline exceeded
	// log.w1 info: ready
}

// URL of a Subscriber that binds tells the port bound for "*".
func ExampleSubscriber_URL() {
	sub, err := broker.BindSubscriber("tcp://127.0.0.1:*")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	fmt.Println(strings.HasPrefix(sub.URL(), "tcp://127.0.0.1:"), strings.HasSuffix(sub.URL(), ":*"))
	// Output: true false
}

// Closing a Subscriber takes its subscriptions away from the publishers.
func ExampleSubscriber_Close() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "log.")
	defer pub.Close()
	fmt.Println(sub.Close(), sub.Close())
	until("the subscription to go", func() bool { return !pub.Subscribed("log.w1") })
	_, _, err := sub.Recv(context.Background())
	fmt.Println(errors.Is(err, broker.ErrClosed))
	// Output:
	// <nil> <nil>
	// true
}

// exampleKey is a fresh cluster key, as glimpse-cluster keygen writes.
func exampleKey() *auth.Key {
	k, err := auth.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	return k
}

// quiet reports whether sub receives nothing for a while.
func quiet(sub *broker.Subscriber) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err := sub.Recv(ctx)
	return errors.Is(err, context.DeadlineExceeded)
}

// With a key, the broker's sockets are CURVE servers: peers made with the
// same key (broker.Peers) get through, a plain ZeroMQ peer reads nothing.
func ExampleWithKey() {
	key := exampleKey()
	b, stop := serveBroker(broker.WithKey(key))
	defer stop()
	peers := broker.Peers{Key: key}
	sub, err := peers.NewSubscriber(b.Addrs().LogBackendURL, "log.")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	outsider, err := broker.NewSubscriber(b.Addrs().LogBackendURL, "")
	if err != nil {
		log.Fatal(err)
	}
	defer outsider.Close()
	pub, err := peers.NewPublisher(b.Addrs().LogFrontendURL)
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.WaitSubscribed(ctx, "log.w1"); err != nil {
		log.Fatal(err)
	}
	pub.Send("log.w1", []byte("hello"))
	_, parts, err := sub.Recv(ctx)
	fmt.Printf("key holder: %s %v\n", parts[0], err)
	fmt.Println("outsider reads nothing:", quiet(outsider))
	// Output:
	// key holder: hello <nil>
	// outsider reads nothing: true
}

// Peers carries a process's settings for all its peers: the cluster key
// and the largest message it accepts. A bad limit is refused.
func ExamplePeers() {
	_, err := broker.Peers{MaxMessageSize: -2}.NewSubscriber("tcp://127.0.0.1:9")
	fmt.Println(err)
	// Output: broker: subscriber: maximum message size -2: must be -1 (no limit), 0 (the default) or more
}

// A publisher with another cluster's key never hears a subscription
// through a keyed broker, so whatever it sends goes nowhere.
func ExamplePeers_NewPublisher() {
	b, stop := serveBroker(broker.WithKey(exampleKey()))
	defer stop()
	pub, err := broker.Peers{Key: exampleKey()}.NewPublisher(b.Addrs().CommandFrontendURL)
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	fmt.Println(pub.WaitSubscribed(ctx, "cmd"))
	// Output: context deadline exceeded
}

// A subscriber with the broker's key receives what a key holder
// publishes.
func ExamplePeers_NewSubscriber() {
	key := exampleKey()
	b, stop := serveBroker(broker.WithKey(key))
	defer stop()
	peers := broker.Peers{Key: key}
	sub, err := peers.NewSubscriber(b.Addrs().CommandBackendURL, "cmd")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	pub, err := peers.NewPublisher(b.Addrs().CommandFrontendURL)
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.WaitSubscribed(ctx, "cmd"); err != nil {
		log.Fatal(err)
	}
	pub.Send("cmd", []byte("ping"))
	_, parts, err := sub.Recv(ctx)
	fmt.Printf("%s %v\n", parts[0], err)
	// Output: ping <nil>
}

// With no broker, a client with the key binds the command channel; only
// workers with the key join it.
func ExamplePeers_BindPublisher() {
	key := exampleKey()
	pub, err := broker.Peers{Key: key}.BindPublisher("tcp://127.0.0.1:*")
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	worker, err := broker.Peers{Key: key}.NewSubscriber(pub.URL(), "cmd")
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	outsider, err := broker.NewSubscriber(pub.URL(), "cmd")
	if err != nil {
		log.Fatal(err)
	}
	defer outsider.Close()
	until("the worker's subscription", func() bool { return pub.Subscriptions("cmd") >= 1 })
	time.Sleep(100 * time.Millisecond) // time for the outsider to try
	fmt.Println("subscribers:", pub.Subscriptions("cmd"))
	// Output: subscribers: 1
}

// With no broker, a client with the key binds the log channel; only
// workers with the key can publish to it.
func ExamplePeers_BindSubscriber() {
	key := exampleKey()
	sub, err := broker.Peers{Key: key}.BindSubscriber("tcp://127.0.0.1:*", "log.")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	worker, err := broker.Peers{Key: key}.NewPublisher(sub.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	forger, err := broker.NewPublisher(sub.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer forger.Close()
	for {
		forger.Send("log.w1", []byte("forged"))
		worker.Send("log.w1", []byte("real"))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, parts, err := sub.Recv(ctx) // a bound subscriber sends its subscriptions while in Recv
		cancel()
		if err == nil {
			fmt.Printf("%s\n", parts[0])
			break
		}
	}
	// Output: real
}

// A plain ZeroMQ peer fails the handshake in libzmq, before the ZAP
// handler: only CURVE peers without the cluster's client key are counted.
func ExamplePublisher_RefusedHandshakes() {
	pub, err := broker.Peers{Key: exampleKey()}.BindPublisher("tcp://127.0.0.1:*")
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	fmt.Println(pub.RefusedHandshakes())
	// Output: 0
}

// RefusedHandshakes is 0 for a Subscriber without a key.
func ExampleSubscriber_RefusedHandshakes() {
	sub, err := broker.BindSubscriber("tcp://127.0.0.1:*")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	fmt.Println(sub.RefusedHandshakes())
	// Output: 0
}
