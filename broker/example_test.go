package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
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
